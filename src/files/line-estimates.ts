import type { Config } from '../config/schema.js';
import { isDenial } from '../http/denial.js';
import type { FileModelEstimate } from '../ledger/port.js';
import { estimateRequest } from '../metering/estimate.js';
import { modelLimits } from '../pricing/limits.js';
import { chatMessagesTokens, REPLY_PRIMING } from '../metering/prompt-count.js';
import { countTokens } from '../metering/tokenizer.js';
import { toolDefinitionTokens } from '../metering/tool-schema.js';
import { holdRequest, validateBody } from '../proxy/admit-json.js';
import { beyondPrompt, type PriceLookup } from '../proxy/worst-case.js';

/**
 * Per-line estimates of the two kinds of input file tollgate reads as they are uploaded. Each
 * estimator takes the file's lines one at a time (already parsed JSON objects, numbered from 1),
 * adds them up per model, and stops at the first line it cannot use, naming it.
 */

type Json = Record<string, unknown>;

/** The endpoints a batch line may call, estimated as a live request to them would be (OpenAI Batch guide). */
export const BATCH_URLS: ReadonlySet<string> = new Set([
  '/v1/chat/completions',
  '/v1/completions',
  '/v1/responses',
  '/v1/embeddings',
  '/v1/moderations',
]);

/**
 * The model training examples are counted for: the upload does not say which model they will train,
 * and every model OpenAI fine-tunes today (gpt-4o, gpt-4o-mini, gpt-4.1 and its mini and nano)
 * uses the o200k_base encoding that this name selects.
 */
export const TRAINING_COUNT_MODEL = 'gpt-4o-mini';

/** Adds lines up per model and remembers the first line that could not be used. */
/** One line's model and tokens, or why it cannot be estimated. */
type LineRead = { model: string; promptTokens: number; maxTokens: number } | string;

abstract class Totals {
  private readonly byModel = new Map<string, FileModelEstimate>();
  /** Why the file cannot be used (`line 3: …`), once a line failed. */
  unusable: string | null = null;

  /** Reads line `n`; after a failure, further lines are ignored. */
  add(line: Json, n: number): void {
    if (this.unusable !== null) return;
    const got = this.read(line);
    if (typeof got === 'string') this.unusable = `line ${n}: ${got}`;
    else {
      const t = this.byModel.get(got.model) ?? { model: got.model, lines: 0, promptTokens: 0, maxTokens: 0 };
      t.lines += 1;
      t.promptTokens += got.promptTokens;
      t.maxTokens += got.maxTokens;
      this.byModel.set(got.model, t);
    }
  }

  /** Marks the file unusable for a reason found outside a line's content (too long, not JSON). */
  fail(reason: string): void {
    this.unusable ??= reason;
  }

  /** The estimate per model, empty once unusable. */
  models(): FileModelEstimate[] {
    return this.unusable === null ? [...this.byModel.values()] : [];
  }

  /** The line's model and tokens, or why it cannot be estimated. */
  protected abstract read(line: Json): LineRead;
}

/**
 * A batch input file (`purpose: batch`): each line `{custom_id, method, url, body}` is estimated as
 * a live request to `url` would be — prompt tokens (estimate.ts), plus its output ceiling, or the
 * no-ceiling policy's (`clamp`: the model's largest output; `default`: `defaultMaxOutputTokens`),
 * plus the built-in tools' allowance (worst-case.ts) — through admission's own `holdRequest`.
 */
export class BatchLines extends Totals {
  constructor(
    private readonly admission: Config['admission'],
    private readonly priceOf: PriceLookup,
  ) {
    super();
  }

  protected read(line: Json): LineRead {
    const { url, body } = line;
    if (typeof url !== 'string' || !BATCH_URLS.has(url))
      return `"url" must be one of ${[...BATCH_URLS].join(', ')} (got ${String(JSON.stringify(url) ?? 'nothing').slice(0, 80)})`;
    if (!body || typeof body !== 'object' || Array.isArray(body)) return '"body" must be a JSON object';
    const valid = validateBody(body as Json, { free: url === '/v1/moderations' });
    if (isDenial(valid)) return ('message' in valid && valid.message) || 'invalid body';
    const model = valid.model;
    const priced = this.priceOf(model);
    const estimate = estimateRequest(url, model, body as Json, modelLimits(model, priced));
    const beyond = beyondPrompt(this.priceOf, url, model, body as Json, priced?.price);
    const want = holdRequest(estimate, priced, 1, this.admission, beyond.toolTokens + beyond.feeTokens);
    return { model, promptTokens: estimate.promptTokens, maxTokens: want.maxTokens };
  }
}

/**
 * A fine-tuning training file (`purpose: fine-tune`): each example's tokens, counted as the chat
 * prompt counter counts them (`chatMessagesTokens` + function definitions): chat format
 * `{messages, tools?}`, preference format `{input: {messages, tools?}, preferred_output,
 * non_preferred_output}` (both outputs trained on), or the legacy `{prompt, completion}`. An
 * example's tokens are both its `promptTokens` and its `maxTokens`; a job multiplies them by its epochs.
 */
export class TrainingLines extends Totals {
  protected read(line: Json): LineRead {
    const m = TRAINING_COUNT_MODEL;
    const input = line.input && typeof line.input === 'object' ? (line.input as Json) : undefined;
    let tokens: number;
    if (Array.isArray(line.messages))
      tokens = chatMessagesTokens(m, line.messages) + toolDefinitionTokens(m, line.tools ?? line.functions);
    else if (input && Array.isArray(input.messages))
      tokens =
        chatMessagesTokens(m, input.messages) +
        toolDefinitionTokens(m, input.tools) +
        chatMessagesTokens(m, line.preferred_output) +
        chatMessagesTokens(m, line.non_preferred_output);
    else if (typeof line.prompt === 'string' && typeof line.completion === 'string')
      tokens = countTokens(m, line.prompt) + countTokens(m, line.completion);
    else return 'not a training example: expected "messages", "input.messages" or "prompt" and "completion"';
    tokens += REPLY_PRIMING;
    return { model: m, promptTokens: tokens, maxTokens: tokens };
  }
}
