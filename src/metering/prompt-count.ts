import { dataUrlImageSize } from './image-size.js';
import { imageTokens } from './image-tokens.js';
import { countTokens } from './tokenizer.js';
import { textOf } from './walk.js';

/**
 * Prompt tokens of Chat Completions messages and Responses input items, counted as OpenAI counts
 * them. Source: OpenAI cookbook, "How to count tokens with tiktoken", `num_tokens_from_messages`
 * (models from gpt-3.5-turbo-0613 on): every message costs 3 tokens plus the tokens of each of its
 * values — its `role` included — and a `name` one more; every reply is primed with 3 tokens
 * (`<|start|>assistant<|message|>`). Where the cookbook is silent, rules measured on the recorded
 * exchanges (docs/budgets.md, "Counting the prompt"): a tool call counts its function name and
 * arguments, its id is not shown to the model (`tool_call_id`, `call_id`, `id` count 0); audio and
 * file parts count 0 (their tokens are known only from the upstream's usage).
 */

type Json = Record<string, unknown>;

/** Tokens of each message or input item beyond its values (cookbook `tokens_per_message`). */
export const MESSAGE_OVERHEAD = 3;
/** Tokens priming the reply (cookbook: "every reply is primed with <|start|>assistant<|message|>"). */
export const REPLY_PRIMING = 3;
/** Tokens of a `name` beyond its text (cookbook `tokens_per_name`). */
const NAME_OVERHEAD = 1;
/**
 * Tokens of a tool call beyond its name and arguments, and of a tool result (`role: "tool"`) beyond
 * its message: not published; measured on the recorded gpt-4o tool exchange (one call and its
 * result cost 11 tokens more than their text and message overheads).
 */
const TOOL_CALL_OVERHEAD = 7;
const TOOL_RESULT_OVERHEAD = 4;

const obj = (v: unknown): Json | undefined =>
  v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : undefined;
const str = (v: unknown): string => (typeof v === 'string' ? v : '');

/** Tokens of one image part (`image_url` in Chat, `input_image` in Responses) by the model's rule. */
function imagePart(model: string, part: Json): number {
  const image = obj(part.image_url);
  const url = str(image?.url) || str(part.image_url);
  const detail = image?.detail ?? part.detail;
  return imageTokens(model, detail, url ? dataUrlImageSize(url) : undefined);
}

/**
 * Tokens of a message's `content`: a string, or an array of text, image, audio and file parts.
 * Consecutive text parts are counted as the one text the template renders them into (joined as
 * they are, so a word split across two parts counts once); an image part ends the run.
 */
export function contentTokens(model: string, content: unknown): number {
  if (typeof content === 'string') return countTokens(model, content);
  if (!Array.isArray(content)) return content == null ? 0 : countTokens(model, textOf(content, false));
  let total = 0;
  let run = '';
  const flush = () => {
    total += countTokens(model, run);
    run = '';
  };
  for (const raw of content) {
    const part = obj(raw);
    if (!part) {
      if (typeof raw === 'string') run += raw;
      continue;
    }
    switch (part.type) {
      case 'text':
      case 'input_text':
      case 'output_text':
        run += str(part.text);
        break;
      case 'refusal':
        run += str(part.refusal);
        break;
      case 'image_url':
      case 'input_image':
        flush();
        total += imagePart(model, part);
        break;
      case 'input_audio':
      case 'file':
      case 'input_file':
        break;
      default:
        flush();
        total += countTokens(model, textOf(part, false));
    }
  }
  flush();
  return total;
}

/** Tokens of an assistant message's `tool_calls` (or legacy `function_call`): each function's name and arguments. */
function toolCallTokens(model: string, message: Json): number {
  let total = 0;
  const calls = Array.isArray(message.tool_calls) ? message.tool_calls : [];
  if (message.function_call) calls.push({ function: message.function_call });
  for (const call of calls) {
    const f = obj(obj(call)?.function) ?? obj(call);
    if (!f) continue;
    total += TOOL_CALL_OVERHEAD + countTokens(model, str(f.name)) + countTokens(model, str(f.arguments));
  }
  return total;
}

/** Tokens of one Chat message or Responses message item (role, content, name, tool calls and the per-message overhead). */
function messageTokens(model: string, m: Json): number {
  let total = MESSAGE_OVERHEAD + countTokens(model, str(m.role)) + contentTokens(model, m.content);
  if (typeof m.name === 'string') total += countTokens(model, m.name) + NAME_OVERHEAD;
  if (m.role === 'tool' || m.role === 'function') total += TOOL_RESULT_OVERHEAD;
  return total + toolCallTokens(model, m);
}

/** Prompt tokens of Chat Completions `messages` (without the reply priming). */
export function chatMessagesTokens(model: string, messages: unknown): number {
  if (!Array.isArray(messages)) return 0;
  let total = 0;
  for (const m of messages) total += obj(m) ? messageTokens(model, m as Json) : MESSAGE_OVERHEAD;
  return total;
}

/** How one chat template counts the parts of a Responses input (see `responsesItemsTokens`). */
export interface ItemRules {
  /** The role `instructions` are rendered as (`system`, or `developer` on the harmony template). */
  instructionsRole: string;
  message(item: Json): number;
  /** A `function_call` or `custom_tool_call` item. */
  call(item: Json): number;
  /** A `*_call_output` item, its output as text. */
  result(item: Json, output: string): number;
}

/**
 * Prompt tokens of a Responses `input` (a string, or items) and `instructions` (a message of
 * `rules.instructionsRole`), without the reply priming, by a template's `rules`: messages, calls,
 * results (`*_call_output`); `reasoning` its summary text; `item_reference` 0 (an earlier item,
 * hidden context); any other item a message of the text of its values.
 */
export function responsesItemsTokens(model: string, input: unknown, instructions: unknown, rules: ItemRules): number {
  const plain = (role: string, text: string) => MESSAGE_OVERHEAD + countTokens(model, role) + countTokens(model, text);
  let total = typeof instructions === 'string' ? plain(rules.instructionsRole, instructions) : 0;
  if (typeof input === 'string') return total + plain('user', input);
  if (!Array.isArray(input)) return total;
  for (const raw of input) {
    const item = obj(raw);
    if (!item) continue;
    const type = item.type ?? 'message';
    if (type === 'message') total += rules.message(item);
    else if (type === 'function_call' || type === 'custom_tool_call') total += rules.call(item);
    else if (typeof type === 'string' && type.endsWith('_call_output'))
      total += rules.result(item, typeof item.output === 'string' ? item.output : textOf(item.output, false));
    else if (type === 'reasoning') total += countTokens(model, textOf(item.summary, false));
    else if (type !== 'item_reference') total += MESSAGE_OVERHEAD + countTokens(model, textOf(item, false));
  }
  return total;
}

/** Prompt tokens of a Responses `input` and `instructions` on the cookbook's template (`responsesItemsTokens`). */
export function responsesInputTokens(model: string, input: unknown, instructions: unknown): number {
  return responsesItemsTokens(model, input, instructions, {
    instructionsRole: 'system',
    message: (item) => messageTokens(model, item),
    call: (item) =>
      MESSAGE_OVERHEAD +
      TOOL_CALL_OVERHEAD +
      countTokens(model, str(item.name)) +
      countTokens(model, str(item.arguments ?? item.input)),
    result: (_item, output) => MESSAGE_OVERHEAD + TOOL_RESULT_OVERHEAD + countTokens(model, output),
  });
}
