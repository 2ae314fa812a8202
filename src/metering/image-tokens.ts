import { modelFamily } from './model.js';

/**
 * Prompt tokens of an input image, by the model's own rule. Source: OpenAI's vision guide
 * ("Images and vision", section "Calculating costs", https://platform.openai.com/docs/guides/images-vision),
 * read 2026-11-30 through a copy of the guide (openai-hd4n6.mintlify.app/docs/guides/images) and
 * https://github.com/openai/openai-python/issues/2851 (which models use which of the two systems):
 *
 * - Tile-based models: `detail: "low"` costs the base tokens; otherwise the image is scaled to fit
 *   in 2048×2048, then so that its shortest side is 768 px (never enlarged), and costs the base
 *   tokens plus the tile tokens for each 512-px square needed to cover it. Per model (base, tile):
 *   gpt-4o, gpt-4.1, gpt-4.5 and other GPT-4 vision models 85/170; gpt-4o-mini 2833/5667; o1,
 *   o1-pro, o3 75/150; computer-use-preview 65/129; gpt-5 and gpt-5-chat-latest 70/140.
 * - Patch-based models: the image is covered by 32×32 patches; beyond 1,536 patches it is scaled
 *   down to fit 1,536 (keeping the aspect ratio, then to whole patches), and the patches are
 *   multiplied by the model's multiplier: gpt-4.1-mini and gpt-5-mini 1.62, gpt-4.1-nano and
 *   gpt-5-nano 2.46, o4-mini 1.72. `detail` does not change the count.
 *
 * Checked against the recordings: a 640×480 PNG on gpt-4o-mini is 2833 + 2 × 5667 = 14,167 tokens
 * (recorded prompt 14,184 = that + 17 of text and message overhead).
 */
export interface ImageRule {
  kind: 'tiles' | 'patches';
  /** Tiles: tokens of the low-resolution pass; patches: unused (0). */
  base: number;
  /** Tiles: tokens per 512-px tile; patches: the multiplier. */
  perUnit: number;
}

const TILE_RULES: ReadonlyArray<[RegExp, ImageRule]> = [
  [/^gpt-4o-mini/, { kind: 'tiles', base: 2833, perUnit: 5667 }],
  [/^(gpt-4\.1-mini|gpt-5-mini)/, { kind: 'patches', base: 0, perUnit: 1.62 }],
  [/^(gpt-4\.1-nano|gpt-5-nano)/, { kind: 'patches', base: 0, perUnit: 2.46 }],
  [/^o4-mini/, { kind: 'patches', base: 0, perUnit: 1.72 }],
  [/^(o1|o3)(-pro)?$/, { kind: 'tiles', base: 75, perUnit: 150 }],
  [/^computer-use-preview/, { kind: 'tiles', base: 65, perUnit: 129 }],
  [/^gpt-5(-chat-latest)?$/, { kind: 'tiles', base: 70, perUnit: 140 }],
];
/** GPT-4o, GPT-4.1, GPT-4.5, GPT-4 Turbo and any model not listed: 85 base, 170 per tile. */
const DEFAULT_RULE: ImageRule = { kind: 'tiles', base: 85, perUnit: 170 };

/** The image rule of a model (by family; unknown models get the GPT-4o rule). */
export function imageRule(model: string): ImageRule {
  const family = modelFamily(model);
  return TILE_RULES.find(([re]) => re.test(family))?.[1] ?? DEFAULT_RULE;
}

const TILE = 512;
const PATCH = 32;
const MAX_PATCHES = 1536;

/** Tiles needed for a `width`×`height` image after the guide's two scalings (fit 2048², shortest side to ≤ 768). */
export function tileCount(width: number, height: number): number {
  let w = width;
  let h = height;
  if (w > 2048 || h > 2048) {
    const s = 2048 / Math.max(w, h);
    w = Math.floor(w * s);
    h = Math.floor(h * s);
  }
  const shortest = Math.min(w, h);
  if (shortest > 768) {
    const s = 768 / shortest;
    w = Math.floor(w * s);
    h = Math.floor(h * s);
  }
  return Math.ceil(w / TILE) * Math.ceil(h / TILE);
}

/** 32-px patches covering a `width`×`height` image, capped at 1,536 by the guide's scaling. */
export function patchCount(width: number, height: number): number {
  const raw = Math.ceil(width / PATCH) * Math.ceil(height / PATCH);
  if (raw <= MAX_PATCHES) return raw;
  const shrink = Math.sqrt((MAX_PATCHES * PATCH * PATCH) / (width * height));
  let w = width * shrink;
  let h = height * shrink;
  // Scale again so the width is a whole number of patches, as the guide's example does.
  const fit = Math.floor(w / PATCH) / (w / PATCH);
  w = Math.floor(w * fit);
  h = Math.floor(h * fit);
  return Math.min(MAX_PATCHES, Math.ceil(w / PATCH) * Math.ceil(h / PATCH));
}

/** The largest count a model's rule can give for an image of unknown size (tokens). */
export function worstImageTokens(model: string, detail: unknown): number {
  const rule = imageRule(model);
  if (rule.kind === 'patches') return Math.ceil(MAX_PATCHES * rule.perUnit);
  if (detail === 'low') return rule.base;
  // 2048×768 (or 768×2048) needs 4×2 tiles, the most any image can.
  return rule.base + 8 * rule.perUnit;
}

/**
 * Tokens of one image for `model`. `size` is the image's real dimensions when the request carries
 * its bytes; without it (an image by URL or file id) the rule's worst case is assumed, so the hold
 * covers any image (docs/budgets.md, "What a request holds"). `detail` `auto` or absent counts as `high`.
 */
export function imageTokens(
  model: string,
  detail: unknown,
  size: { width: number; height: number } | undefined,
): number {
  if (!size || size.width <= 0 || size.height <= 0) return worstImageTokens(model, detail);
  const rule = imageRule(model);
  if (rule.kind === 'patches') return Math.ceil(patchCount(size.width, size.height) * rule.perUnit);
  if (detail === 'low') return rule.base;
  return rule.base + tileCount(size.width, size.height) * rule.perUnit;
}

/**
 * gpt-image-1 output tokens of one image by quality and size (OpenAI image generation guide:
 * 1024×1024 low 272, medium 1056, high 4160; other sizes low 408, medium 1584, high 6240); `auto`
 * or unknown: the largest, 6240.
 */
export function imageOutputTokens(quality: unknown, size: unknown): number {
  const square = size === '1024x1024';
  switch (quality) {
    case 'low':
      return square ? 272 : 408;
    case 'medium':
      return square ? 1056 : 1584;
    case 'high':
      return square ? 4160 : 6240;
    default:
      return 6240;
  }
}
