import type { GrantTerms, MirroredGrant } from '../ledger/port.js';
import { addCalendar, periodAfter, periodAt, type Every, type Period } from './periods.js';

/**
 * Recurring allocations as grants, pure: the config and the ledger's grants in, the grants to
 * mirror out (`LedgerWriter.syncGrants`).
 *
 * Each period of an allocation with `every` is a grant of its own, `<allocation>@<period key>`
 * (`acme-monthly@2026-11`), from the period's start to its end, clipped to the allocation's own
 * `startsAt`/`expiresAt`. Its id is fixed by the period, so every replica and every restart mirrors
 * the same grant: a period renews once, whenever the first sync of the period runs (at start, on
 * the first admission past the boundary, or on the renewal timer).
 *
 * Only the current period's grant is mirrored, so the previous one is marked removed at renewal: it
 * stops counting (it had expired) and keeps its history — debits, totals, and the holds of requests
 * still in flight, which settle on it.
 *
 * Rollover: the grants of the allocation that expire at the boundary (the last period's grant and
 * any grant carried into it that ends with it) carry what they have left — amount − spent − held,
 * so what requests in flight still hold counts as used — capped at `rollover.max`, into
 * `<allocation>@<period key>.rollover`, a grant from the period's start lasting
 * `rollover.expiresAfter` (default: with the period). It is created once (`createOnly`): the first
 * replica to mirror it fixes its amount, and later syncs leave it alone. Carried grants that outlive
 * their period keep counting until they expire. When tollgate was down for whole periods, the missed
 * periods are played through with nothing spent (each carried at most `max`), up to a year of them.
 */

/** The most missed periods played through for a rollover (a year of days). */
const MAX_MISSED_PERIODS = 366;

/** What a recurring allocation needs besides its grant terms (amounts already in the grant's unit). */
export interface Recurrence {
  every: Every;
  /** The company's IANA time zone. */
  timeZone: string;
  /** The allocation's own window (ISO 8601 UTC), or null. */
  startsAt: string | null;
  expiresAt: string | null;
  /** In the grant's unit (tokens or micro-USD), and how long a carried grant lasts. */
  rollover?: { max: number; expiresAfter: { unit: Every; count: number } };
}

/** The grants to mirror for one recurring allocation at `now`, and when it renews next (null: never). */
export interface Renewal {
  grants: GrantTerms[];
  renewsAt: Date | null;
}

const ms = (iso: string | null) => (iso === null ? null : Date.parse(iso));
const minIso = (a: Date, b: string | null) => (b !== null && Date.parse(b) < a.getTime() ? b : a.toISOString());
const maxIso = (a: Date, b: string | null) => (b !== null && Date.parse(b) > a.getTime() ? b : a.toISOString());

/** A grant's terms as the ledger mirrors them, back as terms (models parsed). */
function termsOf(g: MirroredGrant, priority: number | undefined): GrantTerms {
  return {
    id: g.id,
    companyId: g.companyId,
    unit: g.unit,
    amount: g.amount,
    unlimited: g.unlimited,
    models: g.models === null ? null : (JSON.parse(g.models) as string[]),
    startsAt: g.startsAt,
    expiresAt: g.expiresAt,
    purchaseId: g.purchaseId,
    note: g.note,
    priority,
    createOnly: true,
  };
}

/** One unit of an allocation left at some point: what is left and when it expires (ms). */
interface Lot {
  left: number;
  expires: number;
}

/**
 * What the allocation carries into `current`: its grants in the ledger (`own`, not removed) expiring
 * at a boundary carry what they have left, capped; missed periods between the last one mirrored and
 * `current` are played through with nothing spent. Null when the allocation had no period before
 * (nothing to carry, and no rollover grant).
 */
