import type { PromptTokens } from '../ledger/port.js';

/** The endpoints whose prompt is text (and token arrays) only, so that its bytes bound its tokens. */
const TEXT_PROMPTS = new Set(['/v1/chat/completions', '/v1/completions', '/v1/responses', '/v1/embeddings']);
const IMAGE = Buffer.from('image');

/**
 * An upper bound of a JSON request's prompt tokens without tokenising it, or undefined when the
 * body gives none (it must be counted). Every token of a BPE encoding (o200k_base, cl100k_base)
 * covers at least one byte, so a text has at most as many tokens as UTF-8 bytes, and JSON writes
 * each text in at least as many bytes as it has (escapes only add). The counting rules
 * (metering/prompt-count.ts) add a few tokens per message, name, tool call and tool definition,
 * each fewer than the bytes of the JSON that carries it (`{"role":"user","content":""}` is 28 bytes
 * for 4 tokens), and 3 for the reply's priming. Images are the exception (an image by URL counts
 * its model's worst case whatever its bytes): a body that mentions `image` is counted.
 */
export function promptBound(path: string, raw: Uint8Array): number | undefined {
  if (!TEXT_PROMPTS.has(path)) return undefined;
  const bytes = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
  if (bytes.includes(IMAGE)) return undefined;
  return raw.byteLength + 3;
}

/**
 * A request's prompt tokens, counted at most once, when first asked: at admission when the hold
 * needs them, else by the ledger's `forwarded` mark should the request still be open, or to
 * estimate usage the upstream never reported. `extra` (a hidden context's tokens) is added.
 */
export class PromptCount implements PromptTokens {
  private counted: number | undefined;

  /**
   * @param count counts the prompt (gpt-tokenizer).
   * @param counted the count when it is already known.
   */
  constructor(
    private readonly count: () => number,
    counted?: number,
  ) {
    this.counted = counted;
  }

  /** The prompt has been counted. */
  get known(): boolean {
    return this.counted !== undefined;
  }

  tokens(): number {
    this.counted ??= this.count();
    return this.counted;
  }
}
