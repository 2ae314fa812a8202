import type { Principal } from '../auth/principal.js';
import type { Denial } from '../http/denial.js';
import type { ObjectOwner } from '../ledger/port.js';
import { parseSseEvent } from '../metering/sse.js';
import type { Runtime } from '../runtime.js';
import { classify, isFineTunedModel, SHARED_MODEL_OWNERS, type Action } from './families.js';
import { namedObjects, type Named } from './named.js';

/**
 * What the relay does for a request that touches owned objects. Every function records through
 * `rt.ledger.objects`, whose writes are queued synchronously (so they land before the response's last byte).
 */
export interface OwnershipPlan {
  /**
   * Records the objects a 2xx JSON answer created or names (a batch's output files, a job's model).
   * `parsed`: the answer already parsed by whoever read it (undefined: not parsed yet, or not JSON).
   */
  observe?: (text: string, requestId: string, parsed?: unknown) => void;
  /** Records the object a streamed creation announces; true once done. */
  observeEvent?: (block: string, requestId: string) => boolean;
  /** Filters a 2xx list answer to the caller's objects; resolves to the JSON to send instead. */
  rewrite?: (text: string, requestId: string) => Promise<string>;
}

/** OpenAI's 404 for an object the caller cannot see, e.g. `No such File object: file-abc`. */
export function noSuchObject(label: string, id: string, param = 'id'): Denial {
  return { kind: 'not_found', message: `No such ${label} object: ${id}`, param, code: null };
}

/** True when `principal` may see an object with this owner (undefined: never recorded by tollgate). */
export function visible(rt: Runtime, principal: Principal, owner: ObjectOwner | undefined): boolean {
  if (owner) return owner.companyId === principal.companyId;
  return principal.keyId !== null && rt.config.objects.unrecordedVisibleTo.includes(principal.keyId);
}

/**
 * Decides, before anything is read or held, what ownership requires of a request: the 404 to send
 * for another company's object (nothing goes upstream), or the plan the relay follows (record what
 * the answer creates, filter a list), or undefined for a request touching no owned object.
 */
export async function planOwnership(
  rt: Runtime,
  principal: Principal,
  method: string,
  path: string,
): Promise<OwnershipPlan | Denial | undefined> {
  const action = classify(method, path);
  if (!action) return undefined;
  const at = () => rt.clock().toISOString();
  const record = (named: Named[], requestId: string, skipId?: string) =>
    void rt.ledger.objects
      .record(
        named
          .filter((n) => n.id !== skipId)
          .map((n) => ({
            ...n,
            companyId: principal.companyId,
            keyId: principal.keyId,
            userId: principal.userId,
            requestId,
            createdAt: at(),
          })),
      )
      .catch((err: unknown) => rt.log.error({ err, requestId }, 'could not record object owners'));
  const observeText = (skipId?: string) => (text: string, requestId: string, parsed?: unknown) =>
    record(namedObjects(parsed ?? parse(text)), requestId, skipId);

  switch (action.kind) {
    case 'create':
      return {
        observe: observeText(),
        observeEvent: (block, requestId) => {
          const data = parseSseEvent(block).data;
          const named = namedObjects(streamedObject(parse(data)));
          if (named.length) record(named, requestId);
          return named.length > 0 || data === '[DONE]';
        },
      };
    case 'access':
    case 'model': {
      const id = action.id;
      const owner = (await rt.ledger.objects.owners([id])).get(id);
      if (!visible(rt, principal, owner) || (owner && !sameFamily(action, owner)))
        return noSuchObject(action.kind === 'model' ? 'Model' : action.family.label, id);
      return { observe: observeText(id) };
    }
    case 'list':
      return {
        rewrite: (text, requestId) =>
          filterList(
            rt,
            principal,
            text,
            () => false,
            (named) => record(named, requestId),
          ),
      };
    case 'list_models':
      return {
        rewrite: (text) =>
          filterList(
            rt,
            principal,
            text,
            (item) =>
              typeof item.id === 'string' &&
              !isFineTunedModel(item.id) &&
              SHARED_MODEL_OWNERS.has(String(item.owned_by)),
            () => undefined,
          ),
      };
  }
}

/** An owner recorded for another kind of object (ids are unique across kinds upstream; this guards a forged path). */
function sameFamily(action: Action, owner: ObjectOwner): boolean {
  if (action.kind === 'model') return owner.kind === 'model';
  return action.kind !== 'access' || owner.kind === action.family.kind;
}

type Item = Record<string, unknown>;

const parse = (text: string): unknown => {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
};

/** The object a streamed creation's event carries: `response.created` wraps the response, chat chunks carry their completion's id. */
function streamedObject(data: unknown): unknown {
  if (!data || typeof data !== 'object') return undefined;
  const d = data as Item;
  if (d.response && typeof d.response === 'object') return d.response;
  if (d.object === 'chat.completion.chunk' && typeof d.id === 'string') return { id: d.id, object: 'chat.completion' };
  return undefined;
}

/**
 * Keeps the items of an OpenAI list (`{"object":"list","data":[…],"has_more",…}`) that the caller
 * may see: `isShared(item)` ones (the upstream's own models), then those whose owner is visible. `has_more`, `first_id` and
 * `last_id` stay the upstream's, so the next page is asked for after the same cursor; a page may
 * therefore hold fewer items than `limit`, even none while `has_more` is true. Objects the kept
 * items name (a batch's output file) are recorded through `recordNamed`. A body that is not such a
 * list is replaced by an empty list.
 */
async function filterList(
  rt: Runtime,
  principal: Principal,
  text: string,
  isShared: (item: Item) => boolean,
  recordNamed: (named: Named[]) => void,
): Promise<string> {
  const body = parse(text);
  if (!body || typeof body !== 'object' || !Array.isArray((body as Item).data))
    return JSON.stringify({ object: 'list', data: [], has_more: false });
  const list = body as Item & { data: unknown[] };
  const items = list.data.filter(
    (x): x is Item & { id: string } => !!x && typeof x === 'object' && typeof (x as Item).id === 'string',
  );
  const shared = new Set(items.filter(isShared).map((i) => i.id));
  const owners = await rt.ledger.objects.owners(items.filter((i) => !shared.has(i.id)).map((i) => i.id));
  const kept = items.filter((i) => shared.has(i.id) || visible(rt, principal, owners.get(i.id)));
  const derived = kept.flatMap((i) => namedObjects(i).filter((n) => n.id !== i.id));
  if (derived.length) recordNamed(derived);
  return JSON.stringify({ ...list, data: kept });
}
