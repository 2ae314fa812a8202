/**
 * What the docs check reads in a Markdown page (GitHub-flavoured): its links, its heading anchors,
 * and the `tollgate …` command lines it shows. Code (fenced blocks and inline spans) is not prose:
 * links and headings are read outside it, commands inside it.
 */

/** A fenced code block: its info string (`sh`, `json`, … or '') and its text. */
export interface Fence {
  lang: string;
  text: string;
}

/** The page split into its fenced blocks and its prose (the page with each block blanked out). */
export function splitFences(markdown: string): { prose: string; fences: Fence[] } {
  const fences: Fence[] = [];
  const prose: string[] = [];
  let open: { marker: string; lang: string; lines: string[] } | undefined;
  for (const line of markdown.split('\n')) {
    const m = /^\s*(`{3,}|~{3,})\s*([\w-]*)/.exec(line);
    if (!open && m) {
      open = { marker: m[1] ?? '```', lang: m[2] ?? '', lines: [] };
      prose.push('');
    } else if (open && line.trim().startsWith(open.marker)) {
      fences.push({ lang: open.lang, text: open.lines.join('\n') });
      open = undefined;
      prose.push('');
    } else if (open) {
      open.lines.push(line);
      prose.push('');
    } else prose.push(line);
  }
  return { prose: prose.join('\n'), fences };
}

/** Inline code spans of a prose text (a span may run over a line break), in order. */
export function codeSpans(prose: string): string[] {
  return [...prose.matchAll(/(`+)([^`]|[^`][\s\S]*?[^`])\1(?!`)/g)].map((m) =>
    (m[2] ?? '').replace(/\s+/g, ' ').trim(),
  );
}

/** Link and image targets in prose, outside code spans: `[text](target)`, `![alt](src)`, `[ref]: target`. */
export function linkTargets(prose: string): string[] {
  const text = prose.replace(/(`+)([^`]|[^`][\s\S]*?[^`])\1(?!`)/g, '');
  const inline = [...text.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)].map((m) => m[1] ?? '');
  const refs = [...text.matchAll(/^\s*\[[^\]]+\]:\s*(\S+)/gm)].map((m) => m[1] ?? '');
  const html = [...text.matchAll(/<(?:a|img)\s[^>]*(?:href|src)="([^"]+)"/g)].map((m) => m[1] ?? '');
  return [...inline, ...refs, ...html];
}

/**
 * The anchors GitHub gives the page's headings (its slugger: lower case, punctuation dropped,
 * spaces to hyphens, `-1`, `-2`… for repeats), plus explicit `<a id>` / `name` anchors.
 */
export function anchors(markdown: string): Set<string> {
  const { prose } = splitFences(markdown);
  const seen = new Map<string, number>();
  const out = new Set<string>();
  for (const m of prose.matchAll(/^#{1,6}\s+(.+?)\s*#*\s*$/gm)) {
    // Code spans keep their text as it is; outside them, links become their text and tags go.
    const text = (m[1] ?? '')
      .split(/(`+[^`]*`+)/)
      .map((part, i) =>
        i % 2 === 1
          ? part.replace(/`/g, '')
          : part
              .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1')
              .replace(/<[^>]+>/g, '')
              .replace(/[*~]/g, ''),
      )
      .join('');
    const base = text
      .toLowerCase()
      .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '')
      .replace(/ /g, '-');
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.add(n === 0 ? base : `${base}-${n}`);
  }
  for (const m of prose.matchAll(/<a\s[^>]*(?:id|name)="([^"]+)"/g)) out.add(m[1] ?? '');
  return out;
}

/** Shell languages whose fenced blocks hold commands a reader would run. */
const SHELL = new Set(['', 'sh', 'bash', 'shell', 'console']);

/**
 * Every `tollgate` invocation the page shows, as its words after `tollgate` (`['keys', 'create',
 * '--company', 'acme', …]`): in shell blocks (each command of a line, comments dropped) and in
 * inline code spans that start with one. `npx` and `VAR=value` prefixes are allowed.
 */
export function tollgateCommands(markdown: string): string[][] {
  const { prose, fences } = splitFences(markdown);
  const lines = [
    ...fences.filter((f) => SHELL.has(f.lang)).flatMap((f) => f.text.replace(/\\\n/g, ' ').split('\n')),
    ...codeSpans(prose),
  ];
  const out: string[][] = [];
  for (const line of lines) {
    const code = line.replace(/(^|\s)#.*$/, '');
    for (const part of code.split(/&&|\|\||\$\(|[|;()]/)) {
      const words = part.trim().split(/\s+/);
      while (words.length && /^[A-Za-z_][A-Za-z0-9_]*=/.test(words[0] ?? '')) words.shift();
      if (words[0] === 'npx') words.shift();
      if (words[0] === 'tollgate' && words.length > 1) out.push(words.slice(1));
    }
  }
  return out;
}
