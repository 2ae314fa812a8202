import type { ObjectKind } from '../ledger/port.js';

/**
 * The object families of OpenAI's API whose objects belong to whoever created them (source:
 * openai/openai-openapi paths). Each lives under one collection path: `POST <base>` creates,
 * `GET <base>` lists (when `list`), and every path below `<base>/{id}` (retrieve, update, delete,
 * cancel, content, sub-resources such as a vector store's files or an eval's runs) acts on `{id}`.
 */
export interface Family {
  kind: ObjectKind;
  /** The collection path, e.g. `/v1/files`. */
  base: string;
  /** The name OpenAI's 404 uses (`No such File object: …`). */
  label: string;
  /** `GET <base>` lists the objects (filtered per company). */
  list: boolean;
  /** `POST <base>` creates one (recorded from the answer). False where creation is a metered call handled elsewhere. */
  create: boolean;
}

export const FAMILIES: readonly Family[] = [
  { kind: 'file', base: '/v1/files', label: 'File', list: true, create: true },
  { kind: 'upload', base: '/v1/uploads', label: 'Upload', list: false, create: true },
  { kind: 'batch', base: '/v1/batches', label: 'Batch', list: true, create: true },
  { kind: 'response', base: '/v1/responses', label: 'Response', list: false, create: true },
  { kind: 'chat.completion', base: '/v1/chat/completions', label: 'ChatCompletion', list: true, create: true },
  { kind: 'fine_tuning.job', base: '/v1/fine_tuning/jobs', label: 'FineTuningJob', list: true, create: true },
  { kind: 'model', base: '/v1/fine_tuning/checkpoints', label: 'Model', list: false, create: false },
  { kind: 'vector_store', base: '/v1/vector_stores', label: 'VectorStore', list: true, create: true },
  { kind: 'conversation', base: '/v1/conversations', label: 'Conversation', list: false, create: true },
  { kind: 'container', base: '/v1/containers', label: 'Container', list: true, create: true },
  { kind: 'video', base: '/v1/videos', label: 'Video', list: true, create: true },
  { kind: 'eval', base: '/v1/evals', label: 'Eval', list: true, create: true },
];

/** OpenAI's `object` field → the kind recorded for it. */
export const KIND_OF_OBJECT: ReadonlyMap<string, ObjectKind> = new Map<string, ObjectKind>([
  ['file', 'file'],
  ['upload', 'upload'],
  ['batch', 'batch'],
  ['response', 'response'],
  ['chat.completion', 'chat.completion'],
  ['fine_tuning.job', 'fine_tuning.job'],
  ['vector_store', 'vector_store'],
  ['conversation', 'conversation'],
  ['container', 'container'],
  ['video', 'video'],
  ['eval', 'eval'],
]);

/** What a request does to an owned object family. */
export type Action =
  | { kind: 'create'; family: Family }
  | { kind: 'list'; family: Family }
  | { kind: 'access'; family: Family; id: string }
  | { kind: 'list_models' }
  | { kind: 'model'; id: string };

/** Models any company may use: the upstream's own, as `owned_by` names them. Others (fine-tuned) belong to a company. */
export const SHARED_MODEL_OWNERS: ReadonlySet<string> = new Set(['openai', 'system', 'openai-internal']);

/** True for a model id that names a fine-tuned model (`ft:<base>:<org>:<suffix>:<id>`, checkpoints `…:ckpt-step-N`). */
export const isFineTunedModel = (id: string) => id.startsWith('ft:');

/**
 * The ownership action of a request, or undefined when the path acts on no owned object (chat
 * completions not stored, embeddings, images…). `path` is a strict target (see http/target.ts):
 * non-empty segments, no dot segments, no percent-encoding.
 */
export function classify(method: string, path: string): Action | undefined {
  if (path === '/v1/models') return method === 'GET' ? { kind: 'list_models' } : undefined;
  if (path.startsWith('/v1/models/')) {
    const id = path.slice('/v1/models/'.length);
    return isFineTunedModel(id) ? { kind: 'model', id } : undefined;
  }
  for (const family of FAMILIES) {
    if (path === family.base) {
      if (method === 'GET' && family.list) return { kind: 'list', family };
      if (method === 'POST' && family.create) return { kind: 'create', family };
      return undefined;
    }
    if (path.startsWith(`${family.base}/`)) {
      const id = path.slice(family.base.length + 1).split('/', 1)[0]!;
      return { kind: 'access', family, id };
    }
  }
  return undefined;
}
