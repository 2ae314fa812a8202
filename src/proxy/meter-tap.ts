import { BODY_TOO_LARGE, BodyDecoder } from '../metering/decode.js';
import { SseFramer, splitEvents } from '../metering/sse.js';
import type { StreamMeter } from '../metering/stream-meter.js';
import { meterJsonValue, type OutputModality } from '../metering/usage.js';
import type { Observed } from './outcome.js';

/**
 * Largest non-streamed body kept in memory for metering (decoded bytes): a larger identity body
 * passes through unmetered; a compressed one that inflates past it is cut (see `BodyDecoder`).
 */
export const MAX_METERED_BODY = 64 * 1024 * 1024;

/** The error that cuts a response whose decoded body passed `MAX_METERED_BODY` (code `upstream_body_too_large`). */
export const bodyTooLarge = () =>
  Object.assign(new Error(`the upstream response decodes to more than ${MAX_METERED_BODY} bytes`), {
    code: BODY_TOO_LARGE,
  });

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
  /** Keep a non-SSE body (decoded, up to `MAX_METERED_BODY`) to meter it after the last byte. */
  keepBody: boolean;
  /** The response's `content-encoding`, to decode a kept body as it passes (streaming, bounded). */
  encoding?: string;
  /** What the endpoint's output tokens are, for metering a kept body. */
  output?: OutputModality;
}

/**
 * The meter tap: sees every chunk of the upstream's body on its way to the client and meters it.
 * SSE bodies are passed on in whole events as they complete (linear framing, bounded event size),
 * each fed to the meter and to `onEvents`, and rewritten only when `hideUsage`; other bodies pass
 * through byte-for-byte while a decoded copy is kept (`decode` before each chunk goes on, so a
 * decompression bomb is cut before it reaches the client). `observed` reads what was metered once
 * the body has ended (or broken off).
 */
export class MeterTap {
  private readonly framer = new SseFramer();
  private readonly decoder?: BodyDecoder;
  /** The kept body's text, once `endBody` has decoded it. */
  text?: string;
  private parsed?: { value: unknown };

  constructor(
    private readonly plan: TapPlan,
    private readonly onEvents?: (events: string[]) => void,
  ) {
    if (!plan.meter && plan.keepBody) this.decoder = new BodyDecoder(plan.encoding, MAX_METERED_BODY);
  }

  /**
   * Feeds `chunk` to the body's decoder (a kept, non-SSE body). Returns undefined when it is done
   * with it (no decoder, or an identity body), else a promise that resolves once zlib has inflated
   * it. The promise rejects with the `upstream_body_too_large` error when the decoded body passed
   * `MAX_METERED_BODY`.
   */
  decode(chunk: Buffer): Promise<void> | undefined {
    const decoder = this.decoder;
    const inflating = decoder?.push(chunk);
    return inflating?.then(() => {
      if (decoder!.overflowed) throw bodyTooLarge();
    });
  }

  /**
   * What to write to the client for `chunk`: the same bytes, the rewritten events, or nothing yet
   * (an event not complete).
   * @throws the `upstream_event_too_large` error for an SSE event past the framer's bound.
   */
  push(chunk: Buffer): Buffer | undefined {
    if (!this.plan.meter) return chunk;
    const whole = this.framer.push(chunk);
    return whole && this.meterEvents(whole);
  }

  /** What is left to write once the upstream's body has ended: a last event without its blank line. */
  end(): Buffer | undefined {
    const rest = this.plan.meter && this.framer.rest();
    return (rest && this.meterEvents(rest)) || undefined;
  }

  /**
   * Decodes what is left of a kept body and keeps its text (`text`).
   * @throws the `upstream_body_too_large` error as `decode` does.
   */
  async endBody(): Promise<string | undefined> {
    if (!this.decoder) return undefined;
    this.text = await this.decoder.end();
    if (this.decoder.overflowed) throw bodyTooLarge();
    return this.text;
  }

  /**
   * The kept body parsed as JSON, once for every reader (metering, ownership): undefined when there
   * is no kept body or it is not JSON.
   */
  json(): unknown {
    if (this.parsed === undefined && this.text !== undefined) {
      try {
        this.parsed = { value: JSON.parse(this.text) };
      } catch {
        this.parsed = { value: undefined };
      }
    }
    return this.parsed?.value;
  }

  /** An SSE stream's meter has seen its usage (the events from there on end the stream). */
  get sawUsage(): boolean {
    return this.plan.meter?.result().usage !== undefined;
  }

  /** Stops decoding (the response broke off, or was answered). */
  abandon(): void {
    this.decoder?.abandon();
  }

  /** What the body held: its metered usage (and model, text, object facts), and the upstream's error code for an error status. */
  observed(httpStatus: number): Pick<Observed, 'metered' | 'errorCode'> {
    const { meter, output } = this.plan;
    let metered: Observed['metered'] = {};
    if (meter) metered = meter.result();
    else if (this.text !== undefined) metered = meterJsonValue(this.json(), output);
    const errorCode = metered.errorCode ?? (httpStatus >= 400 ? errorCodeOfBody(this.text) : undefined);
    return { metered, errorCode };
  }

  /** Meters whole events; returns what the client gets: the same bytes, or the rewritten events. */
  private meterEvents(whole: Buffer): Buffer | undefined {
    const meter = this.plan.meter!;
    const events = splitEvents(whole.toString('utf8'));
    this.onEvents?.(events);
    if (!this.plan.hideUsage) {
      for (const e of events) meter.event(e);
      return whole;
    }
    let out = '';
    let changed = false;
    for (const e of events) {
      const kept = meter.event(e);
      if (kept !== e) changed = true;
      out += kept ?? '';
    }
    // Events passed on as they came: the same bytes, not a copy of them.
    if (!changed) return whole;
    return out ? Buffer.from(out) : undefined;
  }
}
