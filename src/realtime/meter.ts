import type { Usage } from '../metering/usage.js';
import type { ResponseKind } from './responses.js';
import { base64Bytes, responseUsage, transcriptionUsage, type PartialOutput } from './usage.js';

/**
 * Reads the upstream's Realtime server events for what billing needs, without changing them.
 * Event names and shapes: OpenAI's Realtime reference (openai-node `resources/realtime/realtime.ts`
 * and `resources/beta/realtime`), both the GA names (`response.output_text.delta`, …) and the
 * beta ones (`response.text.delta`, …).
 */

/** What one server event means for billing; undefined for the events billing ignores. */
export type Signal =
  | { kind: 'response.created'; responseId: string; conversation: ResponseKind }
  | {
      kind: 'response.done';
      responseId: string;
      usage?: Usage;
      status?: string;
      errorCode?: string;
      seen: PartialOutput;
    }
  | { kind: 'transcription'; model: string | undefined; usage?: Usage }
  /** An `error` event: `eventId` is the client event it answers (`error.event_id`), `code` its `error.code` (else `error.type`). */
  | { kind: 'error'; eventId?: string; code?: string }
  /**
   * The session's configuration as the upstream confirmed it: `autoResponses` is whether the
   * upstream starts responses by itself (turn detection on with `create_response` not false);
   * undefined when the event does not say.
   */
  | { kind: 'session'; autoResponses?: boolean };

type Json = Record<string, unknown>;
const obj = (v: unknown): Json | undefined =>
  v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : undefined;
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

const TEXT_DELTAS = new Set(['response.output_text.delta', 'response.text.delta']);
const AUDIO_DELTAS = new Set(['response.output_audio.delta', 'response.audio.delta']);
const SESSION_EVENTS = new Set([
  'session.created',
  'session.updated',
  'transcription_session.created',
  'transcription_session.updated',
]);

/** One session's reading of the server events: session facts and the output of responses in flight. */
export class RealtimeMeter {
  /** The upstream's session id (`sess_…`). */
  upstreamSessionId?: string;
  /** The input transcription model in force (session `audio.input.transcription.model`, beta `input_audio_transcription.model`). */
  transcriptionModel?: string;
  private readonly partial = new Map<string, PartialOutput>();

  /** Reads one server event (the frame's text); never throws. */
  read(text: string): Signal | undefined {
    let event: Json | undefined;
    try {
      event = obj(JSON.parse(text));
    } catch {
      return undefined;
    }
    const type = str(event?.type);
    if (!event || !type) return undefined;
    if (TEXT_DELTAS.has(type) || AUDIO_DELTAS.has(type)) {
      const id = str(event.response_id);
      const delta = str(event.delta);
      if (!id || delta === undefined) return undefined;
      const seen = this.partial.get(id) ?? { text: '', audioBytes: 0 };
      if (TEXT_DELTAS.has(type)) seen.text += delta;
      else seen.audioBytes += base64Bytes(delta);
      this.partial.set(id, seen);
      return undefined;
    }
    if (SESSION_EVENTS.has(type)) return this.readSession(obj(event.session), type.startsWith('transcription_'));
    if (type === 'error') {
      const error = obj(event.error);
      return { kind: 'error', eventId: str(error?.event_id), code: str(error?.code) ?? str(error?.type) };
    }
    if (type === 'response.created' || type === 'response.done') {
      const response = obj(event.response);
      const responseId = str(response?.id);
      if (!responseId) return undefined;
      if (type === 'response.created') {
        this.partial.set(responseId, { text: '', audioBytes: 0 });
        const conversation =
          response && 'conversation_id' in response
            ? response.conversation_id === null
              ? 'out_of_band'
              : 'in_conversation'
            : 'unknown';
        return { kind: 'response.created', responseId, conversation };
      }
      const seen = this.partialOf(responseId);
      this.partial.delete(responseId);
      const error = obj(obj(response?.status_details)?.error);
      return {
        kind: 'response.done',
        responseId,
        usage: responseUsage(response?.usage),
        status: str(response?.status),
        errorCode: str(error?.code) ?? str(error?.type),
        seen,
      };
    }
    if (type === 'conversation.item.input_audio_transcription.completed') {
      return { kind: 'transcription', model: this.transcriptionModel, usage: transcriptionUsage(event.usage) };
    }
    return undefined;
  }

  /** What a response still in flight has sent so far. */
  partialOf(responseId: string): PartialOutput {
    return this.partial.get(responseId) ?? { text: '', audioBytes: 0 };
  }

  /**
   * Session facts: the upstream's id, the input transcription model, and whether turn detection
   * starts responses (GA `audio.input.turn_detection`, beta `turn_detection`: null is off; an
   * object starts responses unless its `create_response` is false; a transcription session never does).
   */
  private readSession(session: Json | undefined, transcriptionOnly: boolean): Signal | undefined {
    if (!session) return undefined;
    this.upstreamSessionId = str(session.id) ?? this.upstreamSessionId;
    const input = obj(obj(session.audio)?.input);
    const ga = obj(input?.transcription);
    const beta = obj(session.input_audio_transcription);
    if ('audio' in session || 'input_audio_transcription' in session)
      this.transcriptionModel = str(ga?.model) ?? str(beta?.model);
    // A transcription session never runs responses.
    if (transcriptionOnly || session.type === 'transcription') return { kind: 'session', autoResponses: false };
    const holder = input && 'turn_detection' in input ? input : 'turn_detection' in session ? session : undefined;
    if (!holder) return { kind: 'session' };
    const detection = obj(holder.turn_detection);
    return { kind: 'session', autoResponses: detection !== undefined && detection.create_response !== false };
  }
}
