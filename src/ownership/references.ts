import type { Principal } from '../auth/principal.js';
import type { JsonObject } from '../http/json-body.js';
import { OFF_LOOP_BYTES } from '../http/json-off-loop.js';
import type { ObjectKind } from '../ledger/port.js';
import type { Runtime } from '../runtime.js';
import { FAMILIES, isFineTunedModel } from './families.js';
import type { Denial } from '../http/denial.js';
import { noSuchObject, visible } from './guard.js';

/**
 * Request fields that name an owned object by id (source: openai/openai-openapi request schemas):
 * a file in a content part, a batch, a fine-tuning job or a vector store; the previous response and
 * the conversation of a Responses call; vector stores and containers of a tool; a fine-tuned `model`.
 */
const SINGLE: ReadonlyMap<string, ObjectKind> = new Map<string, ObjectKind>([
  ['file_id', 'file'],
  ['input_file_id', 'file'],
  ['training_file', 'file'],
  ['validation_file', 'file'],
  ['previous_response_id', 'response'],
  ['conversation', 'conversation'],
  ['container', 'container'],
  ['vector_store_id', 'vector_store'],
]);
const MANY: ReadonlyMap<string, ObjectKind> = new Map<string, ObjectKind>([
  ['file_ids', 'file'],
  ['vector_store_ids', 'vector_store'],
]);

/** Byte patterns of those fields (and of a fine-tuned model id): a body with none of them references nothing. */
const NEEDLES = [
  'file_id',
  '_file"',
  'previous_response_id',
  'conversation',
  'container',
  'vector_store_id',
  '"ft:',
].map((n) => Buffer.from(n));

/** True when the raw JSON body may reference an owned object (a cheap byte search, no parse). */
export function mayReference(raw: Uint8Array): boolean {
  const buf = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
  return NEEDLES.some((n) => buf.includes(n));
}

/** A reference: the id, its kind and the field that named it. */
export interface Reference {
  id: string;
  kind: ObjectKind;
  field: string;
}

/** The owned objects a parsed request body references, found by an iterative walk (no recursion). */
export function referencesIn(body: unknown): Reference[] {
  const out: Reference[] = [];
  const stack: unknown[] = [body];
  while (stack.length) {
    const v = stack.pop();
    if (Array.isArray(v)) {
      for (const x of v) if (x && typeof x === 'object') stack.push(x);
      continue;
    }
    if (!v || typeof v !== 'object') continue;
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
      const single = SINGLE.get(k);
      const many = MANY.get(k);
      if (single && typeof x === 'string') out.push({ id: x, kind: single, field: k });
      else if (
        single === 'conversation' &&
        x &&
        typeof x === 'object' &&
        typeof (x as { id?: unknown }).id === 'string'
      )
        out.push({ id: (x as { id: string }).id, kind: single, field: k });
      else if (many && Array.isArray(x)) {
        for (const id of x) if (typeof id === 'string') out.push({ id, kind: many, field: k });
      } else if (k === 'model' && typeof x === 'string' && isFineTunedModel(x))
        out.push({ id: x, kind: 'model', field: k });
      // `metadata` holds the caller's own free-form strings, never references.
      if (x && typeof x === 'object' && k !== 'metadata') stack.push(x);
    }
  }
  return out;
}

const LABELS = new Map<ObjectKind, string>([...FAMILIES.map((f) => [f.kind, f.label] as const), ['model', 'Model']]);

/**
 * The 404 to send when a JSON body references an object the caller's company may not see (another
 * company's file, response, fine-tuned model…), or undefined when every reference is visible.
 * `raw` is the body as received (searched first, so most bodies are never walked), `body` the same
 * parsed (`parseJsonBody`). A large body is walked without the search: its bytes are mostly long
 * strings, which the walk steps over and seven byte searches would read (100+ ms for 60 MB). Nothing
 * goes upstream and nothing is held when it answers a 404.
 */
export async function refuseForeignReferences(
  rt: Runtime,
  principal: Principal,
  raw: Uint8Array,
  body: JsonObject,
): Promise<Denial | undefined> {
  if (raw.byteLength < OFF_LOOP_BYTES && !mayReference(raw)) return undefined;
  const refs = referencesIn(body);
  if (refs.length === 0) return undefined;
  const owners = await rt.ledger.objects.owners(refs.map((r) => r.id));
  for (const r of refs) {
    const owner = owners.get(r.id);
    if (!visible(rt, principal, owner) || (owner && owner.kind !== r.kind)) {
      return noSuchObject(LABELS.get(r.kind) ?? 'Object', r.id, r.field);
    }
  }
  return undefined;
}
