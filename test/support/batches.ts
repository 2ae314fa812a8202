import { type OpenAI, toFile } from 'openai';
import { DeferredUpstream } from './deferred-upstream.js';
import { startTollgate, TEST_PRICES, type Tollgate, type TollgateOptions } from './harness.js';
import { ScriptedUpstream } from './scripted-upstream.js';

/**
 * Batches through tollgate for the deferred-work tests: a batch input line, a batch created from
 * lines, and a tollgate in front of a {@link DeferredUpstream} that runs such objects.
 */

/**
 * One line of a Batch API input file (JSONL, https://platform.openai.com/docs/guides/batch): a chat
 * completion of `model` with custom id `r<i>`, asking `question <i>`, at most 20 output tokens.
 */
export const batchLine = (i: number, model: string): string =>
  JSON.stringify({
    custom_id: `r${i}`,
    method: 'POST',
    url: '/v1/chat/completions',
    body: { model, messages: [{ role: 'user', content: `question ${i}` }], max_tokens: 20 },
  });

/**
 * Uploads `lines` as a batch input file (`in.jsonl`, purpose `batch`) and creates a 24-hour batch of
 * chat completions on it, both through the SDK `client`. Resolves to the created batch; throws the
 * SDK's error if either call is refused.
 */
export async function createBatch(client: OpenAI, lines: string[]): Promise<OpenAI.Batches.Batch> {
  const file = await client.files.create({
    file: await toFile(Buffer.from(`${lines.join('\n')}\n`), 'in.jsonl'),
    purpose: 'batch',
  });
  return client.batches.create({
    input_file_id: file.id,
    endpoint: '/v1/chat/completions',
    completion_window: '24h',
  });
}

/**
 * Uploads a one-example chat training file (`t.jsonl`, purpose `fine-tune`) and creates a
 * fine-tuning job of `gpt-4o-mini` on it for 3 epochs, both through the SDK `client`. Resolves to
 * the created job; throws the SDK's error if either call is refused.
 */
export async function createFineTuningJob(client: OpenAI): Promise<OpenAI.FineTuning.Jobs.FineTuningJob> {
  const example = {
    messages: [
      { role: 'user', content: 'hi' },
      { role: 'assistant', content: 'hello' },
    ],
  };
  const file = await client.files.create({
    file: await toFile(Buffer.from(`${JSON.stringify(example)}\n`), 't.jsonl'),
    purpose: 'fine-tune',
  });
  return client.fineTuning.jobs.create({
    model: 'gpt-4o-mini',
    training_file: file.id,
    hyperparameters: { n_epochs: 3 },
  });
}

/** A tollgate in front of a {@link DeferredUpstream}, and how to stop both. */
export interface DeferredSetup {
  upstream: ScriptedUpstream;
  fake: DeferredUpstream;
  tollgate: Tollgate;
  close(): Promise<void>;
}

/**
 * Starts a fake upstream running batches, fine-tuning jobs and videos ({@link DeferredUpstream}) and
 * tollgate in front of it with the config's `settlement` section as given, `gpt-4o-mini` priced for
 * training at $3 / 1M tokens, and company `acme` holding 10 000 000 tokens (`acme-tokens`) and
 * $100 (`acme-usd`); `extra` sets tollgate's clock and admission settings.
 */
export async function startDeferredTollgate(
  settlement: Record<string, unknown>,
  extra: Pick<TollgateOptions, 'clock' | 'admission'> = {},
): Promise<DeferredSetup> {
  const upstream = await new ScriptedUpstream().start();
  const fake = new DeferredUpstream();
  upstream.script = fake.handle;
  const tollgate = await startTollgate({
    upstreamUrl: upstream.url,
    settlement,
    ...extra,
    prices: { 'gpt-4o-mini': { ...TEST_PRICES['gpt-4o-mini'], training: 3 } },
    companies: {
      acme: {
        allocations: [
          { id: 'acme-tokens', tokens: 10_000_000 },
          { id: 'acme-usd', usd: 100 },
        ],
      },
    },
  });
  return {
    upstream,
    fake,
    tollgate,
    async close() {
      await tollgate.close();
      await upstream.close();
    },
  };
}

/** A settler that looks every 20 ms, polling each object 5 ms after deferral, then every ≤ 20 ms. */
export const FAST_SETTLEMENT = { pollIntervalMs: 20, firstPollMs: 5, maxPollMs: 20 };

/** The `index`-th row (in arrival order) of `t`'s requests to `endpoint`. */
export const rowFor = (t: Tollgate, endpoint: string, index: number) =>
  t.query('SELECT * FROM requests WHERE endpoint = ? ORDER BY id', endpoint)[index]!;

/** A condition for `waitUntil`: `t` has more than `n` requests to `endpoint` and the `n`-th is no longer held. */
export const finished = (t: Tollgate, endpoint: string, n: number) => () => {
  const rows = t.query('SELECT status FROM requests WHERE endpoint = ? ORDER BY id', endpoint);
  return rows.length > n && rows[n]!.status !== 'held';
};
