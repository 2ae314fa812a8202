/**
 * RESULTS.md is written in parts: the full run writes the whole file, keeping the sections it did
 * not run itself; `--only scale`, `--only compare` and `--only reports` replace only their own
 * section (between `<!-- section:NAME -->` and `<!-- /section:NAME -->`), appending it when the
 * file has none, so the other figures stay.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';

/** `markdown` wrapped in the markers of section `name`. */
export const section = (name: string, markdown: string): string =>
  `<!-- section:${name} -->\n${markdown.trim()}\n<!-- /section:${name} -->\n`;

/** Replaces (or appends) section `name` of `file` with `markdown`. */
export function writeSection(file: string, name: string, markdown: string): void {
  const text = existsSync(file) ? readFileSync(file, 'utf8') : '# tollgate bench results\n';
  const [start, end] = [`<!-- section:${name} -->`, `<!-- /section:${name} -->`];
  const [i, j] = [text.indexOf(start), text.indexOf(end)];
  const next =
    i >= 0 && j > i
      ? text.slice(0, i) + section(name, markdown).trimEnd() + text.slice(j + end.length)
      : `${text.trimEnd()}\n\n${section(name, markdown)}`;
  writeFileSync(file, next);
}

/**
 * The sections of `file` (markers included) other than those named in `except`, in file order:
 * what a full run keeps of the figures it did not measure itself (before-and-after, reports, …).
 */
export function otherSections(file: string, except: string[]): string[] {
  if (!existsSync(file)) return [];
  const text = readFileSync(file, 'utf8');
  const kept: string[] = [];
  for (const m of text.matchAll(/<!-- section:([\w-]+) -->[\s\S]*?<!-- \/section:\1 -->/g))
    if (!except.includes(m[1]!)) kept.push(`${m[0]}\n`);
  return kept;
}
