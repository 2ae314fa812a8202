import { brotliDecompressSync, gunzipSync, inflateSync } from 'node:zlib';
import { SseFramer, splitEvents } from '../metering/sse.js';
import type { StreamMeter } from '../metering/stream-meter.js';
import { meterJsonBody, type OutputModality } from '../metering/usage.js';
import type { Observed } from './outcome.js';

/** Largest non-streamed body kept in memory for metering (bytes); larger bodies pass through unmetered. */
export const MAX_METERED_BODY = 64 * 1024 * 1024;

const decoders: Record<string, (b: Buffer) => Buffer> = { gzip: gunzipSync, 'x-gzip': gunzipSync, deflate: inflateSync, br: brotliDecompressSync };

/** The text of a body kept as `chunks`, decoded by its `content-encoding`; undefined for an encoding tollgate cannot decode or a corrupt body. */
export function decodeBody(chunks: Buffer[], encoding: string | undefined): string | undefined {
  const raw = Buffer.concat(chunks);
  if (!encoding || encoding === 'identity') return raw.toString('utf8');
  const decode = decoders[encoding.trim().toLowerCase()];
  try {
    return decode ? decode(raw).toString('utf8') : undefined;
  } catch {
    return undefined;
  }
}

/** The `code` (else `type`) of an OpenAI-shaped error body, as a string; undefined when there is none. */
export function errorCodeOfBody(text: string | undefined): string | undefined {
  if (!text) return undefined;
  try {
    const e = (JSON.parse(text) as { error?: { code?: unknown; type?: unknown } }).error;
    const code = e?.code ?? e?.type;
    return code == null ? undefined : String(code);
  } catch {
    return undefined;
  }
}

/** How a response is tapped: an SSE stream through `meter`, or a JSON body kept for `output` metering (`keepBody`). */
export interface TapPlan {
  /** The meter of an SSE response (undefined: not SSE, or an endpoint without one). */
  meter?: StreamMeter;
  /** The meter rewrites events (tollgate added `include_usage`, the usage chunk is hidden). */
  hideUsage: boolean;
  /** Keep a non-SSE body (up to `MAX_METERED_BODY`) to meter it after the last byte. */
  keepBody: boolean;
  /** The response's `content-encoding`, to decode a kept body. */
  encoding?: string;
  /** What the endpoint's output tokens are, for metering a kept body. */
  output?: OutputModality;
}

/**
 * The meter tap: sees every chunk of the upstream's body on its way to the client and meters it.
 * SSE bodies are passed on in whole events as they complete, each fed to the meter, and rewritten
 * only when `hideUsage`; other bodies pass through byte-for-byte while a copy is kept. `observed`
 * reads what was metered once the body has ended (or broken off).
 */
export class MeterTap {
  private readonly framer = new SseFramer();
  private readonly kept: Buffer[] = [];
  private keptBytes = 0;

  constructor(private readonly plan: TapPlan) {}

  /** What to write to the client for `chunk`: the same bytes, the rewritten events, or nothing yet (an event not complete). */
  push(chunk: Buffer): Buffer | undefined {
    if (!this.plan.meter) {
      if (this.plan.keepBody && (this.keptBytes += chunk.byteLength) <= MAX_METERED_BODY) this.kept.push(chunk);
      return chunk;
    }
    const whole = this.framer.push(chunk);
    return whole && this.meterEvents(whole);
  }

  /** What is left to write once the upstream's body has ended: a last event without its blank line. */
  end(): Buffer | undefined {
    const rest = this.plan.meter && this.framer.rest();
    return (rest && this.meterEvents(rest)) || undefined;
  }

  /** What the body held: its metered usage (and model, text, object facts), and the upstream's error code for an error status. */
  observed(httpStatus: number): Pick<Observed, 'metered' | 'errorCode'> {
    const { meter, keepBody, encoding, output } = this.plan;
    let metered: Observed['metered'] = {};
    let text: string | undefined;
    if (meter) metered = meter.result();
    else if (keepBody && this.keptBytes <= MAX_METERED_BODY) metered = meterJsonBody((text = decodeBody(this.kept, encoding)) ?? '', output);
    const errorCode = metered.errorCode ?? (httpStatus >= 400 ? errorCodeOfBody(text ?? decodeBody(this.kept, encoding)) : undefined);
    return { metered, errorCode };
  }

  /** Meters whole events; returns what the client gets: the same bytes, or the rewritten events. */
  private meterEvents(whole: Buffer): Buffer | undefined {
    const meter = this.plan.meter!;
    const events = splitEvents(whole.toString('utf8'));
    if (!this.plan.hideUsage) {
      for (const e of events) meter.event(e);
      return whole;
    }
    let out = '';
    for (const e of events) out += meter.event(e) ?? '';
    return out ? Buffer.from(out) : undefined;
  }
}
