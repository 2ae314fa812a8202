/**
 * Summarises a V8 `.cpuprofile` (from `node --cpu-prof`): self time per function and per source
 * area (a tollgate source file, an npm package, Node's internals), as ms and as a share of the
 * busy time (all samples except `(idle)`); and, for tollgate's own functions, total time (self plus
 * callees). Positions in a file outside node_modules with a `.map` beside it (the bench's build of
 * tollgate, bench/.build/) are mapped back to the TypeScript sources.
 *
 *   node --import tsx bench/profile/summarise.ts <file.cpuprofile> [top=25]
 */
import { existsSync, readFileSync } from 'node:fs';
import { SourceMap } from 'node:module';
import { dirname, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  /** µs between consecutive samples. */
  timeDeltas: number[];
}

export interface Entry {
  name: string;
  /** Self time, ms. */
  selfMs: number;
  /** Share of busy time, %. */
  pct: number;
}

export interface Summary {
  /** Wall time the profile covers, ms. */
  totalMs: number;
  /** Time not idle, ms. */
  busyMs: number;
  functions: Entry[];
  areas: Entry[];
  /** tollgate's functions (under src/) by total time: self plus everything they called. */
  totals: Entry[];
}

const maps = new Map<string, { map: SourceMap; dir: string } | null>();

/** A call frame's source file URL and 0-based line, through the bundle's source map when there is one. */
export function original(f: ProfileNode['callFrame']): { url: string; line: number } {
  // Only the bench's own build is mapped: packages' maps point outside their folders (drizzle-orm's to ../src).
  if (!f.url.startsWith('file:') || f.url.includes('/node_modules/')) return { url: f.url, line: f.lineNumber };
  let m = maps.get(f.url);
  if (m === undefined) {
    const file = `${fileURLToPath(f.url)}.map`;
    m = existsSync(file) ? { map: new SourceMap(JSON.parse(readFileSync(file, 'utf8'))), dir: dirname(file) } : null;
    maps.set(f.url, m);
  }
  const e = m?.map.findEntry(f.lineNumber, f.columnNumber) as
    | { originalSource?: string; originalLine?: number }
    | undefined;
  if (!m || !e?.originalSource) return { url: f.url, line: f.lineNumber };
  const src = e.originalSource.startsWith('file:')
    ? e.originalSource
    : pathToFileURL(resolve(m.dir, e.originalSource)).href;
  return { url: src, line: e.originalLine ?? 0 };
}

/** `file:///…/node_modules/hono/dist/x.js` → `hono`; a file of this repo → its path; Node's own → `node:internals`. */
export function areaOf(url: string, special: string): string {
  if (!url) return special.startsWith('(') ? special : '(native)';
  if (url.startsWith('node:')) return 'node:internals';
  const nm = url.lastIndexOf('/node_modules/');
  if (nm >= 0) {
    const rest = url.slice(nm + '/node_modules/'.length).split('/');
    return rest[0]!.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]!;
  }
  const src = url.indexOf('/src/');
  if (src >= 0) return url.slice(src + 1);
  const bench = url.indexOf('/bench/');
  return bench >= 0 ? url.slice(bench + 1) : url.replace(/^file:\/\//, '');
}

function short(url: string): string {
  const nm = url.lastIndexOf('/node_modules/');
  if (nm >= 0) return url.slice(nm + '/node_modules/'.length);
  const src = url.indexOf('/src/');
  return src >= 0 ? url.slice(src + 1) : url.replace(/^file:\/\//, '');
}

export function summarise(p: CpuProfile): Summary {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  let totalUs = 0;
  // timeDeltas[i] is the time before sample i; attribute the gap after it to it (V8's convention).
  for (let i = 0; i < p.samples.length; i++) {
    const dt = p.timeDeltas[i + 1] ?? 0;
    self.set(p.samples[i]!, (self.get(p.samples[i]!) ?? 0) + dt);
    totalUs += dt;
  }
  const fn = new Map<string, number>();
  const area = new Map<string, number>();
  const names = new Map<number, { name: string; area: string }>();
  const label = (id: number) => {
    let l = names.get(id);
    if (!l) {
      const f = byId.get(id)!.callFrame;
      const o = original(f);
      l = {
        name: o.url
          ? `${f.functionName || '(anonymous)'}  ${short(o.url)}:${o.line + 1}`
          : f.functionName || '(anonymous)',
        area: areaOf(o.url, f.functionName),
      };
      names.set(id, l);
    }
    return l;
  };
  let idleUs = 0;
  for (const [id, us] of self) {
    if (byId.get(id)!.callFrame.functionName === '(idle)') {
      idleUs += us;
      continue;
    }
    const l = label(id);
    fn.set(l.name, (fn.get(l.name) ?? 0) + us);
    area.set(l.area, (area.get(l.area) ?? 0) + us);
  }
  const busyUs = totalUs - idleUs;

  // Total time of tollgate's functions: each sample counts once for every distinct src/ function on its stack.
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const total = new Map<string, number>();
  for (const [id, us] of self) {
    const seen = new Set<string>();
    for (let x: number | undefined = id; x !== undefined; x = parent.get(x)) {
      const l = label(x);
      if (l.area.startsWith('src/') && !seen.has(l.name)) {
        seen.add(l.name);
        total.set(l.name, (total.get(l.name) ?? 0) + us);
      }
    }
  }
  const entries = (m: Map<string, number>) =>
    [...m]
      .map(([name, us]) => ({ name, selfMs: us / 1000, pct: busyUs ? (100 * us) / busyUs : 0 }))
      .sort((a, b) => b.selfMs - a.selfMs);
  return {
    totalMs: totalUs / 1000,
    busyMs: busyUs / 1000,
    functions: entries(fn),
    areas: entries(area),
    totals: entries(total),
  };
}

/** The summary as Markdown: two tables, the top `top` functions and areas. */
export function summaryMarkdown(title: string, s: Summary, top = 25): string {
  const rows = (e: Entry[]) =>
    e
      .slice(0, top)
      .map((x) => `| ${x.pct.toFixed(1)} | ${x.selfMs.toFixed(0)} | \`${x.name.replaceAll('|', '\\|')}\` |`);
  return [
    `### ${title}`,
    '',
    `Profile covers ${(s.totalMs / 1000).toFixed(1)} s, busy ${(s.busyMs / 1000).toFixed(1)} s (${((100 * s.busyMs) / s.totalMs).toFixed(0)} %). Shares are of busy time.`,
    '',
    '| self % | self ms | area |',
    '|---:|---:|---|',
    ...rows(s.areas).slice(0, 15),
    '',
    '| self % | self ms | function  file:line |',
    '|---:|---:|---|',
    ...rows(s.functions),
    '',
    '| total % | total ms | tollgate function (self + callees)  file:line |',
    '|---:|---:|---|',
    ...rows(s.totals).slice(0, 15),
    '',
  ].join('\n');
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const file = process.argv[2];
  if (!file) throw new Error('usage: summarise.ts <file.cpuprofile> [top]');
  const s = summarise(JSON.parse(readFileSync(file, 'utf8')) as CpuProfile);
  process.stdout.write(summaryMarkdown(file, s, Number(process.argv[3] ?? 25)));
}
