import type { ObjectKind } from '../ledger/port.js';
import { KIND_OF_OBJECT } from './families.js';

/** An object an answer names: its id and kind. */
export interface Named {
  id: string;
  kind: ObjectKind;
}

const str = (v: unknown): v is string => typeof v === 'string' && v.length > 0 && v.length <= 512;

/**
 * The objects an upstream answer creates or names, to be owned by the caller (source: the object
 * schemas of openai/openai-openapi):
 * - the answer itself when its `object` is an owned kind (`file`, `batch`, `response`…);
 * - a batch's `output_file_id` and `error_file_id` (files the upstream wrote for it);
 * - a fine-tuning job's `fine_tuned_model` and `result_files`; a checkpoint's `fine_tuned_model_checkpoint`;
 * - an upload's `file` (the file made when it completes).
 * Reads only those top-level fields: no walk over the answer.
 */
export function namedObjects(answer: unknown): Named[] {
  if (!answer || typeof answer !== 'object' || Array.isArray(answer)) return [];
  const a = answer as Record<string, unknown>;
  const out: Named[] = [];
  const kind = typeof a.object === 'string' ? KIND_OF_OBJECT.get(a.object) : undefined;
  if (kind && str(a.id)) out.push({ id: a.id, kind });
  for (const field of ['output_file_id', 'error_file_id'] as const)
    if (str(a[field])) out.push({ id: a[field], kind: 'file' });
  if (str(a.fine_tuned_model)) out.push({ id: a.fine_tuned_model, kind: 'model' });
  if (str(a.fine_tuned_model_checkpoint)) out.push({ id: a.fine_tuned_model_checkpoint, kind: 'model' });
  if (Array.isArray(a.result_files)) for (const f of a.result_files) if (str(f)) out.push({ id: f, kind: 'file' });
  if (a.file && typeof a.file === 'object') {
    const f = a.file as Record<string, unknown>;
    if (str(f.id)) out.push({ id: f.id, kind: 'file' });
  }
  return out;
}
