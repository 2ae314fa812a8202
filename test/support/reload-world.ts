import { join } from 'node:path';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { FakeUpstream } from './fake-upstream.js';
import { startFromFile, type ConfigJson, type FileTollgate } from './config-file.js';
import { loadRecordings } from './fixtures.js';

/**
 * The config reload tests' world (test/reload*.test.ts): a fake upstream answering every request
 * with a recorded chat completion, and tollgates started from config files against it, each closed
 * after its test.
 *
 * A test file calls `useReloadWorld()` at its top; `upstream` is then that file's fake upstream
 * (each file starts its own).
 */
const recordings = new Map(loadRecordings().map((r) => [r.name, r]));
const chat = recordings.get('chat-nonstream-01')!;
/** The body of every chat completion the tests send (the recorded request, capped at 5 output tokens). */
export const body = JSON.stringify({ ...(chat.request.body as object), max_tokens: 5 });
/** How to run the `tollgate` command line from source: node's arguments before the command's own. */
export const CLI = ['--import', 'tsx', join(import.meta.dirname, '../../src/cli.ts')];

/** The fake upstream (started before the file's tests by `useReloadWorld`). */
export let upstream: FakeUpstream;
const open: FileTollgate[] = [];

/** Starts the fake upstream, answering with the recorded chat completion. */
async function startReloadWorld(): Promise<void> {
  upstream = await new FakeUpstream(recordings).start();
  upstream.next = chat;
  upstream.delayMs = 1;
}

/** Closes the tollgates the test started and forgets what the upstream saw. */
async function resetReloadWorld(): Promise<void> {
  for (const t of open.splice(0)) await t.close();
  upstream.reset();
}

/** Stops the fake upstream. */
async function stopReloadWorld(): Promise<void> {
  await upstream?.close();
}

/** Registers the file's hooks: the fake upstream started before all tests, the tollgates closed after each, the upstream stopped after all. */
export function useReloadWorld(): void {
  beforeAll(startReloadWorld);
  afterEach(resetReloadWorld);
  afterAll(stopReloadWorld);
}

/** Starts tollgate from a config file made by `config` against the fake upstream, watching the file unless `watch` is false; closed after the test. */
export async function start(
  config: Parameters<typeof startFromFile>[0]['config'],
  watch = true,
): Promise<FileTollgate> {
  const t = await startFromFile({ upstreamUrl: upstream.url, config, watch });
  open.push(t);
  return t;
}

/**
 * Starts tollgate (see `start`) from a config of `companies`, each named after its id capitalised
 * ("acme" → "Acme"), with a key of every id in `keys` and the `allocations` given: the tollgate, and
 * the config it was started from, which a test edits and writes back.
 */
export async function startCompanies(
  companies: Record<string, { keys: string[]; allocations: ConfigJson[] }>,
  watch = true,
): Promise<{ t: FileTollgate; config: ConfigJson }> {
  let config!: ConfigJson;
  const t = await start(
    ({ key }) =>
      (config = {
        companies: Object.fromEntries(
          Object.entries(companies).map(([id, c]) => [
            id,
            {
              name: id[0]!.toUpperCase() + id.slice(1),
              keys: c.keys.map((k) => key({ id: k })),
              allocations: c.allocations,
            },
          ]),
        ),
      }),
    watch,
  );
  return { t, config };
}

/** Sends the chat completion with `key`. */
export function send(t: FileTollgate, key: string): Promise<Response> {
  return fetch(`${t.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body,
  });
}

/** Sends the chat completion with `key`: the HTTP status, and the OpenAI error when refused. */
export async function status(
  t: FileTollgate,
  key: string,
): Promise<{ status: number; error?: { code: string; message: string } }> {
  const res = await send(t, key);
  const json = (await res.json()) as { error?: { code: string; message: string } };
  return { status: res.status, error: json.error };
}
