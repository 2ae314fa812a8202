import { countTokens, EXACT_COUNT_LIMIT, maxOutputTokens } from './tokenizer.js';
import { NO_TOKENS, type Usage } from './usage.js';

/**
 * Worst-case token estimate of a request, made before it is forwarded.
 *
 * Prompt tokens follow OpenAI's cookbook ("How to count tokens with tiktoken"): 3 tokens of
 * overhead per message or input item, 1 per `name`, 3 to prime the reply, plus the tokens of every
 * text the request carries. Approximations, documented in the README:
 * - an image part counts 85 tokens at `detail: "low"`, else 765 (a 1024×1024 high-detail image);
 * - an audio or file part counts 0 (its tokens are unknown before the upstream reports them);
 * - tools and response formats count as the tokens of their JSON text.
 */
export interface RequestEstimate {
  /** Prompt tokens counted with gpt-tokenizer. */
  promptTokens: number;
  /** The request's own output ceiling × the number of choices, or undefined when it set none. */
  outputCeiling?: number;
  /** The model's largest possible output (tokens), used when the request set no ceiling. */
  modelMaxOutput: number;
  /** How many outputs the ceiling applies to (`n`, `best_of`), for spreading a clamped ceiling. */
  choices: number;
  /**
   * For requests priced per unit rather than per token — DALL·E images (`images` of `imageKey`),
   * tts-1 characters — the units the request will be charged, known before it is sent.
   */
  units?: Usage;
}

type Json = Record<string, unknown>;

const MESSAGE_OVERHEAD = 3;
const REPLY_PRIMING = 3;
const IMAGE_LOW = 85;
const IMAGE_HIGH = 765;
/** Keys whose string values are identifiers or enums, not text the model reads. */
const NON_TEXT_KEYS = new Set(['type', 'role', 'id', 'call_id', 'detail', 'format', 'file_id', 'status', 'image_url', 'file_data', 'data']);

const positiveInt = (v: unknown): number | undefined => (typeof v === 'number' && Number.isSafeInteger(v) && v > 0 ? v : undefined);

/**
 * Collects the text a value carries and counts fixed tokens for the parts that are not text.
 * Iterative (an explicit stack, in document order), so no body can overflow the call stack.
 */
function walk(root: unknown, texts: string[], fixed: { tokens: number }): void {
  const stack: unknown[] = [root];
  while (stack.length) {
    const value = stack.pop();
    if (typeof value === 'string') {
      texts.push(value);
    } else if (Array.isArray(value)) {
      for (let i = value.length - 1; i >= 0; i--) stack.push(value[i]);
    } else if (value && typeof value === 'object') {
      const o = value as Json;
      if (o.type === 'image_url' || o.type === 'input_image') {
        const detail = (o.image_url as Json | undefined)?.detail ?? o.detail;
        fixed.tokens += detail === 'low' ? IMAGE_LOW : IMAGE_HIGH;
        continue;
      }
      const entries = Object.entries(o);
      for (let i = entries.length - 1; i >= 0; i--) {
        const [k, v] = entries[i]!;
        if (k === 'name' && typeof v === 'string') fixed.tokens += 1;
        if (!NON_TEXT_KEYS.has(k)) stack.push(v);
      }
    }
  }
}

function countValue(model: string, value: unknown, perItem: number): number {
  const texts: string[] = [];
  const fixed = { tokens: 0 };
  const items = Array.isArray(value) ? value : [value];
  for (const item of items) walk(item, texts, fixed);
  return countTokens(model, texts.join('\n')) + fixed.tokens + perItem * items.length;
}

/** Tokens of an embeddings or completions input: a string, strings, or pre-tokenised integer arrays (nested at most twice). */
function countInput(model: string, input: unknown): number {
  if (typeof input === 'string') return countTokens(model, input);
  if (!Array.isArray(input)) return 0;
  let sum = 0;
  const texts: string[] = [];
  for (const x of input) {
    if (typeof x === 'number') sum += 1;
    else if (typeof x === 'string') texts.push(x);
    else if (Array.isArray(x)) for (const y of x) typeof y === 'string' ? texts.push(y) : typeof y === 'number' ? (sum += 1) : 0;
  }
  // Many inputs together past the exact-count limit are estimated as one text (see countTokens).
  const chars = texts.reduce((n, t) => n + t.length, 0);
  if (chars > EXACT_COUNT_LIMIT) return sum + countTokens(model, texts.join('\n'));
  for (const t of texts) sum += countTokens(model, t);
  return sum;
}

