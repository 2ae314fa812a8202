/**
 * The configuration reference in docs/configuration.md, rendered from the config's JSON Schema
 * (json-schema.ts, itself generated from the zod schema): one table per top-level section and per
 * shared definition (`Limits`, `Limit`, `Price`), one row per field with its type (and unit), its
 * default, an example and its description. The text comes from each field's zod `.meta()`:
 * `description`, `examples` and `unit` (a tollgate annotation the JSON Schema carries along).
 */

/** The part of a JSON Schema node this renderer reads (draft 7, as zod writes it). */
export interface SchemaNode {
  type?: string;
  description?: string;
  unit?: string;
  title?: string;
  examples?: unknown[];
  default?: unknown;
  enum?: unknown[];
  const?: unknown;
  format?: string;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  minItems?: number;
  properties?: Record<string, SchemaNode>;
  required?: string[];
  additionalProperties?: SchemaNode | boolean;
  propertyNames?: SchemaNode;
  items?: SchemaNode | SchemaNode[];
  anyOf?: SchemaNode[];
  allOf?: SchemaNode[];
  $ref?: string;
  definitions?: Record<string, SchemaNode>;
}

/** One documented field: its dotted path (`companies.<company>.keys[].id`), the cells of its row, what it lacks. */
interface Row {
  path: string;
  type: string;
  default: string;
  example: string;
  description: string;
  /** Why the field is not documented as it should be (no description, no example), if so. */
  missing?: string;
}

const SAFE = Number.MAX_SAFE_INTEGER;
const code = (value: unknown) => `\`${JSON.stringify(value)}\``;
const cell = (text: string) => text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
const refName = (ref: string) => ref.replace('#/definitions/', '');
/** GitHub's heading anchor of a definition's heading. */
const anchor = (name: string) => `#${name.toLowerCase()}`;

/** `allOf: [{ $ref }]` (a shared definition used with a description of its own) read as the `$ref`. */
function unwrap(node: SchemaNode): SchemaNode {
  if (node.allOf?.length === 1 && node.allOf[0]?.$ref) return { ...node, $ref: node.allOf[0].$ref, allOf: undefined };
  return node;
}

function range(node: SchemaNode): string {
  const lo =
    node.exclusiveMinimum !== undefined
      ? `> ${node.exclusiveMinimum}`
      : node.minimum !== undefined && node.minimum > -SAFE
        ? `≥ ${node.minimum}`
        : '';
  const hi =
    node.exclusiveMaximum !== undefined
      ? `< ${node.exclusiveMaximum}`
      : node.maximum !== undefined && node.maximum < SAFE
        ? `≤ ${node.maximum}`
        : '';
  if (node.minimum !== undefined && node.maximum !== undefined && lo.startsWith('≥') && hi.startsWith('≤'))
    return ` ${node.minimum}–${node.maximum}`;
  return [lo, hi].filter(Boolean).length ? ` ${[lo, hi].filter(Boolean).join(', ')}` : '';
}

/** A node's type in words: `integer ≥ 1`, `"clamp" or "default"`, `map of <model> → Price`, `[number, number]`. */
function typeOf(raw: SchemaNode): string {
  const node = unwrap(raw);
  if (node.$ref) return `[${refName(node.$ref)}](${anchor(refName(node.$ref))})`;
  if (node.anyOf) return node.anyOf.map(typeOf).join(' or ');
  if (node.enum) return node.enum.map((v) => code(v)).join(' or ');
  if (node.const !== undefined) return code(node.const);
  if (node.type === 'array') {
    if (Array.isArray(node.items)) return `[${node.items.map(typeOf).join(', ')}]`;
    return `array of ${node.items ? typeOf(node.items) : 'anything'}${node.minItems ? ` (at least ${node.minItems})` : ''}`;
  }
  if (node.type === 'object' && !node.properties && typeof node.additionalProperties === 'object') {
    return `map of \`${keyName(node)}\` → ${typeOf(node.additionalProperties)}`;
  }
  if (node.type === 'string') return (node.format && TEXT_FORMATS[node.format]) ?? 'string';
  if (node.type === 'integer' || node.type === 'number') return `${node.type}${range(node)}`;
  return node.type ?? 'any';
}

const keyName = (node: SchemaNode) => `<${node.propertyNames?.title ?? 'name'}>`;
const TEXT_FORMATS: Record<string, string> = {
  uri: 'URL',
  'date-time': 'instant (ISO 8601 with an offset)',
  date: 'date (YYYY-MM-DD)',
};

/** What the example cell shows: the field's own example, else what its type or default already says. */
function exampleOf(node: SchemaNode): string | undefined {
  if (node.examples?.length) return code(node.examples[0]);
  const values = node.enum ?? (node.type === 'boolean' ? [true, false] : undefined);
  if (values) return code(values.find((v) => v !== node.default) ?? values[0]);
  if (unwrap(node).$ref || node.const !== undefined) return '';
  return undefined;
}

/** True for a node documented by its children rows (an object with properties) rather than as a value. */
const isContainer = (node: SchemaNode) => node.type === 'object' && node.properties !== undefined;

