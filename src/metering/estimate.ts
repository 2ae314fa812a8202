import { imageOutputTokens } from './image-tokens.js';
import { chatPromptTokens, responsesPromptTokens } from './prompt.js';
import { modelLimits, outputAllowance, type ModelLimits } from '../pricing/limits.js';
import { countTokens, EXACT_COUNT_LIMIT } from './tokenizer.js';
import { textOf } from './walk.js';
import { NO_TOKENS, type Usage } from './usage.js';

/**
 * Worst-case token estimate of a request, made before it is forwarded.
 *
 * Prompt tokens follow OpenAI's published rules: messages and input items by the cookbook "How to
 * count tokens with tiktoken" (src/metering/prompt-count.ts), function definitions by its
 * `num_tokens_for_tools` (tool-schema.ts), images by the vision guide's per-model rule
 * (image-tokens.ts). Approximations, documented in docs/budgets.md: audio and file parts count 0;
 * structured-output schemas count as their text; an image by URL counts its model's worst case.
 */
export interface RequestEstimate {
  /** Prompt tokens counted with gpt-tokenizer. */
  promptTokens: number;
  /** The request's own output ceiling × the number of choices, or undefined when it set none. */
  outputCeiling?: number;
  /**
   * The most the model can produce for this prompt (tokens; `outputAllowance`: its largest output,
   * capped by its context window less the prompt), held when the request set no ceiling.
   */
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

const positiveInt = (v: unknown): number | undefined =>
  typeof v === 'number' && Number.isSafeInteger(v) && v > 0 ? v : undefined;

/** Tokens of an embeddings or completions input: a string, strings, or pre-tokenised integer arrays (nested at most twice). */
function countInput(model: string, input: unknown): number {
  if (typeof input === 'string') return countTokens(model, input);
  if (!Array.isArray(input)) return 0;
  let sum = 0;
  const texts: string[] = [];
  for (const x of input) {
    if (typeof x === 'number') sum += 1;
    else if (typeof x === 'string') texts.push(x);
    else if (Array.isArray(x))
      for (const y of x) typeof y === 'string' ? texts.push(y) : typeof y === 'number' ? (sum += 1) : 0;
  }
  // Many inputs together past the exact-count limit are estimated as one text (see countTokens).
  const chars = texts.reduce((n, t) => n + t.length, 0);
  if (chars > EXACT_COUNT_LIMIT) return sum + countTokens(model, texts.join('\n'));
  for (const t of texts) sum += countTokens(model, t);
  return sum;
}

/**
 * Tokens of a structured-output format (Chat's `response_format`, Responses' `text.format`): the
 * text of its JSON schema, keys and values joined by newlines; its name and description are not
 * counted (OpenAI documents no formula; this matched the recorded structured-output chat exactly).
 */
function formatTokens(model: string, format: unknown): number {
  const f = format && typeof format === 'object' ? (format as Json) : undefined;
  if (!f || (f.type !== 'json_schema' && !f.json_schema && !f.schema)) return 0;
  const schema = (f.json_schema as Json | undefined) ?? f;
  return countTokens(model, textOf(schema.schema));
}

/**
 * Estimates a JSON request to one of the token-metered endpoints. `path` is the OpenAI path
 * (`/v1/chat/completions`, `/v1/completions`, `/v1/responses`, `/v1/embeddings`); `limits` the
 * model's context window and largest output (default: the built-in tables', see pricing/limits.ts).
 * `prompt`, when given, is taken as the prompt's tokens instead of counting them (a bound of them:
 * the prompt's count is most of an estimate's cost, everything else next to nothing).
 */
export function estimateRequest(
  path: string,
  model: string,
  body: Json,
  limits: ModelLimits = modelLimits(model, undefined),
  prompt?: number,
): RequestEstimate {
  switch (path) {
    case '/v1/chat/completions': {
      const n = positiveInt(body.n) ?? 1;
      const ceiling = positiveInt(body.max_completion_tokens) ?? positiveInt(body.max_tokens);
      const promptTokens =
        prompt ??
        chatPromptTokens(model, body.messages, body.tools ?? body.functions) +
          formatTokens(model, body.response_format);
      return {
        promptTokens,
        outputCeiling: ceiling && ceiling * n,
        modelMaxOutput: outputAllowance(limits, promptTokens),
        choices: n,
      };
    }
    case '/v1/completions': {
      // The legacy endpoint's max_tokens defaults to 16 (openai-openapi, CreateCompletionRequest).
      const choices = Math.max(positiveInt(body.n) ?? 1, positiveInt(body.best_of) ?? 1);
      const ceiling = positiveInt(body.max_tokens) ?? 16;
      const promptTokens = prompt ?? countInput(model, body.prompt);
      return {
        promptTokens,
        outputCeiling: ceiling * choices,
        modelMaxOutput: outputAllowance(limits, promptTokens),
        choices,
      };
    }
    case '/v1/responses': {
      const text = body.text && typeof body.text === 'object' ? (body.text as Json) : {};
      const promptTokens =
        prompt ??
        responsesPromptTokens(model, body.input, body.instructions, body.tools) + formatTokens(model, text.format);
      return {
        promptTokens,
        outputCeiling: positiveInt(body.max_output_tokens),
        modelMaxOutput: outputAllowance(limits, promptTokens),
        choices: 1,
      };
    }
    case '/v1/embeddings':
    case '/v1/moderations':
      return { promptTokens: prompt ?? countInput(model, body.input), outputCeiling: 0, modelMaxOutput: 0, choices: 1 };
    case '/v1/images/generations': {
      const n = positiveInt(body.n) ?? 1;
      const prompt = typeof body.prompt === 'string' ? countTokens(model, body.prompt) : 0;
      if (model.startsWith('dall-e'))
        return { promptTokens: 0, outputCeiling: 0, modelMaxOutput: 0, choices: n, units: imageUnits(model, body, n) };
      return {
        promptTokens: prompt,
        outputCeiling: n * imageOutputTokens(body.quality, body.size),
        modelMaxOutput: 0,
        choices: n,
      };
    }
    case '/v1/audio/speech': {
      const text = typeof body.input === 'string' ? body.input : '';
      if (model.startsWith('tts-1'))
        return {
          promptTokens: 0,
          outputCeiling: 0,
          modelMaxOutput: 0,
          choices: 1,
          units: { ...NO_TOKENS, characters: text.length },
        };
      const instructions = typeof body.instructions === 'string' ? body.instructions : '';
      // Audio out ≈ 1.4 tokens per input character: gpt-4o-mini-tts at OpenAI's estimated
      // $0.015/min and $12/1M audio tokens is 1,250 tokens/min, and speech runs ~15 characters/s.
      return {
        promptTokens: countTokens(model, `${instructions}\n${text}`),
        outputCeiling: Math.ceil(text.length * 1.4),
        modelMaxOutput: 0,
        choices: 1,
      };
    }
    default:
      return { promptTokens: 0, outputCeiling: 0, modelMaxOutput: 0, choices: 1 };
  }
}

/** DALL·E: `n` images at `<size>/<quality>` (defaults 1024x1024 and standard; DALL·E 2 has one quality). */
export function imageUnits(model: string, fields: Record<string, unknown>, n: number): Usage {
  const size = typeof fields.size === 'string' ? fields.size : '1024x1024';
  const quality = model === 'dall-e-3' && fields.quality === 'hd' ? 'hd' : 'standard';
  return { ...NO_TOKENS, images: n, imageKey: `${size}/${quality}` };
}
