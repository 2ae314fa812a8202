import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import type { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { buildProgram } from '../src/cli/program.js';
import { configJsonSchema } from '../src/config/json-schema.js';
import { parseConfig } from '../src/config/load.js';
import { CONFIG_DOC_FILE, renderConfigReference, undocumentedFields, withReference } from '../src/config/reference.js';
import { anchors, linkTargets, splitFences, tollgateCommands } from './support/markdown.js';

/**
 * The documentation against the code: the README and every page under docs/ link only to files
 * and anchors that exist, show only `tollgate` commands and options the CLI has, and the
 * configuration reference is the one the schema generates today.
 */
const ROOT = resolve(import.meta.dirname, '..');
const PAGES = [
  'README.md',
  ...readdirSync(join(ROOT, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`),
];
const read = (page: string) => readFileSync(join(ROOT, page), 'utf8');

describe('the configuration reference', () => {
  it('documents every field with a description and an example (add them with .meta() in src/config/)', () => {
    expect(undocumentedFields(configJsonSchema())).toEqual([]);
  });

  it(`is current in ${CONFIG_DOC_FILE} (run \`npm run config:schema\` to regenerate it)`, () => {
    const page = read(CONFIG_DOC_FILE);
    const current = withReference(page, renderConfigReference(configJsonSchema())) === page;
    expect(current, `${CONFIG_DOC_FILE} is stale: run \`npm run config:schema\``).toBe(true);
  });
});

describe('links', () => {
  it.each(PAGES)('every relative link and anchor in %s resolves', (page) => {
    const broken: string[] = [];
    for (const target of linkTargets(splitFences(read(page)).prose)) {
      if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // https:, mailto: …: not ours to check
      const [path = '', anchor] = target.split('#');
      const file = path ? resolve(dirname(join(ROOT, page)), decodeURIComponent(path)) : join(ROOT, page);
      if (!existsSync(file)) broken.push(`${target}: no file ${relative(ROOT, file)}`);
      else if (anchor !== undefined && file.endsWith('.md') && !anchors(readFileSync(file, 'utf8')).has(anchor))
        broken.push(`${target}: no heading #${anchor} in ${relative(ROOT, file)}`);
    }
    expect(broken).toEqual([]);
  });
});

/** The subcommand of `cmd` named `name`, if any. */
const child = (cmd: Command, name: string) => cmd.commands.find((c) => c.name() === name || c.aliases().includes(name));

/** Why `tollgate <words>` is not a command line the CLI accepts, or undefined when it is. */
function problem(words: string[]): string | undefined {
  let cmd: Command = buildProgram();
  let i = 0;
  while (i < words.length && cmd.commands.length > 0) {
    const word = words[i] ?? '';
    if (word.startsWith('<') || word === '…') return undefined; // a placeholder: `tollgate <command>`
    if (word.startsWith('-')) break; // the command's own options
    const next = child(cmd, word);
    if (!next) return `no command "${[...words.slice(0, i), word].join(' ')}"`;
    cmd = next;
    i++;
  }
  const flags = new Set(['--help', '-h', ...cmd.options.flatMap((o) => [o.long, o.short].filter(Boolean) as string[])]);
  for (const word of words.slice(i)) {
    const flag = word.replace(/^\[|\]$/g, '').split('=')[0] ?? '';
    if (/^--?[A-Za-z]/.test(flag) && !flags.has(flag)) return `"${cmd.name()}" has no option ${flag}`;
  }
  return undefined;
}

describe('commands', () => {
  it.each(PAGES)('every `tollgate …` shown in %s exists in the CLI, with its options', (page) => {
    const wrong = tollgateCommands(read(page)).flatMap((words) => {
      const why = problem(words);
      return why ? [`tollgate ${words.join(' ')}: ${why}`] : [];
    });
    expect(wrong).toEqual([]);
  });

  it('the check catches a command, a subcommand and an option the CLI does not have', () => {
    expect(problem(['keys', 'create', '--company', 'acme', '--id', 'x'])).toBeUndefined();
    expect(problem(['serve', '--no-watch'])).toBeUndefined();
    expect(problem(['report'])).toBe('no command "report"');
    expect(problem(['keys', 'delete'])).toBe('no command "keys delete"');
    expect(problem(['usage', '--group', 'user'])).toBe('"usage" has no option --group');
  });
});

describe('the Markdown reader', () => {
  const page = [
    '# Title',
    '## `companies.<id>` (maps)',
    'See [a](missing.md), [b](#title) and `[not a link](x.md)`.',
    '```sh',
    'npx tollgate serve --port 8080   # [not a link](y.md)',
    'TOLLGATE_KEY=x tollgate usage --period 7d | head && echo tollgate done',
    'S=$(cat secret) OPENAI_API_KEY=sk npx tollgate serve --upstream http://127.0.0.1:9999',
    '```',
    '## Title',
    'Run `tollgate keys create --id k` or [![img](pic.png)](other.md#part).',
  ].join('\n');

  it('reads GitHub heading anchors', () => {
    expect([...anchors(page)]).toEqual(['title', 'companiesid-maps', 'title-1']);
  });

  it('reads links outside code only', () => {
    expect(linkTargets(splitFences(page).prose)).toEqual(['missing.md', '#title', 'pic.png', 'other.md#part']);
  });

  it('reads tollgate command lines in shell blocks and code spans', () => {
    expect(tollgateCommands(page)).toEqual([
      ['serve', '--port', '8080'],
      ['usage', '--period', '7d'],
      ['serve', '--upstream', 'http://127.0.0.1:9999'],
      ['keys', 'create', '--id', 'k'],
    ]);
  });
});

describe('the README', () => {
  const readme = read('README.md');

  it('reads in five minutes: at most 250 lines, the two commands first', () => {
    expect(readme.split('\n').length).toBeLessThanOrEqual(250);
    const first = splitFences(readme).fences[0]?.text ?? '';
    expect(first).toMatch(/^npm ci && OPENAI_API_KEY=\S+ npm start\b/);
    expect(first.split('\n')[1]).toMatch(/^npm ci && npm test\b/);
  });

  it('shows a config tollgate accepts', () => {
    const section = readme.slice(readme.indexOf('## A config in ten lines'));
    const json = splitFences(section).fences.find((f) => f.lang === 'json')?.text ?? '';
    expect(json.split('\n').length).toBeLessThanOrEqual(11);
    const config = parseConfig(JSON.parse(json), 'README.md');
    expect(config.companies.acme?.allocations[0]?.tokens).toBe(1_000_000);
  });
});
