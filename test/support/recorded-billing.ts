import { toolCallsOf, type ToolCalls } from '../../src/metering/tool-calls.js';
import { sseData, type Recording } from './fixtures.js';

type Json = Record<string, unknown>;

/** The JSON objects a recording's response carries: its body, or each `data:` event of its stream. */
function responseObjects(rec: Recording): Json[] {
  if (rec.response.body_text === undefined)
    return rec.response.body && typeof rec.response.body === 'object' ? [rec.response.body as Json] : [];
  return sseData(rec.response.body_text)
    .filter((d) => d.startsWith('{'))
    .map((d) => JSON.parse(d) as Json);
}

/** The `service_tier` the recorded response reports (top level, or a stream event's `response`), else the request's. */
export function recordedServiceTier(rec: Recording): string | undefined {
  let tier: string | undefined;
  for (const o of responseObjects(rec)) {
    const r = (o.response as Json | undefined) ?? o;
    if (typeof r.service_tier === 'string') tier = r.service_tier;
  }
  const asked = rec.request.body?.service_tier;
  return tier ?? (typeof asked === 'string' ? asked : undefined);
}

/** The built-in tool calls the recorded Responses object reports in its `output`. */
export function recordedToolCalls(rec: Recording): ToolCalls | undefined {
  let calls: ToolCalls | undefined;
  for (const o of responseObjects(rec)) {
    const r = (o.response as Json | undefined) ?? o;
    if (r.object === 'response') calls = toolCallsOf(r.output) ?? calls;
  }
  return calls;
}