const jsonTokens = (model: string, v: unknown) => (v === undefined ? 0 : countTokens(model, JSON.stringify(v)));

/**
 * Estimates a JSON request to one of the token-metered endpoints. `path` is the OpenAI path
 * (`/v1/chat/completions`, `/v1/completions`, `/v1/responses`, `/v1/embeddings`).
 */
export function estimateRequest(path: string, model: string, body: Json): RequestEstimate {
  const modelMaxOutput = maxOutputTokens(model);
  switch (path) {
    case '/v1/chat/completions': {
      const n = positiveInt(body.n) ?? 1;
      const ceiling = positiveInt(body.max_completion_tokens) ?? positiveInt(body.max_tokens);
      return {
        promptTokens: countValue(model, body.messages, MESSAGE_OVERHEAD) + REPLY_PRIMING + jsonTokens(model, body.tools ?? body.functions) + jsonTokens(model, body.response_format),
        outputCeiling: ceiling && ceiling * n,
        modelMaxOutput,
        choices: n,
      };
    }
    case '/v1/completions': {
      // The legacy endpoint's max_tokens defaults to 16 (openai-openapi, CreateCompletionRequest).
      const choices = Math.max(positiveInt(body.n) ?? 1, positiveInt(body.best_of) ?? 1);
      const ceiling = positiveInt(body.max_tokens) ?? 16;
      return { promptTokens: countInput(model, body.prompt), outputCeiling: ceiling * choices, modelMaxOutput, choices };
    }
    case '/v1/responses': {
      const instructions = typeof body.instructions === 'string' ? countTokens(model, body.instructions) + MESSAGE_OVERHEAD : 0;
      return {
        promptTokens: instructions + countValue(model, body.input ?? '', MESSAGE_OVERHEAD) + REPLY_PRIMING + jsonTokens(model, body.tools) + jsonTokens(model, body.text),
        outputCeiling: positiveInt(body.max_output_tokens),
        modelMaxOutput,
        choices: 1,
      };
    }
    case '/v1/embeddings':
    case '/v1/moderations':
      return { promptTokens: countInput(model, body.input), outputCeiling: 0, modelMaxOutput: 0, choices: 1 };
    case '/v1/images/generations': {
      const n = positiveInt(body.n) ?? 1;
      const prompt = typeof body.prompt === 'string' ? countTokens(model, body.prompt) : 0;
      if (model.startsWith('dall-e')) return { promptTokens: 0, outputCeiling: 0, modelMaxOutput: 0, choices: n, units: imageUnits(model, body, n) };
      return { promptTokens: prompt, outputCeiling: n * imageOutputTokens(body), modelMaxOutput: 0, choices: n };
    }
    case '/v1/audio/speech': {
      const text = typeof body.input === 'string' ? body.input : '';
      if (model.startsWith('tts-1')) return { promptTokens: 0, outputCeiling: 0, modelMaxOutput: 0, choices: 1, units: { ...NO_TOKENS, characters: text.length } };
      const instructions = typeof body.instructions === 'string' ? body.instructions : '';
      // Audio out ≈ 1.4 tokens per input character: gpt-4o-mini-tts at OpenAI's estimated
      // $0.015/min and $12/1M audio tokens is 1,250 tokens/min, and speech runs ~15 characters/s.
      return { promptTokens: countTokens(model, `${instructions}\n${text}`), outputCeiling: Math.ceil(text.length * 1.4), modelMaxOutput: 0, choices: 1 };
    }
    default:
      return { promptTokens: 0, outputCeiling: 0, modelMaxOutput: 0, choices: 1 };
  }
}

/**
 * gpt-image-1 output tokens per image by quality and size (OpenAI image generation guide: 1024×1024
 * low 272, medium 1056, high 4160; 1024×1536 and 1536×1024 low 408, medium 1584, high 6240 or 6208).
 * `auto` or unknown quality or size: the largest, 6240.
 */
function imageOutputTokens(body: Json): number {
  const square = body.size === '1024x1024';
  switch (body.quality) {
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

/** DALL·E: `n` images at `<size>/<quality>` (defaults 1024x1024 and standard; DALL·E 2 has one quality). */
export function imageUnits(model: string, fields: Record<string, unknown>, n: number): Usage {
  const size = typeof fields.size === 'string' ? fields.size : '1024x1024';
  const quality = model === 'dall-e-3' && fields.quality === 'hd' ? 'hd' : 'standard';
  return { ...NO_TOKENS, images: n, imageKey: `${size}/${quality}` };
}
