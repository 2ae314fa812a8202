import { z } from 'zod';
import { configSchema } from './schema.js';

/** The file, at the repository's root, that `proxy.config.json` names in `"$schema"`. */
export const JSON_SCHEMA_FILE = 'proxy.config.schema.json';

/**
 * The JSON Schema (draft 7, which editors support best) of `proxy.config.json`, generated from the
 * zod schema for its input side: fields with defaults are optional. Checks zod runs in code (hash
 * and instant formats, "exactly one of", duplicate ids) appear as patterns where zod can express
 * them and are otherwise left to `tollgate config check`.
 */
export function configJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(configSchema, { io: 'input', target: 'draft-7', unrepresentable: 'any' }) as Record<
    string,
    unknown
  >;
  return {
    ...schema,
    title: 'tollgate proxy.config.json',
    description:
      'The config of tollgate, the OpenAI-compatible metering proxy. Generated from src/config/schema.ts by `npm run config:schema`.',
  };
}

/** The schema as committed: 2-space JSON with a final newline. */
export function renderConfigJsonSchema(): string {
  return `${JSON.stringify(configJsonSchema(), null, 2)}\n`;
}
