import type { Price } from './types.js';
import { modelFamily } from '../metering/model.js';
import { imageOutputTokens } from '../metering/image-tokens.js';
import { decimalOf, ExactSum, PER_MILLION } from './exact.js';
import type { ToolCalls } from '../metering/tool-calls.js';

/**
 * Fees OpenAI charges outside `usage`, in integer nano-USD (1 USD = 1e9), and what tollgate holds
 * for them at admission. The web search and file search fees come from the model's price when the
 * price source has them (`webSearch`, `fileSearch`); the rest are tollgate's own entries, read 2026-11-30:
 * - web search: `web_search` $10 per 1,000 calls, search content tokens at model rates;
 *   `web_search_preview` $10 per 1,000 calls on reasoning models (gpt-5, o-series) and $25 per
 *   1,000 on other models, whose search content tokens are free (OpenAI pricing page "Built-in
 *   tools", as quoted by OpenAI staff on community.openai.com/t/search-web-using-openai-api/1363698
 *   and by modelcostwatch.com/openai/tool-costs/web-search, checked 2026-03-12);
 * - the search-preview chat models (`gpt-4o-search-preview`, `gpt-4o-mini-search-preview`) search on
 *   every request: one preview call ($25 per 1,000) per successful request;
 * - file search: $2.50 per 1,000 calls, Responses API (modelcostwatch.com/openai/tool-costs/file-search,
 *   citing the pricing page; also community.openai.com/t/…/1364328);
 * - code interpreter: per container by memory, 1 GB $0.03, 4 GB $0.12, 16 GB $0.48, 64 GB $1.92 per
 *   20-minute session (simoncarter.ai, "OpenAI container sessions now billed per minute"). Since
 *   2026-06-02 OpenAI bills the same rate per minute with a 5-minute minimum; a response does not
 *   say how long its container ran, so tollgate charges the 20-minute price per container — an
 *   upper bound of OpenAI's charge;
 * - image generation tool: the image's output tokens at the image model's `imageOutput` price, by
 *   the tool's `quality` and `size` (gpt-image-1 output token table, see estimate.ts).
 */

/** One web search call on `web_search`, or on `web_search_preview` with a reasoning model ($10 / 1k). */
const WEB_SEARCH_NANO = 10_000_000;
/** One `web_search_preview` call with a non-reasoning model, and one search-preview chat request ($25 / 1k). */
const WEB_SEARCH_PREVIEW_NANO = 25_000_000;
/** One file search call ($2.50 / 1k). */
const FILE_SEARCH_NANO = 2_500_000;
/** One code interpreter container by `memory_limit`. */
const CONTAINER_NANO: Record<string, number> = {
  '1g': 30_000_000,
  '4g': 120_000_000,
  '16g': 480_000_000,
  '64g': 1_920_000_000,
};

/** The built-in tools a request enables and their settings, read from its `tools` at admission. */
export interface ToolPlan {
  webSearch?: 'web_search' | 'web_search_preview';
  fileSearch?: { maxResults?: number };
  codeInterpreter?: { memory: string };
  imageGeneration?: { model: string; quality?: string; size?: string };
  /** A search-preview chat model, which searches on every request. */
  searchPreviewModel?: boolean;
}

type Json = Record<string, unknown>;

/** Reasoning models, whose `web_search_preview` calls cost $10 / 1k and bill content tokens. */
const isReasoning = (model: string) => /^(o\d|gpt-5(?!-chat))/.test(modelFamily(model));

/** The built-in tools of a request body (`tools` entries by `type`), or undefined when it enables none. */
export function toolPlanOf(model: string, body: Json): ToolPlan | undefined {
  const plan: ToolPlan = {};
  if (/search-preview/.test(modelFamily(model))) plan.searchPreviewModel = true;
  const tools = Array.isArray(body.tools) ? body.tools : [];
  for (const raw of tools) {
    const t = raw && typeof raw === 'object' ? (raw as Json) : {};
    const type = typeof t.type === 'string' ? t.type : '';
    if (type === 'web_search' || type.startsWith('web_search_2')) plan.webSearch = 'web_search';
    else if (type.startsWith('web_search_preview')) plan.webSearch ??= 'web_search_preview';
    else if (type === 'file_search')
      plan.fileSearch = { maxResults: typeof t.max_num_results === 'number' ? t.max_num_results : undefined };
    else if (type === 'code_interpreter') {
      const c = t.container && typeof t.container === 'object' ? (t.container as Json) : {};
      plan.codeInterpreter = {
        memory: typeof c.memory_limit === 'string' && CONTAINER_NANO[c.memory_limit] ? c.memory_limit : '1g',
      };
    } else if (type === 'image_generation') {
      plan.imageGeneration = {
        model: typeof t.model === 'string' ? t.model : 'gpt-image-1',
        quality: typeof t.quality === 'string' ? t.quality : undefined,
        size: typeof t.size === 'string' ? t.size : undefined,
      };
    }
  }
  return Object.keys(plan).length > 0 ? plan : undefined;
}

