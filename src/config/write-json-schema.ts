import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { JSON_SCHEMA_FILE, renderConfigJsonSchema } from './json-schema.js';

/** `npm run config:schema`: regenerates proxy.config.schema.json at the repository's root from the zod schema. */
const root = fileURLToPath(new URL('../..', import.meta.url));
const file = join(root, JSON_SCHEMA_FILE);
writeFileSync(file, renderConfigJsonSchema());
process.stdout.write(`wrote ${file}\n`);
