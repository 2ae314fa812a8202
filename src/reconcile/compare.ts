import type { LedgerUsageRange } from '../ledger/port.js';
import { ledgerFacts, type Fact, type OpenAiSide } from './openai-side.js';
import { explain } from './notes.js';
import {
  type Comparison,
  type Dimension,
  DIMENSIONS,
  type Line,
  type LineStatus,
  type MeasureName,
  MEASURES,
  type Measures,
  noMeasures,
  type OutsideLine,
  type ReconciliationReport,
  type Scope,
  type Threshold,
  TOKEN_MEASURES,
} from './report.js';

/** What a comparison needs: both sides over the same UTC days, how tollgate maps to OpenAI, and how to judge. */
export interface CompareInput {
  ledger: LedgerUsageRange;
  openai: OpenAiSide;
  scope: Scope;
  groupBy: Dimension[];
  threshold: Threshold;
  /** First and last UTC day, both included. */
  from: string;
  to: string;
  now: Date;
}

/** One side of one group, summed. */
interface Side {
  measures: Measures;
  amounts: number;
  estimatedRows: number;
  days: Set<string>;
}

const present = (s: Side | undefined): s is Side => s !== undefined && Object.values(s.measures).some((v) => v !== 0);

function add(into: Map<string, Side>, key: string, f: Fact): void {
  let s = into.get(key);
  if (!s) into.set(key, (s = { measures: noMeasures(), amounts: 0, estimatedRows: 0, days: new Set() }));
  for (const m of MEASURES) s.measures[m] += f.measures[m];
  s.amounts += f.amounts;
  s.estimatedRows += f.estimatedRows;
  s.days.add(f.day);
}

type Coordinates = Pick<Line, 'day' | 'model' | 'projectId' | 'apiKeyId'>;
const coordinatesOf = (f: Fact, dims: Dimension[]): Coordinates => ({
  day: dims.includes('day') ? f.day : null,
  model: dims.includes('model') ? f.model : null,
  projectId: dims.includes('project') ? f.projectId : null,
  apiKeyId: dims.includes('key') ? f.apiKeyId : null,
});

/** A Comparison's own verdict: equal (cost within ½ nano-USD per amount converted), and beyond the threshold. */
function compareMeasure(
  name: MeasureName,
  ledger: number,
  openai: number,
  amounts: number,
  t: Threshold,
  judged: boolean,
) {
  const drift = ledger - openai;
  const tolerance = name === 'cost_nano_usd' ? Math.ceil(amounts / 2) : 0;
  const equal = Math.abs(drift) <= tolerance;
  const floor =
    name === 'cost_nano_usd' ? Math.round(t.usd * 1e9) + tolerance : TOKEN_MEASURES.includes(name) ? t.tokens : 0;
  const beyond =
    judged && !equal && Math.abs(drift) > floor && (openai === 0 || Math.abs(drift) * 100 > t.percent * openai);
  const driftPercent = openai === 0 ? (drift === 0 ? 0 : null) : Math.round((drift / openai) * 10_000) / 100;
  return {
    comparison: { name, ledger, openai, drift, driftPercent, judged, over: false } as Comparison,
    equal,
    beyond,
  };
}

/**
 * One line: both sides' measures compared, its status, and whether it is over the threshold.
 * `judge` says which measures count; `provisional` which days may still change.
 */
function lineOf(
  at: Coordinates,
  l: Side | undefined,
  o: Side | undefined,
  judge: (m: MeasureName) => boolean,
  ctx: { threshold: Threshold; exclusive: boolean; provisional: (days: Set<string>) => boolean },
): Line {
  const lm = l?.measures ?? noMeasures();
  const om = o?.measures ?? noMeasures();
  const verdicts = MEASURES.filter((m) => lm[m] !== 0 || om[m] !== 0).map((m) =>
    compareMeasure(m, lm[m], om[m], o?.amounts ?? 0, ctx.threshold, judge(m)),
  );
  const judged = verdicts.filter((v) => v.comparison.judged);
  let status: LineStatus;
  if (!present(o)) status = 'ledger_only';
  else if (!present(l)) status = 'openai_only';
  else if (judged.every((v) => v.equal)) status = 'match';
  else if (ctx.exclusive || judged.some((v) => !v.equal && v.comparison.drift > 0)) status = 'drift';
  else status = 'unmatched';
  const days = new Set([...(l?.days ?? []), ...(o?.days ?? [])]);
  const provisional = ctx.provisional(days);
  const counts = (status === 'drift' || status === 'ledger_only') && !provisional;
  for (const v of verdicts) v.comparison.over = counts && v.beyond;
  const worst = judged
    .map((v) => v.comparison.driftPercent)
    .reduce<number | null>((w, p) => (p === null ? w : w === null || Math.abs(p) > Math.abs(w) ? p : w), null);
  return {
    ...at,
    provisional,
    status,
    over: verdicts.some((v) => v.comparison.over),
    driftPercent: status === 'ledger_only' ? null : (worst ?? 0),
    estimatedRows: l?.estimatedRows ?? 0,
    measures: verdicts.map((v) => v.comparison),
  };
}

const compareText = (a: string | null, b: string | null) =>
  a === b ? 0 : a === null ? 1 : b === null ? -1 : a < b ? -1 : 1;
const byCoordinates = (a: Coordinates, b: Coordinates) =>
  compareText(a.day, b.day) ||
  compareText(a.model, b.model) ||
  compareText(a.projectId, b.projectId) ||
  compareText(a.apiKeyId, b.apiKeyId);