/** The object whose fields document a node: itself, its list's element or its map's value, if any is one. */
function fieldsOf(node: SchemaNode): { node: SchemaNode; prefix: string } | undefined {
  if (isContainer(node)) return { node, prefix: '' };
  if (node.type === 'array' && node.items && !Array.isArray(node.items) && isContainer(node.items))
    return { node: node.items, prefix: '[]' };
  if (node.type === 'object' && typeof node.additionalProperties === 'object') {
    const value = unwrap(node.additionalProperties);
    if (isContainer(value)) return { node: value, prefix: `.${keyName(node)}` };
  }
  return undefined;
}

/** Walks a node's fields depth first, in schema order, into rows; `path` is the node's own path. */
function walk(node: SchemaNode, path: string, rows: Row[], required: boolean): void {
  const n = unwrap(node);
  const fields = fieldsOf(n);
  const example = fields ? '' : exampleOf(n);
  const simpleDefault = n.default !== undefined && !isContainer(n);
  rows.push({
    path,
    type: `${isContainer(n) ? 'object' : typeOf(n)}${n.unit ? ` (${n.unit})` : ''}${required ? ', required' : ''}`,
    default: simpleDefault ? code(n.default) : '',
    example: example ?? '',
    // A list's or map's entries are described by their own object's description too.
    description: [n.description, fields && fields.node !== n ? fields.node.description : undefined]
      .filter(Boolean)
      .join(' '),
    missing: !n.description ? 'no description' : example === undefined ? 'no example' : undefined,
  });
  if (fields) walkFields(fields.node, `${path}${fields.prefix}.`, rows);
}

function walkFields(node: SchemaNode, prefix: string, rows: Row[]): void {
  for (const [name, child] of Object.entries(node.properties ?? {}))
    walk(child, `${prefix}${name}`, rows, node.required?.includes(name) ?? false);
}

function table(rows: Row[]): string {
  const lines = ['| field | type | default | example | description |', '|---|---|---|---|---|'];
  for (const r of rows)
    lines.push(
      `| \`${r.path}\` | ${cell(r.type)} | ${cell(r.default) || '—'} | ${cell(r.example) || '—'} | ${cell(r.description)} |`,
    );
  return lines.join('\n');
}

interface Section {
  title: string;
  description: string;
  rows: Row[];
}

/**
 * Every section: each top-level field (an object's section lists its fields; any other field is its
 * own first row), then each shared definition, its paths relative to it.
 */
function sections(schema: SchemaNode): Section[] {
  const out: Section[] = [];
  for (const [name, raw] of Object.entries(schema.properties ?? {})) {
    const node = unwrap(raw);
    const rows: Row[] = [];
    if (isContainer(node)) {
      walkFields(node, `${name}.`, rows);
      if (!node.description)
        rows.unshift({
          path: name,
          type: 'object',
          default: '',
          example: '',
          description: '',
          missing: 'no description',
        });
    } else walk(node, name, rows, schema.required?.includes(name) ?? false);
    out.push({ title: `\`${name}\``, description: isContainer(node) ? (node.description ?? '') : '', rows });
  }
  for (const [name, node] of Object.entries(schema.definitions ?? {})) {
    const rows: Row[] = [];
    walkFields(node, '', rows);
    out.push({ title: name, description: node.description ?? '', rows });
  }
  return out;
}

/**
 * The reference as Markdown: for each section a heading, its description and a table of its fields.
 * `<company>`, `<model>`… in a path stand for a key of your choosing; `[]` for each element of a list.
 */
export function renderConfigReference(schema: SchemaNode): string {
  return `${sections(schema)
    .map((s) => `### ${s.title}\n\n${s.description ? `${s.description}\n\n` : ''}${table(s.rows)}`)
    .join('\n\n')}\n`;
}

/**
 * Fields the reference cannot document as it should: without a description, or (values only)
 * without an example to show. Each entry names the field's path and what it lacks; empty when none.
 */
export function undocumentedFields(schema: SchemaNode): string[] {
  return sections(schema).flatMap((s) =>
    s.rows
      .filter((r) => r.missing)
      .map((r) => `${s.title.startsWith('`') ? '' : `${s.title}: `}${r.path} (${r.missing})`),
  );
}

/** The page, from the repository's root, whose marked part is the generated reference. */
export const CONFIG_DOC_FILE = 'docs/configuration.md';
const BEGIN =
  '<!-- BEGIN GENERATED: `npm run config:schema` writes this part from the config schema (src/config/); edit the schema, not this text. -->';
const END = '<!-- END GENERATED -->';

/**
 * The page with its generated part replaced by `reference`; the hand-written text around the
 * markers is kept as it is. Throws when the page lacks the two marker lines.
 */
export function withReference(page: string, reference: string): string {
  const begin = page.indexOf(BEGIN);
  const end = page.indexOf(END);
  if (begin < 0 || end < begin) throw new Error(`${CONFIG_DOC_FILE} lacks the lines ${BEGIN} and ${END}`);
  return `${page.slice(0, begin)}${BEGIN}\n\n${reference}\n${page.slice(end)}`;
}
