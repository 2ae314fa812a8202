import type { Config } from './schema.js';

/**
 * What changed between two configs, entity by entity, for the reload log and `tollgate config
 * check`. Companies, keys, allocations, prices, features, purchases and operators are compared by
 * id; the remaining top-level sections (listen, upstream, ledger, admission, alerts, …) as settings.
 */
export interface ConfigChange {
  kind: 'company' | 'key' | 'allocation' | 'price' | 'feature' | 'purchase' | 'operator' | 'setting';
  op: 'added' | 'changed' | 'removed';
  /** `<company>` for a company, `<company>/<id>` for its keys and allocations, the name otherwise. */
  id: string;
  /** For `changed`: one line per field, `field: before → after`. */
  details: string[];
}

/** Sections whose change takes effect only after a restart: the listener, the ledger file, the upstream pool. */
export const RESTART_ONLY = ['listen', 'ledger', 'upstream'] as const;

const ENTITY_SECTIONS = new Set(['companies', 'prices', 'features', 'purchases', 'operators', '$schema']);

/** JSON text of a value with instants as ISO strings and object keys sorted, for comparison. */
export function canonical(value: unknown): string {
  return (
    JSON.stringify(value, (_k, v: unknown) => {
      if (v && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Date)) {
        return Object.fromEntries(
          Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
        );
      }
      return v;
    }) ?? 'undefined'
  );
}

function show(value: unknown): string {
  if (value === undefined) return '(none)';
  if (value instanceof Date) return value.toISOString();
  const text = typeof value === 'string' ? value : canonical(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

/** One line per field that differs between two objects (fields in order of first appearance). */
function fieldChanges(
  before: Record<string, unknown>,
  after: Record<string, unknown>,
  skip: ReadonlySet<string> = new Set(),
): string[] {
  const fields = [...new Set([...Object.keys(before), ...Object.keys(after)])].filter((f) => !skip.has(f));
  const out: string[] = [];
  for (const f of fields) {
    if (canonical(before[f]) === canonical(after[f])) continue;
    if (f === 'sha256') out.push('sha256: replaced (a new key)');
    else out.push(`${f}: ${show(before[f])} → ${show(after[f])}`);
  }
  return out;
}

function byId<T>(
  kind: ConfigChange['kind'],
  before: Map<string, T>,
  after: Map<string, T>,
  details: (a: T, b: T) => string[],
): ConfigChange[] {
  const out: ConfigChange[] = [];
  for (const [id, b] of after) {
    const a = before.get(id);
    if (a === undefined) out.push({ kind, op: 'added', id, details: [] });
    else {
      const d = details(a, b);
      if (d.length) out.push({ kind, op: 'changed', id, details: d });
    }
  }
  for (const id of before.keys()) if (!after.has(id)) out.push({ kind, op: 'removed', id, details: [] });
  return out;
}

const asRecord = (v: unknown) => v as Record<string, unknown>;

/** The changes from `before` to `after`, companies first, then their keys and allocations, prices, features, purchases, operators, settings. */
export function diffConfigs(before: Config, after: Config): ConfigChange[] {
  const companies = (c: Config) => new Map(Object.entries(c.companies));
  const keys = (c: Config) =>
    new Map(Object.entries(c.companies).flatMap(([cid, co]) => co.keys.map((k) => [`${cid}/${k.id}`, k] as const)));
  const allocations = (c: Config) =>
    new Map(
      Object.entries(c.companies).flatMap(([cid, co]) => co.allocations.map((a) => [`${cid}/${a.id}`, a] as const)),
    );
  const record = <T>(r: Record<string, T> | undefined) => new Map(Object.entries(r ?? {}));
  const operators = (c: Config) => new Map((c.operators ?? []).map((o) => [o.id, o] as const));
  const fields = (a: unknown, b: unknown) => fieldChanges(asRecord(a), asRecord(b));

  const changes: ConfigChange[] = [
    ...byId('company', companies(before), companies(after), (a, b) =>
      fieldChanges(asRecord(a), asRecord(b), new Set(['keys', 'allocations'])),
    ),
    ...byId('key', keys(before), keys(after), fields),
    ...byId('allocation', allocations(before), allocations(after), fields),
    ...byId('price', record(before.prices), record(after.prices), (a, b) =>
      Array.isArray(a) || Array.isArray(b) ? (canonical(a) === canonical(b) ? [] : ['prices: changed']) : fields(a, b),
    ),
    ...byId('feature', record(before.features), record(after.features), fields),
    ...byId('purchase', record(before.purchases), record(after.purchases), fields),
    ...byId('operator', operators(before), operators(after), fields),
  ];
  const settings = [...new Set([...Object.keys(before), ...Object.keys(after)])].filter((s) => !ENTITY_SECTIONS.has(s));
  for (const s of settings) {
    const a = asRecord(before)[s];
    const b = asRecord(after)[s];
    if (canonical(a) === canonical(b)) continue;
    const isObject = (v: unknown) => v !== null && typeof v === 'object' && !Array.isArray(v);
    changes.push({
      kind: 'setting',
      op: 'changed',
      id: s,
      details: isObject(a) && isObject(b) ? fieldChanges(asRecord(a), asRecord(b)) : [`${s}: ${show(a)} → ${show(b)}`],
    });
  }
  return changes;
}

/** The restart-only sections that differ: `listen.port`, `upstream.baseUrl`, … (one entry per field). */
export function restartOnlyChanges(before: Config, after: Config): string[] {
  const out: string[] = [];
  for (const section of RESTART_ONLY) {
    const a = asRecord(before[section]);
    const b = asRecord(after[section]);
    for (const f of new Set([...Object.keys(a), ...Object.keys(b)]))
      if (canonical(a[f]) !== canonical(b[f])) out.push(`${section}.${f}`);
  }
  return out;
}

const SIGN = { added: '+', changed: '~', removed: '-' } as const;

/** One line per change: `+ key acme/acme-batch`, `~ key acme/acme-web: revoked: false → true`, `- price gpt-4`. */
export function formatChange(c: ConfigChange): string {
  return `${SIGN[c.op]} ${c.kind} ${c.id}${c.details.length ? `: ${c.details.join('; ')}` : ''}`;
}
