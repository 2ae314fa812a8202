import { modelFamily } from '../metering/model.js';

/**
 * The names a model id is priced under, most specific first, the way OpenAI names models
 * (https://platform.openai.com/docs/models, "Model snapshots"):
 * - the id itself (`gpt-5.4-2026-03-05`, `gpt-5.2-chat-latest`);
 * - an alias's model: `<model>-chat-latest` → `<model>-chat` → `<model>`, `<model>-latest` → `<model>`
 *   (`codex-mini-latest` → `codex-mini`);
 * - a dated snapshot's family: `-YYYY-MM-DD` or `-MMDD` dropped (`gpt-5.4-2026-03-05` → `gpt-5.4`);
 * - a fine-tuned id `ft:<base>:<org>[:<suffix>]:<id>` → `ft:<base>` → `ft:<base family>`: the
 *   base model's *fine-tuned* rates, never its inference price (OpenAI bills fine-tuned models apart).
 */
export function lookupNames(model: string): string[] {
  if (model.startsWith('ft:')) {
    const base = model.split(':')[1] ?? '';
    return [...new Set([model, `ft:${base}`, `ft:${modelFamily(base)}`])];
  }
  const names = [model];
  const deployed = model.split(':')[0] ?? model;
  const alias = deployed.match(/^(.+?)(-chat)?-latest$/);
  if (alias) {
    if (alias[2]) names.push(`${alias[1]}-chat`);
    names.push(alias[1]!);
  }
  names.push(modelFamily(deployed));
  return [...new Set(names)];
}

/**
 * Whether a model id matches an admin's pattern: the pattern itself, or `*` standing for any run
 * of characters (`gpt-6*`, `ft:*:acme::*`); case-sensitive, as OpenAI's ids are.
 */
export function matchesPattern(pattern: string, model: string): boolean {
  if (!pattern.includes('*')) return pattern === model;
  const parts = pattern.split('*');
  if (!model.startsWith(parts[0]!) || !model.endsWith(parts.at(-1)!)) return false;
  let at = parts[0]!.length;
  const end = model.length - parts.at(-1)!.length;
  for (const part of parts.slice(1, -1)) {
    const i = model.indexOf(part, at);
    if (i < 0 || i + part.length > end) return false;
    at = i + part.length;
  }
  return at <= end;
}
