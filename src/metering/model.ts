/**
 * The family a model name belongs to, for price and tokenizer look-ups: fine-tune and deployment
 * suffixes are dropped (`ft:gpt-4o-mini:acme::id` → `gpt-4o-mini`, `gpt-3.5-turbo-instruct:20230824-v2`
 * → `gpt-3.5-turbo-instruct`), then a dated snapshot suffix (`gpt-4o-2024-08-06` → `gpt-4o`,
 * `gpt-3.5-turbo-0125` → `gpt-3.5-turbo`).
 */
export function modelFamily(model: string): string {
  const base = model.startsWith('ft:') ? (model.split(':')[1] ?? model) : (model.split(':')[0] ?? model);
  return base.replace(/-(\d{4}-\d{2}-\d{2}|\d{4})$/, '');
}
