import { maxInputTokens } from '../metering/tokenizer.js';
import type { LedgerReader } from '../ledger/port.js';

/**
 * Hidden context: a Responses request naming `previous_response_id` or `conversation` carries
 * earlier turns the request body does not show, and OpenAI bills them as input tokens. Admission
 * holds for them from what tollgate recorded (docs/budgets.md, "What a request holds"):
 * - `previous_response_id`: the input + output tokens of the row that billed that response;
 * - `conversation` (an id, or `{ "id": … }`): the input + output tokens of the conversation's newest
 *   settled row;
 * only among the caller's company's rows. When tollgate recorded neither (the earlier turn went
 * to OpenAI directly, or is another company's), the model's whole input window is assumed
 * (gpt-tokenizer's `max_input_tokens` or `context_window`, 128,000 if unknown).
 */
export interface HiddenContext {
  /** Tokens held for the earlier turns (0 when the request continues nothing). */
  tokens: number;
  /** The conversation id, recorded on the row so the next turn can find it. */
  conversationId?: string;
  /** Whether the tokens came from a recorded row (`recorded`) or the model's window (`assumed`). */
  source?: 'recorded' | 'assumed';
}

const MAX_ID = 256;

/** The hidden context of a request body (see the module comment); never throws on odd input. */
export async function hiddenContext(
  reader: Pick<LedgerReader, 'contextTokens'>,
  companyId: string,
  path: string,
  model: string,
  body: Record<string, unknown>,
): Promise<HiddenContext> {
  if (path !== '/v1/responses') return { tokens: 0 };
  const responseId =
    typeof body.previous_response_id === 'string' && body.previous_response_id.length <= MAX_ID
      ? body.previous_response_id
      : undefined;
  const conv = body.conversation;
  const rawConversation =
    typeof conv === 'string'
      ? conv
      : conv && typeof conv === 'object' && typeof (conv as { id?: unknown }).id === 'string'
        ? (conv as { id: string }).id
        : undefined;
  const conversationId = rawConversation && rawConversation.length <= MAX_ID ? rawConversation : undefined;
  if (!responseId && !conversationId) return { tokens: 0 };
  const recorded = await reader.contextTokens(companyId, { responseId, conversationId });
  return recorded === undefined
    ? { tokens: maxInputTokens(model), conversationId, source: 'assumed' }
    : { tokens: recorded, conversationId, source: 'recorded' };
}
