import type { Usage } from '../metering/usage.js';

/**
 * The parts of a row's usage beyond its token columns, as the `requests.units` JSON text both
 * adapters write at settle: what a reconciliation with OpenAI's usage compares besides tokens
 * (src/reconcile/). Keys are snake_case, values integers (tokens, images, characters, seconds), and
 * only those present and non-zero are written; `batch` is `true` for work the Batch API ran.
 *
 * - `audio_input_tokens`, `image_input_tokens`: parts of `input_tokens`, cached ones included;
 *   `cached_audio_input_tokens`, `cached_image_input_tokens`: their cached parts.
 * - `audio_output_tokens`, `image_output_tokens`: parts of `output_tokens`.
 * - `images`, `characters`, `seconds`, `video_seconds`, `trained_tokens`: units priced per unit.
 */
export const UNIT_KEYS = {
  audio_input_tokens: 'audioInputTokens',
  cached_audio_input_tokens: 'cachedAudioInputTokens',
  audio_output_tokens: 'audioOutputTokens',
  image_input_tokens: 'imageInputTokens',
  cached_image_input_tokens: 'cachedImageInputTokens',
  image_output_tokens: 'imageOutputTokens',
  images: 'images',
  characters: 'characters',
  seconds: 'seconds',
  video_seconds: 'videoSeconds',
  trained_tokens: 'trainedTokens',
} as const satisfies Record<string, keyof Usage>;

const ENTRIES = Object.entries(UNIT_KEYS) as [string, keyof Usage][];

/**
 * The `units` JSON text of a usage (see `UNIT_KEYS`), or null when it has none: plain text usage
 * costs nothing to store. Called on every settle: a loop over a fixed list, no allocation for text.
 */
export function unitsJson(usage: Usage | undefined): string | null {
  if (!usage) return null;
  let out: Record<string, number | boolean> | undefined;
  for (let i = 0; i < ENTRIES.length; i++) {
    const [column, field] = ENTRIES[i]!;
    const v = usage[field];
    if (typeof v === 'number' && v > 0 && Number.isFinite(v)) (out ??= {})[column] = Math.round(v);
  }
  if (usage.batch) (out ??= {}).batch = true;
  return out ? JSON.stringify(out) : null;
}
