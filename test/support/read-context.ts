import type { FileEstimate } from '../../src/ledger/port.js';
import { parseConfig } from '../../src/config/load.js';
import type { DeferredHandler, ReadContext } from '../../src/settlement/handler.js';
import type { UpstreamReader } from '../../src/settlement/kinds.js';

/** What the deferred handlers' tests give a handler to read with, as the settler would. */

/**
 * An UpstreamReader serving files from a map, recording every path asked for: a string is the
 * file's content (200), a number the status it answers, an Error what the GET rejects with; a file
 * not in the map answers 404.
 */
export function fakeReader(files: Record<string, string | number | Error>): UpstreamReader & { asked: string[] } {
  const asked: string[] = [];
  return {
    asked,
    async get(path) {
      asked.push(path);
      const id = /^\/v1\/files\/([^/]+)\/content$/.exec(path)?.[1];
      const file = id && id in files ? files[id]! : 404;
      if (file instanceof Error) throw file;
      return typeof file === 'string' ? { status: 200, text: file } : { status: file, text: '{}' };
    },
  };
}

/** The deferred row a handler reads for (a batch over one model unless `model` is null). */
export const ROW = {
  id: 'obj_1',
  kind: 'batch' as const,
  requestId: 'req_1',
  companyId: 'acme',
  model: null,
  multiplier: 1,
  promptTokens: 0,
  subject: 'key:acme-key',
  deferredAt: '2026-11-30T00:00:00.000Z',
  nextPollAt: '2026-11-30T00:00:00.000Z',
  polls: 0,
  misses: 0,
};

/** Reads `object` with `handler` as the settler would, from `reader`, for `row` (ROW by default), with the input files `files`. */
export const readWith = (
  handler: DeferredHandler,
  object: Record<string, unknown>,
  reader: UpstreamReader = fakeReader({}),
  over: Partial<Omit<ReadContext, 'row' | 'fileEstimate'>> & {
    row?: Partial<ReadContext['row']>;
    files?: Record<string, FileEstimate>;
  } = {},
) =>
  handler.read(object, {
    upstream: reader,
    row: { ...ROW, ...over.row },
    fileEstimate: async (id) => over.files?.[id],
    admission: parseConfig({ companies: {} }).admission,
    overdue: over.overdue ?? false,
  });

/** tollgate's estimate of an input file (a batch's or a training file): model → [lines, prompt tokens, max tokens]. */
export const inputFile = (
  models: Record<string, [number, number, number]>,
  purpose: 'batch' | 'fine-tune' = 'batch',
): FileEstimate => ({
  fileId: 'in',
  companyId: 'acme',
  purpose,
  requestId: 'req_0',
  createdAt: '2026-11-30T00:00:00.000Z',
  lines: Object.values(models).reduce((n, [l]) => n + l, 0),
  unusable: null,
  models: Object.entries(models).map(([model, [lines, promptTokens, maxTokens]]) => ({
    model,
    lines,
    promptTokens,
    maxTokens,
  })),
});