function carried(
  base: GrantTerms,
  r: Recurrence & { rollover: NonNullable<Recurrence['rollover']> },
  current: Period,
  own: readonly MirroredGrant[],
): number | null {
  const lots: Lot[] = own.flatMap((g) =>
    g.expiresAt === null ? [] : [{ left: Math.max(0, g.amount - g.spent - g.held), expires: ms(g.expiresAt)! }],
  );
  // The last period mirrored before `current`: the newest `<allocation>@<key>` grant that started before it.
  const periods = own.filter(
    (g) => !g.id.endsWith('.rollover') && g.startsAt !== null && ms(g.startsAt)! < current.start.getTime(),
  );
  if (periods.length === 0) return null;
  const last = periods.reduce((a, b) => (ms(a.startsAt)! >= ms(b.startsAt)! ? a : b));
  let p = periodAfter(r.every, periodAt(r.every, new Date(ms(last.startsAt)!), r.timeZone), r.timeZone);
  let missed = 0;
  for (let q = p; q.start < current.start; q = periodAfter(r.every, q, r.timeZone)) missed++;
  if (missed > MAX_MISSED_PERIODS) {
    // Too long ago to play through: start afresh a year back.
    lots.length = 0;
    for (let i = 0; i < missed - MAX_MISSED_PERIODS; i++) p = periodAfter(r.every, p, r.timeZone);
  }
  const carry = (boundary: number) =>
    Math.min(
      r.rollover.max,
      lots.filter((l) => l.expires === boundary).reduce((sum, l) => sum + l.left, 0),
    );
  for (; p.start < current.start; p = periodAfter(r.every, p, r.timeZone)) {
    const boundary = p.start.getTime();
    const amount = carry(boundary);
    const live = lots.filter((l) => l.expires > boundary);
    live.push({ left: amount, expires: rolloverEnd(p, r) }, { left: base.amount, expires: periodEnd(p, r) });
    lots.splice(0, lots.length, ...live);
  }
  return carry(current.start.getTime());
}

/** When a period's grant ends (ms): the period's end, or the allocation's expiry if sooner. */
const periodEnd = (p: Period, r: Recurrence) => ms(minIso(p.end, r.expiresAt))!;

/** When a grant carried into `p` ends (ms): `expiresAfter` from the period's start, or the allocation's expiry if sooner. */
function rolloverEnd(p: Period, r: Recurrence & { rollover: NonNullable<Recurrence['rollover']> }): number {
  const { unit, count } = r.rollover.expiresAfter;
  return ms(minIso(addCalendar(p.start, unit, count, r.timeZone), r.expiresAt))!;
}

/**
 * The grants of recurring allocation `base.id` to mirror at `now` (see the module's comment): the
 * current period's grant, its rollover grant, and grants carried earlier that still count; none
 * before the allocation starts or after it ends. `base` holds the allocation's terms (unit, amount
 * in the unit, models, priority…); `mirrored` is every grant the ledger has (`LedgerReader.grants`).
 */
export function renewalTerms(base: GrantTerms, r: Recurrence, now: Date, mirrored: readonly MirroredGrant[]): Renewal {
  const start = ms(r.startsAt);
  const end = ms(r.expiresAt);
  if (start !== null && now.getTime() < start) return { grants: [], renewsAt: new Date(start) };
  if (end !== null && now.getTime() >= end) return { grants: [], renewsAt: null };
  const current = periodAt(r.every, now, r.timeZone);
  const renewsAt = end !== null && current.end.getTime() >= end ? null : current.end;
  const grants: GrantTerms[] = [
    {
      ...base,
      id: `${base.id}@${current.key}`,
      startsAt: maxIso(current.start, r.startsAt),
      expiresAt: minIso(current.end, r.expiresAt),
    },
  ];
  const rollover = r.rollover;
  if (!rollover) return { grants, renewsAt };
  const prefix = `${base.id}@`;
  const own = mirrored.filter((g) => g.companyId === base.companyId && g.id.startsWith(prefix) && g.removedAt === null);
  const rolloverId = `${base.id}@${current.key}.rollover`;
  const made = mirrored.find((g) => g.id === rolloverId);
  if (made) grants.push(termsOf(made, base.priority));
  else {
    const amount = carried(base, { ...r, rollover }, current, own);
    if (amount !== null)
      grants.push({
        ...base,
        id: rolloverId,
        amount,
        startsAt: maxIso(current.start, r.startsAt),
        expiresAt: new Date(rolloverEnd(current, { ...r, rollover })).toISOString(),
        note: `carried over (at most ${rollover.max}) from the period before ${current.key}`,
        createOnly: true,
      });
  }
  // Grants carried earlier that outlive their period keep counting.
  for (const g of own)
    if (g.id !== rolloverId && g.id.endsWith('.rollover') && g.expiresAt !== null && ms(g.expiresAt)! > now.getTime())
      grants.push(termsOf(g, base.priority));
  return { grants, renewsAt };
}
