import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { configJsonSchema, JSON_SCHEMA_FILE, renderConfigJsonSchema } from './json-schema.js';
import { CONFIG_DOC_FILE, renderConfigReference, undocumentedFields, withReference } from './reference.js';

/**
 * `npm run config:schema`: regenerates, from the zod schema, proxy.config.schema.json at the
 * repository's root and the reference part of docs/configuration.md. Exits 1, naming them, when a
 * field has no description or example to document (add them with `.meta()` in src/config/).
 */
const root = fileURLToPath(new URL('../..', import.meta.url));
const missing = undocumentedFields(configJsonSchema());
if (missing.length) {
  process.stderr.write(
    `config fields without documentation (add them with .meta() in the schema):\n  ${missing.join('\n  ')}\n`,
  );
  process.exit(1);
}
writeFileSync(join(root, JSON_SCHEMA_FILE), renderConfigJsonSchema());
const doc = join(root, CONFIG_DOC_FILE);
writeFileSync(doc, withReference(readFileSync(doc, 'utf8'), renderConfigReference(configJsonSchema())));
process.stdout.write(`wrote ${JSON_SCHEMA_FILE} and ${CONFIG_DOC_FILE}\n`);
