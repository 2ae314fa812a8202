/**
 * Built-in tool calls a Responses object reports in its `output`, which OpenAI bills outside
 * `usage` (https://platform.openai.com/docs/pricing, "Built-in tools"). Item types, from
 * openai-openapi's OutputItem: `web_search_call`, `file_search_call`, `code_interpreter_call`
 * (with its `container_id`), `image_generation_call`.
 */

/** Calls counted per built-in tool; `code_interpreter` counts containers (distinct `container_id`s), not calls. */
export interface ToolCalls {
  web_search?: number;
  file_search?: number;
  code_interpreter?: number;
  image_generation?: number;
}

const ITEM_TOOL: Record<string, keyof ToolCalls> = {
  web_search_call: 'web_search',
  file_search_call: 'file_search',
  code_interpreter_call: 'code_interpreter',
  image_generation_call: 'image_generation',
};

type Json = Record<string, unknown>;

/** Collects built-in tool calls from output items one by one (JSON bodies and streams alike). */
export class ToolCallCounter {
  private readonly counts: ToolCalls = {};
  private readonly containers = new Set<string>();
  private readonly seen = new Set<string>();

  /** Counts one output item; an item whose `id` was counted before is ignored (streams repeat items). */
  add(item: unknown): void {
    if (!item || typeof item !== 'object' || Array.isArray(item)) return;
    const i = item as Json;
    const tool = typeof i.type === 'string' ? ITEM_TOOL[i.type] : undefined;
    if (!tool) return;
    if (typeof i.id === 'string') {
      if (this.seen.has(i.id)) return;
      this.seen.add(i.id);
    }
    if (tool === 'code_interpreter' && typeof i.container_id === 'string') {
      if (this.containers.has(i.container_id)) return;
      this.containers.add(i.container_id);
    }
    this.counts[tool] = (this.counts[tool] ?? 0) + 1;
  }

  /** Counts every item of an `output` array (anything else is ignored). */
  addAll(output: unknown): void {
    if (Array.isArray(output)) for (const item of output) this.add(item);
  }

  /** The counts so far, or undefined when no built-in tool was called. */
  result(): ToolCalls | undefined {
    return Object.keys(this.counts).length > 0 ? { ...this.counts } : undefined;
  }
}

/** The built-in tool calls of a Responses `output` array, or undefined when there are none. */
export function toolCallsOf(output: unknown): ToolCalls | undefined {
  const c = new ToolCallCounter();
  c.addAll(output);
  return c.result();
}
