import { encodingOf, countTokens } from './tokenizer.js';
import { textOf } from './walk.js';

type Json = Record<string, unknown>;

const obj = (v: unknown): Json | undefined =>
  v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : undefined;
const str = (v: unknown): string => (typeof v === 'string' ? v : '');

/**
 * The cookbook's constants for function definitions (tokens). Source: OpenAI cookbook, "How to
 * count tokens with tiktoken", section "Counting tokens for chat completions with tool calls"
 * (`num_tokens_for_tools`): gpt-4o and gpt-4o-mini use func_init 7, gpt-3.5-turbo and gpt-4 use
 * 10; both use prop_init 3, prop_key 3, enum_init −3, enum_item 3, func_end 12. Models the
 * cookbook does not list take the constants of their encoding's family (o200k_base → gpt-4o's,
 * cl100k_base → gpt-4's).
 */
const CONSTANTS = {
  o200k: { funcInit: 7, propInit: 3, propKey: 3, enumInit: -3, enumItem: 3, funcEnd: 12 },
  cl100k: { funcInit: 10, propInit: 3, propKey: 3, enumInit: -3, enumItem: 3, funcEnd: 12 },
};

/** One function definition, from any of the three shapes OpenAI accepts. */
interface FunctionDef {
  name: string;
  description: string;
  parameters: Json | undefined;
}

/**
 * The function a tool entry defines: Chat's `{type:"function", function:{…}}`, Responses'
 * `{type:"function", name, …}` or the legacy `functions` entry `{name, …}`; undefined for any
 * other tool (built-in tools such as `web_search`, custom and MCP tools).
 */
function functionOf(tool: unknown): FunctionDef | undefined {
  const t = obj(tool);
  if (!t) return undefined;
  const f = t.type === 'function' ? (obj(t.function) ?? t) : t.type === undefined ? t : undefined;
  if (!f || typeof f.name !== 'string') return undefined;
  return { name: f.name, description: str(f.description), parameters: obj(f.parameters) };
}

/** Built-in tools whose definition the model is not shown as text (their cost is an allowance, see tool-allowance.ts). */
const BUILT_IN =
  /^(web_search|web_search_preview|file_search|code_interpreter|image_generation|computer_use_preview|local_shell|web_search_preview_2025_03_11|web_search_2025_08_26)$/;

/**
 * Prompt tokens of a request's tool definitions, by the cookbook's formula (see `CONSTANTS`):
 * per function, func_init + tokens of `name:description` (a final `.` dropped); if it has
 * properties, prop_init, and per property prop_key + tokens of `key:type:description` (final `.`
 * dropped), and for an enum enum_init + per item enum_item + its tokens; func_end once if there is
 * any function. Nested properties (objects in objects, `$defs`) are beyond the cookbook's formula:
 * their keys and strings are counted as text. Tools that are not functions (custom, MCP) count as
 * the text of their keys and strings; built-in tools count 0.
 */
export function toolDefinitionTokens(model: string, tools: unknown): number {
  if (!Array.isArray(tools) || tools.length === 0) return 0;
  const c = encodingOf(model) === 'cl100k' ? CONSTANTS.cl100k : CONSTANTS.o200k;
  const trim = (s: string) => (s.endsWith('.') ? s.slice(0, -1) : s);
  let total = 0;
  let functions = 0;
  for (const tool of tools) {
    const f = functionOf(tool);
    if (!f) {
      const type = str(obj(tool)?.type);
      if (!BUILT_IN.test(type)) total += countTokens(model, textOf(tool));
      continue;
    }
    functions += 1;
    total += c.funcInit + countTokens(model, `${f.name}:${trim(f.description)}`);
    const props = obj(f.parameters?.properties);
    const keys = props ? Object.keys(props) : [];
    if (keys.length > 0) total += c.propInit;
    for (const key of keys) {
      const p = obj(props![key]) ?? {};
      total += c.propKey;
      if (Array.isArray(p.enum)) {
        total += c.enumInit;
        for (const item of p.enum) total += c.enumItem + countTokens(model, String(item));
      }
      const type = Array.isArray(p.type) ? p.type.join(' | ') : str(p.type) || 'any';
      total += countTokens(model, `${key}:${type}:${trim(str(p.description))}`);
      const nested = { properties: p.properties, items: p.items, anyOf: p.anyOf, oneOf: p.oneOf };
      total += countTokens(model, textOf(nested));
    }
    const defs = f.parameters?.$defs ?? f.parameters?.definitions;
    if (defs) total += countTokens(model, textOf(defs));
  }
  return functions > 0 ? total + c.funcEnd : total;
}
