import { HARMONY_PRIMING, harmonyChatTokens, harmonyResponsesTokens, usesHarmony } from './harmony.js';
import { modelFamily } from './model.js';
import { chatMessagesTokens, REPLY_PRIMING, responsesInputTokens } from './prompt-count.js';
import { toolDefinitionTokens } from './tool-schema.js';

/**
 * A request's prompt tokens on its model's chat template: the reasoning models (gpt-5, codex, the
 * o-series) on the harmony template (harmony.ts), every other model on the cookbook's
 * (prompt-count.ts); function definitions by the cookbook's formula for both (tool-schema.ts).
 */

/** Prompt tokens of a Chat Completions request: its messages, the reply priming and its tool definitions. */
export function chatPromptTokens(model: string, messages: unknown, tools: unknown): number {
  const harmony = usesHarmony(modelFamily(model));
  const body = harmony
    ? harmonyChatTokens(model, messages) + HARMONY_PRIMING
    : chatMessagesTokens(model, messages) + REPLY_PRIMING;
  return body + toolDefinitionTokens(model, tools);
}

/** Prompt tokens of a Responses request: its instructions and input items, the reply priming and its tool definitions. */
export function responsesPromptTokens(model: string, input: unknown, instructions: unknown, tools: unknown): number {
  const harmony = usesHarmony(modelFamily(model));
  const body = harmony
    ? harmonyResponsesTokens(model, input, instructions) + HARMONY_PRIMING
    : responsesInputTokens(model, input, instructions) + REPLY_PRIMING;
  return body + toolDefinitionTokens(model, tools);
}
