import type { Outcome } from './port.js';
import { unitsJson } from './units.js';

/**
 * The columns a settlement, void or interruption writes on its request row, as every adapter
 * stores them (one place for the defaults, so both engines write the same row for one outcome).
 * Tokens are integers; money in micro-USD and nano-USD; times in ms; absent values are null, or 0
 * for token counts of an outcome without usage.
 */
export interface OutcomeValues {
  httpStatus: Outcome['httpStatus'];
  returnedModel: string | null;
  model: string | null;
  priceVersion: string | null;
  priceSource: string | null;
  inputTokens: number;
  cachedInputTokens: number;
  outputTokens: number;
  reasoningTokens: number;
  totalTokens: number;
  meteredTokens: number;
  costMicroUsd: number;
  /** The exact cost; an outcome without one costs `costMicroUsd` × 1,000. */
  costNanoUsd: number;
  /** The tool calls as JSON text (`requests.tool_calls`), null when none were counted. */
  toolCalls: string | null;
  /** The usage's other units as JSON text (`requests.units`, see `unitsJson`). */
  units: string | null;
  usageSource: Outcome['usageSource'];
  latencyMs: number;
  ttfbMs: number | null;
  upstreamRequestId: string | null;
  errorCode: string | null;
}

/** The row's columns for `o` (see `OutcomeValues`). */
export function outcomeValues(o: Outcome): OutcomeValues {
  const u = o.usage;
  return {
    httpStatus: o.httpStatus,
    returnedModel: o.returnedModel ?? null,
    model: o.model ?? null,
    priceVersion: o.priceVersion ?? null,
    priceSource: o.priceSource ?? null,
    inputTokens: u?.inputTokens ?? 0,
    cachedInputTokens: u?.cachedInputTokens ?? 0,
    outputTokens: u?.outputTokens ?? 0,
    reasoningTokens: u?.reasoningTokens ?? 0,
    totalTokens: u?.totalTokens ?? 0,
    meteredTokens: o.meteredTokens,
    costMicroUsd: o.costMicroUsd,
    costNanoUsd: o.costNanoUsd ?? o.costMicroUsd * 1000,
    toolCalls: o.toolCalls ? JSON.stringify(o.toolCalls) : null,
    units: unitsJson(u),
    usageSource: o.usageSource,
    latencyMs: o.latencyMs,
    ttfbMs: o.ttfbMs ?? null,
    upstreamRequestId: o.upstreamRequestId ?? null,
    errorCode: o.errorCode ?? null,
  };
}

/**
 * The run of columns both adapters bind in this order: the five token counts, tokens metered,
 * micro-USD, nano-USD and the tool calls' JSON text.
 */
export function chargeColumns(v: OutcomeValues): (number | string | null)[] {
  return [
    v.inputTokens,
    v.cachedInputTokens,
    v.outputTokens,
    v.reasoningTokens,
    v.totalTokens,
    v.meteredTokens,
    v.costMicroUsd,
    v.costNanoUsd,
    v.toolCalls,
  ];
}
