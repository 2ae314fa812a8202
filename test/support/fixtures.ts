import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** One recorded OpenAI exchange, as stored in ../shared/fixtures/openai-recorded (see its INDEX.md). */
export interface Recording {
  name: string;
  request: { method: string; path: string; headers: Record<string, string>; body: Record<string, unknown> | null };
  response: { status: number; headers: Record<string, string>; body?: unknown; body_text?: string };
  /** Test-only faults (synthetic recordings): cut the connection, or go silent, after this many pieces. */
  fault?: { resetAfter?: number; stallAfter?: number };
}

/** The recordings folder: `$TOLLGATE_FIXTURES`, else `shared/` beside the repository. */
export const FIXTURES_DIR =
  process.env.TOLLGATE_FIXTURES ?? fileURLToPath(new URL('../../../shared/fixtures/openai-recorded', import.meta.url));

/**
 * Loads every recording. Throws (failing the suite, never skipping it) when the folder is missing
 * or empty, so CI cannot pass without them.
 */
export function loadRecordings(): Recording[] {
  if (!existsSync(FIXTURES_DIR))
    throw new Error(
      `recordings not found at ${FIXTURES_DIR}: they live in ../shared/fixtures/openai-recorded (or set TOLLGATE_FIXTURES)`,
    );
  const files = readdirSync(FIXTURES_DIR)
    .filter((f) => f.endsWith('.json'))
    .sort();
  if (files.length === 0) throw new Error(`no recordings in ${FIXTURES_DIR}`);
  return files.map((f) => ({
    name: f.replace(/\.json$/, ''),
    ...(JSON.parse(readFileSync(join(FIXTURES_DIR, f), 'utf8')) as Omit<Recording, 'name'>),
  }));
}

/**
 * POSTs recording `rec`'s request to `baseUrl` (a running tollgate) with `credential` as its bearer
 * token and `x-test-recording` naming the exchange the fake upstream replays; `body` replaces the
 * recorded body, `headers` adds headers. The response is returned unread.
 */
export function postRecording(
  baseUrl: string,
  rec: Recording,
  credential: string,
  opts: { body?: unknown; headers?: Record<string, string> } = {},
): Promise<Response> {
  return fetch(`${baseUrl}${rec.request.path}`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${credential}`,
      'content-type': 'application/json',
      'x-test-recording': rec.name,
      ...opts.headers,
    },
    body: JSON.stringify(opts.body ?? rec.request.body),
  });
}

/** The `data:` payloads of an SSE text, in order (`[DONE]` included as the string). */
export function sseData(text: string): string[] {
  return text
    .split(/\n\n/)
    .map((block) =>
      block
        .split('\n')
        .filter((l) => l.startsWith('data:'))
        .map((l) => l.slice(l.startsWith('data: ') ? 6 : 5))
        .join('\n'),
    )
    .filter((d) => d.length > 0);
}
