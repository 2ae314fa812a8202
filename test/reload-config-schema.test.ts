import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { renderConfigJsonSchema } from '../src/config/json-schema.js';

/** The committed JSON Schema of proxy.config.json: generated from the zod schema, and referenced by the sample config. */

describe('the JSON Schema', () => {
  it('is committed as generated from the zod schema (run `npm run config:schema` after changing src/config/schema.ts)', () => {
    const committed = readFileSync(join(import.meta.dirname, '../proxy.config.schema.json'), 'utf8');
    expect(committed).toBe(renderConfigJsonSchema());
  });

  it('is referenced by the sample config, and describes its fields with defaults optional', () => {
    const sample = JSON.parse(readFileSync(join(import.meta.dirname, '../proxy.config.json'), 'utf8')) as Record<
      string,
      unknown
    >;
    expect(sample.$schema).toBe('./proxy.config.schema.json');
    const schema = JSON.parse(renderConfigJsonSchema()) as { required: string[]; properties: Record<string, any> };
    expect(schema.required).toEqual(['companies']);
    for (const field of Object.keys(sample)) expect(schema.properties).toHaveProperty([field]);
    expect(schema.properties.operators.items.required).toEqual(['id', 'sha256', 'prefix']);
    expect(schema.properties.listen.properties.port).toMatchObject({ type: 'integer', default: 8787 });
  });
});
