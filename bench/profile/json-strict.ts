/**
 * What strict JSON (src/http/json-strict.ts) costs on top of `JSON.parse`, in CPU µs per KB of
 * body, on bodies shaped like tollgate's traffic: a chat completion (a few messages), a long chat
 * history, a tool-heavy Responses call, and a Realtime audio append (one long base64 string).
 * All are timed in the same interleaved rounds, so a busy machine slows them alike; the figures to
 * read are the added µs per KB, stated against `JSON.parse` of the same run: strict − parse, and
 * strict − what admission ran before strict JSON (the nesting check `jsonDepth`, then `JSON.parse`).
 *
 *   node --import tsx bench/profile/json-strict.ts [--rounds 15]
 */
import { performance } from 'node:perf_hooks';
import { jsonDepth } from '../../src/http/json-depth.js';
import { parseStrictJson } from '../../src/http/json-strict.js';

const rounds = Number(process.argv[process.argv.indexOf('--rounds') + 1]) || 15;

const words = (n: number) => Array.from({ length: n }, (_, i) => `word${i % 97}`).join(' ');
const chat = (messages: number) =>
  JSON.stringify({
    model: 'gpt-4o-mini',
    stream: true,
    max_tokens: 256,
    messages: Array.from({ length: messages }, (_, i) => ({
      role: i % 2 ? 'assistant' : 'user',
      content: words(60),
    })),
  });
const tools = JSON.stringify({
  model: 'gpt-5-mini',
  input: [{ role: 'user', content: [{ type: 'input_text', text: words(200) }] }],
  tools: Array.from({ length: 40 }, (_, i) => ({
    type: 'function',
    name: `tool_${i}`,
    description: words(20),
    parameters: {
      type: 'object',
      properties: Object.fromEntries(
        Array.from({ length: 8 }, (_, j) => [`p${j}`, { type: 'string', description: words(5) }]),
      ),
      required: ['p0'],
    },
  })),
});
const audio = JSON.stringify({
  type: 'input_audio_buffer.append',
  event_id: 'evt_1',
  audio: Buffer.alloc(96_000, 7).toString('base64'),
});

const bodies: [string, Buffer][] = [
  ['chat, 4 messages', Buffer.from(chat(4))],
  ['chat, 200 messages', Buffer.from(chat(200))],
  ['responses, 40 tools', Buffer.from(tools)],
  ['realtime audio append', Buffer.from(audio)],
];

/** CPU-time µs of `fn` over `n` calls (`process.cpuUsage`, so time the process was descheduled is not counted). */
function cpuMicros(n: number, fn: () => unknown): number {
  const start = process.cpuUsage();
  for (let i = 0; i < n; i++) fn();
  const used = process.cpuUsage(start);
  return used.user + used.system;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const started = performance.now();
console.log(`strict JSON vs JSON.parse, CPU µs per KB (median of ${rounds} interleaved rounds)`);
console.log('| body | KB | JSON.parse | depth + parse (before) | strict | added to parse | added to before |');
console.log('|---|---:|---:|---:|---:|---:|---:|');
for (const [name, buf] of bodies) {
  const kb = buf.byteLength / 1024;
  const n = Math.max(20, Math.round(4000 / kb));
  const parse: number[] = [];
  const before: number[] = [];
  const strict: number[] = [];
  for (let r = 0; r < rounds; r++) {
    parse.push(cpuMicros(n, () => JSON.parse(buf.toString('utf8'))) / n / kb);
    before.push(cpuMicros(n, () => jsonDepth(buf) < 128 && JSON.parse(buf.toString('utf8'))) / n / kb);
    strict.push(cpuMicros(n, () => parseStrictJson(buf)) / n / kb);
  }
  const [p, b, s] = [median(parse), median(before), median(strict)];
  const f = (x: number) => x.toFixed(3);
  console.log(`| ${name} | ${kb.toFixed(1)} | ${f(p)} | ${f(b)} | ${f(s)} | ${f(s - p)} | ${f(s - b)} |`);
}
console.log(`(${((performance.now() - started) / 1000).toFixed(1)} s)`);