/** Groups both sides' facts by `dims` and compares each group. */
function lines(
  ledger: Fact[],
  openai: Fact[],
  dims: Dimension[],
  judge: (m: MeasureName) => boolean,
  ctx: Parameters<typeof lineOf>[4],
): Line[] {
  const at = new Map<string, Coordinates>();
  const sides = { ledger: new Map<string, Side>(), openai: new Map<string, Side>() };
  for (const [side, facts] of [
    ['ledger', ledger],
    ['openai', openai],
  ] as const)
    for (const f of facts) {
      const c = coordinatesOf(f, dims);
      const key = JSON.stringify(c);
      at.set(key, c);
      add(sides[side], key, f);
    }
  return [...at]
    .filter(([key]) => present(sides.ledger.get(key)) || present(sides.openai.get(key)))
    .map(([key, c]) => lineOf(c, sides.ledger.get(key), sides.openai.get(key), judge, ctx))
    .sort(byCoordinates);
}

/** The UTC days from `from` to `to`, both included. */
export function daysBetween(from: string, to: string): string[] {
  const out: string[] = [];
  for (let t = Date.parse(`${from}T00:00:00Z`); t <= Date.parse(`${to}T00:00:00Z`); t += 86_400_000)
    out.push(new Date(t).toISOString().slice(0, 10));
  return out;
}

/**
 * Compares the ledger with OpenAI's figures (see `ReconciliationReport` for what each part means).
 * OpenAI's facts outside tollgate's mapped key (or project) are summed apart as `outside`, never
 * compared. Pure: the same inputs give the same report.
 */
export function compare(input: CompareInput): ReconciliationReport {
  const { scope, threshold, groupBy } = input;
  const inScope = (f: Fact) =>
    scope.apiKeyId !== null
      ? f.apiKeyId === scope.apiKeyId
      : scope.projectId !== null
        ? f.projectId === scope.projectId
        : true;
  const projectOfKey =
    scope.projectId ??
    input.openai.facts.find((f) => scope.apiKeyId !== null && f.apiKeyId === scope.apiKeyId)?.projectId ??
    null;
  const ledger = ledgerFacts(input.ledger.days, projectOfKey, scope.apiKeyId);
  const openaiIn = input.openai.facts.filter(inScope);
  // A model OpenAI reports on a day the ledger has none of went around tollgate (or through a path
  // it does not meter): shown apart as only at OpenAI, and kept out of every compared figure.
  const ledgerModels = new Set(ledger.map((f) => `${f.day}\u0000${f.model}`));
  const aroundTollgate = (f: Fact) => f.model !== null && !ledgerModels.has(`${f.day}\u0000${f.model}`);
  const compared = openaiIn.filter((f) => !aroundTollgate(f));
  const today = input.now.toISOString().slice(0, 10);
  const provisionalDays = daysBetween(input.from, input.to).filter(
    (d) => d >= today || input.ledger.held.some((h) => h.day === d && h.rows > 0),
  );
  const ctx = {
    threshold,
    exclusive: scope.exclusive,
    provisional: (days: Set<string>) => provisionalDays.some((d) => days.has(d)),
  };
  const perModel = groupBy.includes('model');
  const notRequests = (m: MeasureName) => m !== 'num_model_requests';
  const lineJudge = perModel ? (m: MeasureName) => notRequests(m) && m !== 'cost_nano_usd' : notRequests;
  const withModel = DIMENSIONS.filter((d) => d === 'model' || groupBy.includes(d));
  const byLine = [
    ...lines(ledger, compared, groupBy, lineJudge, ctx),
    ...lines([], openaiIn.filter(aroundTollgate), withModel, lineJudge, ctx),
  ].sort(byCoordinates);
  const byDay = perModel
    ? lines(
        ledger,
        compared,
        groupBy.filter((d) => d !== 'model'),
        (m) => m === 'cost_nano_usd',
        ctx,
      )
    : [];
  const totals = lines(ledger, compared, [], notRequests, ctx);
  const total =
    totals[0] ??
    lineOf({ day: null, model: null, projectId: null, apiKeyId: null }, undefined, undefined, notRequests, ctx);
  total.over = false;
  for (const c of total.measures) c.over = false;

  const outside = new Map<string, OutsideLine>();
  for (const f of input.openai.facts.filter((x) => !inScope(x))) {
    const key = `${f.projectId}\u0000${f.apiKeyId}`;
    const o = outside.get(key) ?? {
      projectId: f.projectId,
      apiKeyId: f.apiKeyId,
      num_model_requests: 0,
      input_tokens: 0,
      output_tokens: 0,
      cost_nano_usd: 0,
    };
    o.num_model_requests += f.measures.num_model_requests;
    o.input_tokens += f.measures.input_tokens;
    o.output_tokens += f.measures.output_tokens;
    o.cost_nano_usd += f.measures.cost_nano_usd;
    outside.set(key, o);
  }
  const count = (s: LineStatus) => byLine.filter((l) => l.status === s).length;
  const report: ReconciliationReport = {
    object: 'tollgate.reconciliation',
    from: input.from,
    to: input.to,
    generatedAt: input.now.toISOString(),
    groupBy,
    scope,
    threshold,
    lines: byLine,
    days: byDay,
    total,
    outside: [...outside.values()].sort(
      (a, b) => b.num_model_requests - a.num_model_requests || b.cost_nano_usd - a.cost_nano_usd,
    ),
    other: input.openai.other,
    notes: [],
    summary: {
      lines: byLine.length,
      match: count('match'),
      drift: count('drift'),
      unmatched: count('unmatched'),
      ledgerOnly: count('ledger_only'),
      openaiOnly: count('openai_only'),
      over: [...byLine, ...byDay].filter((l) => l.over).length,
      provisionalDays,
    },
  };
  report.notes = explain(report, {
    ledger: input.ledger,
    otherCurrencies: input.openai.otherCurrencies,
    now: input.now,
    openaiIn,
  });
  return report;
}
