import { sseData } from './sse.js';
import { ToolCallCounter } from './tool-calls.js';
import { parseUsage, type Metered, type OutputModality } from './usage.js';

/** What metering a stream found: usage and model as in `Metered`, the text generated, and an error code the stream carried. */
export interface StreamMetered extends Metered {
  /** The generated text seen so far (content, refusals, tool-call names and arguments), for estimates. */
  outputText: string;
  /** `error.code` (or `error.type`) of an error event in the stream. */
  errorCode?: string;
  /** The id of the object the stream is about (a Responses object), for billing it once. */
  objectId?: string;
  /** The Responses object said `"background": true`: it runs on upstream whether or not the stream is read to its end. */
  background?: boolean;
}

/** Meters an SSE response event by event. */
export interface StreamMeter {
  /**
   * Takes one complete event block (see `splitEvents`) and returns the text to send on to the
   * client: the block itself, a rewritten block, or null to drop it.
   */
  event(block: string): string | null;
  result(): StreamMetered;
}

type Json = Record<string, unknown>;

function parseData(data: string): Json | undefined {
  if (!data.startsWith('{')) return undefined;
  try {
    const v: unknown = JSON.parse(data);
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : undefined;
  } catch {
    return undefined;
  }
}

function errorCodeOf(j: Json): string | undefined {
  const e = j.error as Json | undefined;
  if (!e || typeof e !== 'object') return undefined;
  return String(e.code ?? e.type ?? 'stream_error');
}

/**
 * Meters Chat Completions and legacy Completions streams (`data: {chunk}` … `data: [DONE]`).
 *
 * With `hideUsage` (the client did not ask for `stream_options.include_usage`, tollgate did), the
 * stream is rewritten to what OpenAI sends without that option: the usage-only chunk
 * (`"choices":[]` with `usage`) is dropped, and the `"usage":null` member OpenAI adds to every other
 * chunk is removed. That member can be cut out as text: inside a JSON string its quotes would be
 * escaped, so an unescaped `"usage":null` is always a key.
 * Wire format source: openai-openapi CreateChatCompletionStreamResponse, and recordings in which
 * the two variants of the same stream differ in exactly these ways.
 */
export function chatStreamMeter(hideUsage: boolean): StreamMeter {
  const out: StreamMetered = { outputText: '' };
  return {
    event(block) {
      const j = parseData(sseData(block));
      if (!j) return block;
      if (out.model === undefined && typeof j.model === 'string') out.model = j.model;
      if (typeof j.service_tier === 'string') out.serviceTier = j.service_tier;
      out.errorCode ??= errorCodeOf(j);
      const usage = parseUsage(j.usage);
      if (usage) out.usage = usage;
      if (Array.isArray(j.choices)) {
        for (const c of j.choices as Json[]) {
          const d = (c?.delta ?? {}) as Json;
          if (typeof d.content === 'string') out.outputText += d.content;
          if (typeof d.refusal === 'string') out.outputText += d.refusal;
          if (typeof c?.text === 'string') out.outputText += c.text;
          if (Array.isArray(d.tool_calls)) {
            for (const t of d.tool_calls as Json[]) {
              const f = (t?.function ?? {}) as Json;
              if (typeof f.name === 'string') out.outputText += f.name;
              if (typeof f.arguments === 'string') out.outputText += f.arguments;
            }
          }
        }
      }
      if (!hideUsage) return block;
      if (usage && Array.isArray(j.choices) && j.choices.length === 0) return null;
      return j.usage === null ? block.replace(/,"usage":null(?=[,}])|"usage":null,/, '') : block;
    },
    result: () => out,
  };
}

/** Response events that end a Responses stream and carry the final `response` with its `usage`. */
const TERMINAL = new Set(['response.completed', 'response.incomplete', 'response.failed']);
/** Response events whose `delta` is generated text. */
const TEXT_DELTAS = new Set([
  'response.output_text.delta',
  'response.refusal.delta',
  'response.function_call_arguments.delta',
  'response.reasoning_summary_text.delta',
  'response.custom_tool_call_input.delta',
]);

/** A meter that passes every event through unchanged and hands each JSON event, with its `type`, to `onEvent`. */
function observingMeter(onEvent: (j: Json, type: string, out: StreamMetered) => void): StreamMeter {
  const out: StreamMetered = { outputText: '' };
  return {
    event(block) {
      const j = parseData(sseData(block));
      if (j) onEvent(j, typeof j.type === 'string' ? j.type : '', out);
      return block;
    },
    result: () => out,
  };
}

/**
 * Meters a Responses API stream (`event: response.*` + `data: {...}`; no `[DONE]`). Usage comes
 * from `response.completed`, `response.incomplete` or `response.failed`; built-in tool calls from
 * `response.output_item.done` and the final response's `output` (each item counted once, by id);
 * `service_tier` from the response object. Passes every event through unchanged. Source:
 * openai-openapi ResponseStreamEvent.
 */
export function responsesStreamMeter(): StreamMeter {
  const tools = new ToolCallCounter();
  return observingMeter((j, type, out) => {
    if (TEXT_DELTAS.has(type) && typeof j.delta === 'string') {
      out.outputText += j.delta;
    } else if (type === 'response.output_item.done') {
      tools.add(j.item);
      out.toolCalls = tools.result();
    } else if (type === 'error') {
      out.errorCode ??= String(j.code ?? 'stream_error');
    } else {
      const response = j.response as Json | undefined;
      if (!response || typeof response !== 'object') return;
      if (typeof response.model === 'string') out.model = response.model;
      if (typeof response.id === 'string') out.objectId = response.id;
      if (typeof response.status === 'string') out.objectStatus = response.status;
      if (response.background === true) out.background = true;
      if (typeof response.service_tier === 'string') out.serviceTier = response.service_tier;
      if (TERMINAL.has(type)) {
        out.usage = parseUsage(response.usage) ?? out.usage;
        tools.addAll(response.output);
        out.toolCalls = tools.result();
        if (type === 'response.failed') out.errorCode ??= errorCodeOf(response) ?? 'response_failed';
      }
    }
  });
}

/**
 * A meter for streams of typed events (`data: {"type": ...}`) whose final event carries `usage`:
 * images (`image_generation.completed`, `image_edit.completed`), speech (`speech.audio.done`),
 * transcriptions (`transcript.text.done`). Text deltas (`transcript.text.delta`) are kept for
 * estimates. Passes every event through unchanged. Source: openai-openapi ImageGenStreamEvent,
 * ImageEditStreamEvent, SpeechAudioDoneEvent, TranscriptTextDoneEvent.
 */
function typedEventMeter(done: Set<string>, output: OutputModality): () => StreamMeter {
  return () =>
    observingMeter((j, type, out) => {
      if (type.endsWith('.delta') && typeof j.delta === 'string' && output === 'text') out.outputText += j.delta;
      if (done.has(type)) out.usage = parseUsage(j.usage, output) ?? out.usage;
      out.errorCode ??= errorCodeOf(j);
    });
}

/** gpt-image streams: usage on `image_generation.completed` / `image_edit.completed`, output priced as image tokens. */
export const imageStreamMeter = typedEventMeter(
  new Set(['image_generation.completed', 'image_edit.completed']),
  'image',
);
/** Speech over SSE: usage on `speech.audio.done`, output priced as audio tokens. */
export const speechStreamMeter = typedEventMeter(new Set(['speech.audio.done']), 'audio');
/** Streamed transcriptions: usage on `transcript.text.done`; text deltas kept for estimates. */
export const transcriptionStreamMeter = typedEventMeter(new Set(['transcript.text.done']), 'text');