/** A fee in USD per 1,000 calls as integer nano-USD per call (exact for fees with ≤ 6 decimals), or `fallback`. */
function perCallNano(usdPerThousand: number | undefined, fallback: number): number {
  if (usdPerThousand === undefined) return fallback;
  const d = decimalOf(usdPerThousand);
  return d.scale <= 6 ? Number(d.units * 10n ** BigInt(6 - d.scale)) : Math.ceil(usdPerThousand * 1e6);
}

/**
 * The fee of one web search call for `model` under `plan` (nano-USD): the model's `webSearch`
 * price when the price source has it, else $10 / 1k; `web_search_preview` on a non-reasoning model
 * $25 / 1k (the source has no preview fee).
 */
function webSearchFee(model: string, plan: ToolPlan | undefined, price: Price | undefined): number {
  return plan?.webSearch === 'web_search_preview' && !isReasoning(model)
    ? WEB_SEARCH_PREVIEW_NANO
    : perCallNano(price?.webSearch, WEB_SEARCH_NANO);
}

/** The fee of one image generated by the image tool, at `imagePrice` (the tool model's price; nano-USD, rounded half up). */
function imageToolFee(plan: ToolPlan | undefined, imagePrice: Price | undefined): number {
  const perToken = imagePrice?.imageOutput ?? imagePrice?.output ?? 0;
  const tokens = imageOutputTokens(plan?.imageGeneration?.quality, plan?.imageGeneration?.size);
  return Number(new ExactSum().add(tokens, perToken, PER_MILLION).nano());
}

/**
 * The fees of the built-in tool calls a response reports (nano-USD), plus one search-preview
 * call for a successful request to a search-preview chat model. `imagePrice` is the price of the
 * image tool's model, when known; `price` the model's own (its `webSearch` / `fileSearch` fees).
 */
export function toolFeesNano(
  model: string,
  plan: ToolPlan | undefined,
  calls: ToolCalls | undefined,
  imagePrice?: Price,
  price?: Price,
): number {
  let fee = plan?.searchPreviewModel ? WEB_SEARCH_PREVIEW_NANO : 0;
  if (!calls) return fee;
  fee += (calls.web_search ?? 0) * webSearchFee(model, plan, price);
  fee += (calls.file_search ?? 0) * perCallNano(price?.fileSearch, FILE_SEARCH_NANO);
  fee +=
    (calls.code_interpreter ?? 0) * (CONTAINER_NANO[plan?.codeInterpreter?.memory ?? '1g'] ?? CONTAINER_NANO['1g']!);
  fee += (calls.image_generation ?? 0) * imageToolFee(plan, imagePrice);
  return fee;
}

/** Tool calls assumed at admission per enabled tool when the request sets no `max_tool_calls`. */
export const DEFAULT_TOOL_CALLS = 3;
/**
 * Input tokens one web search call may add (search results fed back to the model): 20,000, above
 * the 17,391 a recorded single search added to a 63-token prompt (and above the fixed 8,000 OpenAI
 * bills per call for gpt-4o-mini and gpt-4.1-mini).
 */
export const WEB_SEARCH_TOKENS_PER_CALL = 20_000;
/** Input tokens per file search result: the default chunk size, 800 tokens (OpenAI file search guide). */
export const FILE_SEARCH_TOKENS_PER_RESULT = 800;
/** Results per file search call when the tool sets no `max_num_results` (the tool's default, 10). */
export const FILE_SEARCH_DEFAULT_RESULTS = 10;

/**
 * What admission holds for a request's built-in tools beyond its counted prompt: the input tokens
 * the tools may add and the fees of the calls they may make (docs/budgets.md, "Built-in
 * tools and earlier turns"). Calls per tool: the request's `max_tool_calls`, else `DEFAULT_TOOL_CALLS`; web search
 * `WEB_SEARCH_TOKENS_PER_CALL` tokens per call; file search 800 tokens × `max_num_results` (default
 * 10) per call; code interpreter one container; image generation one image per call at the worst
 * size and quality the tool allows.
 */
export function toolAllowance(
  model: string,
  plan: ToolPlan | undefined,
  body: Json,
  imagePrice?: Price,
  price?: Price,
): { inputTokens: number; feeNano: number } {
  if (!plan) return { inputTokens: 0, feeNano: 0 };
  const max =
    typeof body.max_tool_calls === 'number' && Number.isSafeInteger(body.max_tool_calls) && body.max_tool_calls > 0
      ? body.max_tool_calls
      : DEFAULT_TOOL_CALLS;
  let inputTokens = 0;
  const calls: ToolCalls = {};
  if (plan.webSearch) {
    calls.web_search = max;
    inputTokens += max * WEB_SEARCH_TOKENS_PER_CALL;
  }
  if (plan.fileSearch) {
    calls.file_search = max;
    inputTokens +=
      max *
      FILE_SEARCH_TOKENS_PER_RESULT *
      Math.max(1, Math.min(50, plan.fileSearch.maxResults ?? FILE_SEARCH_DEFAULT_RESULTS));
  }
  if (plan.codeInterpreter) calls.code_interpreter = 1;
  if (plan.imageGeneration) calls.image_generation = max;
  if (plan.searchPreviewModel) inputTokens += WEB_SEARCH_TOKENS_PER_CALL;
  return { inputTokens, feeNano: toolFeesNano(model, plan, calls, imagePrice, price) };
}
