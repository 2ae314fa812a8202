import { afterEach, beforeEach, expect, it, vi } from 'vitest';
import {
  FORWARDED_MARK_DELAY_MS,
  FORWARDED_MARK_SLACK_MS,
  ForwardedMarks,
  type Marks,
} from '../src/ledger/postgres/marks.js';

/**
 * The Postgres adapter's `forwarded` marks on a fake clock: when they ride a settlement, when they
 * take a statement of their own, and when they are not written at all.
 */

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
});
afterEach(() => {
  vi.useRealTimers();
});

/** A mark queue whose own statements are recorded in `written`; `settle` sends a settlement carrying what is due. */
function queue() {
  const written: Marks[] = [];
  const carried: Marks[] = [];
  const marks = new ForwardedMarks(async (m) => void written.push(m));
  const settle = (id?: string) => {
    if (id) marks.finished(id);
    return marks.carry(async (m) => void (m.ids.length > 0 && carried.push(m)));
  };
  return { marks, written, carried, settle };
}

it('under load, marks ride settlements once due and never take a statement of their own', async () => {
  const { marks, written, carried, settle } = queue();
  // A request goes upstream every ms and settles 40 ms later (every mark is due before its settlement);
  // another request's settlement leaves every ms.
  for (let t = 0; t < 500; t++) {
    marks.add(`req_${t}`);
    await settle(t >= 40 ? `req_${t - 40}` : undefined);
    await vi.advanceTimersByTimeAsync(1);
  }
  expect(written).toEqual([]);
  const ids = carried.flatMap((m) => m.ids);
  // Each mark once, none before it was due.
  expect(new Set(ids).size).toBe(ids.length);
  expect(ids).toContain('req_0');
  expect(ids).not.toContain(`req_${499 - FORWARDED_MARK_DELAY_MS + 2}`);
});

it('a request settled before its mark is due is never marked, and its prompt never counted', async () => {
  const { marks, written, carried, settle } = queue();
  const counted: string[] = [];
  for (let t = 0; t < 200; t++) {
    marks.add(`req_${t}`, { tokens: () => (counted.push(`req_${t}`), 7) });
    // Each settles 5 ms later, long before its mark is due.
    if (t >= 5) await settle(`req_${t - 5}`);
    await vi.advanceTimersByTimeAsync(1);
  }
  for (let t = 195; t < 200; t++) await settle(`req_${t}`);
  await vi.advanceTimersByTimeAsync(100);
  expect(written).toEqual([]);
  expect(carried).toEqual([]);
  expect(counted).toEqual([]);
});

it('a due mark no settlement carries is written on its own within the slack, with its counted prompt', async () => {
  const { marks, written, carried } = queue();
  marks.add('req_a', { tokens: () => 42 });
  marks.add('req_b');
  await vi.advanceTimersByTimeAsync(FORWARDED_MARK_DELAY_MS + FORWARDED_MARK_SLACK_MS - 1);
  expect(written).toEqual([]);
  await vi.advanceTimersByTimeAsync(1);
  expect(written).toEqual([{ ids: ['req_a', 'req_b'], prompts: [42, null] }]);
  expect(carried).toEqual([]);
});

it('flush writes every mark at once, due or not, and waits for the statements carrying marks', async () => {
  const { marks, written } = queue();
  marks.add('req_a');
  await vi.advanceTimersByTimeAsync(1);
  await marks.flush();
  expect(written).toEqual([{ ids: ['req_a'], prompts: [null] }]);
});
