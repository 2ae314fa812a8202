import { contentTokens, MESSAGE_OVERHEAD, responsesItemsTokens } from './prompt-count.js';
import { countTokens } from './tokenizer.js';
import { textOf } from './walk.js';

/**
 * Prompt tokens of the reasoning models (gpt-5 and its snapshots, codex, the o-series), counted on
 * the harmony chat template OpenAI published for its reasoning models (openai/harmony,
 * docs/format.md, "Prompt format"). Each special token (`<|start|>`, `<|message|>`, `<|end|>`,
 * `<|channel|>`, `<|constrain|>`, `<|call|>`) is one token; the rest is text in o200k_base:
 * - a message: `<|start|>{role}<|message|>{content}<|end|>` — 3 + role + content, like the
 *   cookbook's rule for the other models (system and developer messages are the developer message,
 *   the content as written);
 * - an assistant message of the history: `<|start|>assistant<|channel|>final<|message|>…<|end|>` — 2 more;
 * - a function call: `<|start|>assistant<|channel|>commentary to=functions.{name} <|constrain|>json<|message|>{arguments}<|call|>`;
 * - its result: `<|start|>functions.{name} to=assistant<|channel|>commentary<|message|>{output}<|end|>`;
 * - the reply is primed with `<|start|>assistant` (2 tokens, where the cookbook's template primes 3).
 * Function definitions are counted by the cookbook's formula like every model's (tool-schema.ts).
 */

type Json = Record<string, unknown>;

const obj = (v: unknown): Json | undefined =>
  v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : undefined;
const str = (v: unknown): string => (typeof v === 'string' ? v : '');

/** `<|start|>assistant` priming the reply. */
export const HARMONY_PRIMING = 2;
/** `<|channel|>` in a history assistant message (before `final`). */
const CHANNEL = 1;

/** Whether `family` (a model family, see modelFamily) is a reasoning model counted on the harmony template. */
export function usesHarmony(family: string): boolean {
  return /^(gpt-5(?![.\d-]*-chat)|o\d|codex-|gpt-oss)/.test(family);
}

/** One function call: `<|start|>assistant<|channel|>commentary to=functions.{name} <|constrain|>json<|message|>{args}<|call|>`. */
function callTokens(model: string, name: string, args: string): number {
  return (
    5 +
    countTokens(model, 'assistant') +
    countTokens(model, `commentary to=functions.${name} `) +
    1 +
    countTokens(model, args)
  );
}

/** One result: `<|start|>functions.{name} to=assistant<|channel|>commentary<|message|>{output}<|end|>`. */
function resultTokens(model: string, name: string, output: string): number {
  return (
    4 +
    countTokens(model, `functions.${name} to=assistant`) +
    countTokens(model, 'commentary') +
    countTokens(model, output)
  );
}

/** The names of the functions called, by call id (`tool_calls[].id`, a Responses item's `call_id`), so that results can name them. */
class CallNames {
  private readonly names = new Map<string, string>();
  set(id: unknown, name: string) {
    if (typeof id === 'string') this.names.set(id, name);
  }
  get(id: unknown, fallback: unknown): string {
    return (typeof id === 'string' ? this.names.get(id) : undefined) ?? str(fallback);
  }
}

/** Tokens of one Chat message on the harmony template (calls and results included). */
function chatMessage(model: string, m: Json, calls: CallNames): number {
  const role = str(m.role);
  if (role === 'tool' || role === 'function')
    return resultTokens(
      model,
      calls.get(m.tool_call_id, m.name),
      typeof m.content === 'string' ? m.content : textOf(m.content, false),
    );
  if (role !== 'assistant') return MESSAGE_OVERHEAD + countTokens(model, role) + contentTokens(model, m.content);
  const toolCalls = Array.isArray(m.tool_calls) ? m.tool_calls : [];
  if (m.function_call) toolCalls.push({ function: m.function_call });
  const content = contentTokens(model, m.content);
  let total =
    content > 0 || toolCalls.length === 0
      ? MESSAGE_OVERHEAD + countTokens(model, role) + CHANNEL + countTokens(model, 'final') + content
      : 0;
  for (const raw of toolCalls) {
    const call = obj(raw) ?? {};
    const f = obj(call.function) ?? call;
    calls.set(call.id, str(f.name));
    total += callTokens(model, str(f.name), str(f.arguments));
  }
  return total;
}

/** Prompt tokens of Chat Completions `messages` on the harmony template (without the reply priming). */
export function harmonyChatTokens(model: string, messages: unknown): number {
  if (!Array.isArray(messages)) return 0;
  const calls = new CallNames();
  let total = 0;
  for (const m of messages) total += obj(m) ? chatMessage(model, m as Json, calls) : MESSAGE_OVERHEAD;
  return total;
}

/** Prompt tokens of a Responses `input` and `instructions` on the harmony template (without the reply priming). */
export function harmonyResponsesTokens(model: string, input: unknown, instructions: unknown): number {
  const calls = new CallNames();
  return responsesItemsTokens(model, input, instructions, {
    instructionsRole: 'developer',
    message: (item) => chatMessage(model, item, calls),
    call: (item) => {
      calls.set(item.call_id, str(item.name));
      return callTokens(model, str(item.name), str(item.arguments ?? item.input));
    },
    result: (item, output) => resultTokens(model, calls.get(item.call_id, ''), output),
  });
}
