import { formatNanoUsd } from '../utils/money.js';
import type { LedgerUsageRange } from '../ledger/port.js';
import type { Fact } from './openai-side.js';
import type { ReconciliationReport } from './report.js';

const n = (v: number) => v.toLocaleString('en-US');

/** The keys (or projects) OpenAI's facts name, with their requests, most first: "key_a (1,204 requests), key_b (3 requests)". */
function seen(facts: Fact[], by: (f: Fact) => string | null, limit = 5): string {
  const requests = new Map<string, number>();
  for (const f of facts) {
    const id = by(f) ?? '(none)';
    requests.set(id, (requests.get(id) ?? 0) + f.measures.num_model_requests);
  }
  const list = [...requests].sort((a, b) => b[1] - a[1]);
  const shown = list.slice(0, limit).map(([id, r]) => `${id} (${n(r)} requests)`);
  return list.length > limit ? `${shown.join(', ')} and ${list.length - limit} more` : shown.join(', ');
}

/**
 * What the operator needs to read a report: what was compared and which mapping would separate
 * traffic that did not go through tollgate, and the limits met (cost granularity, rounding,
 * provisional days, estimated rows, other currencies, usage tollgate does not meter).
 */
export function explain(
  r: ReconciliationReport,
  input: { ledger: LedgerUsageRange; otherCurrencies: string[]; now: Date; openaiIn: Fact[] },
): string[] {
  const { openaiIn } = input;
  const notes: string[] = [];
  const { scope } = r;
  const where = `reconciliation.upstreamKeys.${scope.upstreamKey}`;
  if (scope.apiKeyId !== null) {
    notes.push(
      `Compared: OpenAI's usage of API key ${scope.apiKeyId}${scope.projectId ? ` (project ${scope.projectId})` : ''}, tollgate's upstream key ($${scope.upstreamKey}). Where the two differ either way it is drift.`,
    );
    if (openaiIn.length === 0 && input.ledger.days.length > 0)
      notes.push(
        `OpenAI shows no usage on ${scope.apiKeyId} over these days while the ledger has some: check ${where}.apiKeyId (the key's id, key_…, on the project's API keys page).`,
      );
  } else if (scope.projectId !== null) {
    notes.push(
      `Compared: project ${scope.projectId} as a whole. Other clients' keys in it may carry traffic that did not go through tollgate, so where OpenAI has more it is unmatched, not drift. Keys seen: ${seen(openaiIn, (f) => f.apiKeyId) || 'none'}. Set ${where}.apiKeyId to tollgate's key to compare it alone.`,
    );
  } else {
    notes.push(
      `Compared: the whole organization (no mapping for tollgate's upstream key $${scope.upstreamKey}), so other clients' traffic makes OpenAI's figures higher and shows as unmatched, not drift. Keys seen: ${seen(openaiIn, (f) => (f.apiKeyId ? `${f.projectId ?? '?'}/${f.apiKeyId}` : f.projectId)) || 'none'}. Set ${where}.apiKeyId (and projectId) to separate them.`,
    );
  }
  if (r.outside.length > 0) {
    const sum = (k: 'num_model_requests' | 'cost_nano_usd') => r.outside.reduce((s, o) => s + o[k], 0);
    notes.push(
      `Outside tollgate's ${scope.apiKeyId !== null ? 'key' : 'project'}: ${n(sum('num_model_requests'))} requests and $${formatNanoUsd(sum('cost_nano_usd'))} on ${r.outside.length} other project/key pair(s), listed apart, not drift.`,
    );
  }
  const around = r.lines.filter((l) => l.status === 'openai_only' && l.model !== null);
  if (around.length > 0)
    notes.push(
      `Only at OpenAI: ${[...new Set(around.map((l) => l.model))].join(', ')} on days the ledger has none of them. That traffic did not go through tollgate${scope.exclusive ? ` although it used ${scope.apiKeyId}` : ''} (or went through a path tollgate passes on unmetered): it is left out of the compared figures, not drift.`,
    );
  if (r.groupBy.includes('model'))
    notes.push(
      'Cost per model is read from the costs API\'s line items ("<model>, input"…; items naming no model have none): shown, not judged. The costs API reports whole UTC days per project, key and line item, so cost is judged per day.',
    );
  notes.push(
    "Money: OpenAI's decimal amounts are converted to nano-USD exactly, rounded half away from zero at the 9th decimal; within ½ nano-USD per amount counts as a match.",
  );
  const held = new Map(input.ledger.held.map((h) => [h.day, h.rows]));
  if (r.summary.provisionalDays.length > 0) {
    const today = input.now.toISOString().slice(0, 10);
    const why = r.summary.provisionalDays.map((d) =>
      d >= today ? `${d} (not over yet)` : `${d} (${n(held.get(d) ?? 0)} requests still open in the ledger)`,
    );
    notes.push(`Provisional, shown but never judged: ${why.join(', ')}.`);
  }
  const yesterday = new Date(input.now.getTime() - 86_400_000).toISOString().slice(0, 10);
  if (r.to >= yesterday)
    notes.push(
      'OpenAI may report usage and costs hours late (batches when they finish): a day that ended recently can still change; the scheduled run checks its last days again every day.',
    );
  if (r.total.estimatedRows > 0)
    notes.push(
      `${n(r.total.estimatedRows)} ledger rows carry tollgate's own estimate (the upstream's usage never arrived, e.g. a cut stream): expect drift where they are.`,
    );
  const compared = r.lines.filter((l) => l.status === 'match' || l.status === 'drift' || l.status === 'unmatched');
  if (compared.some((l) => l.measures.some((m) => m.name === 'num_model_requests' && m.drift !== 0)))
    notes.push(
      'Requests are shown, not judged: a batch is one ledger row but one model request per line at OpenAI, and a Realtime session one row for many responses.',
    );
  if (input.otherCurrencies.length > 0)
    notes.push(`Costs in ${input.otherCurrencies.join(', ')} were left out: only USD compares with the ledger.`);
  if (r.other.length > 0)
    notes.push(
      'OpenAI also bills what tollgate does not meter per request (vector store bytes, code interpreter sessions): listed under other usage, not compared.',
    );
  return notes;
}
