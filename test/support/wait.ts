/**
 * Polls `condition` every `intervalMs` (default 10 ms) until it holds, and FAILS (rejects) when it
 * has not held within `timeoutMs`: a test never passes by a wait running out. `what` names the
 * condition in the error.
 */
export async function waitUntil(condition: () => boolean | Promise<boolean>, opts: { timeoutMs: number; intervalMs?: number; what?: string }): Promise<void> {
  const end = Date.now() + opts.timeoutMs;
  for (;;) {
    if (await condition()) return;
    if (Date.now() > end) throw new Error(`timed out after ${opts.timeoutMs} ms waiting for ${opts.what ?? 'a condition'}`);
    await new Promise((r) => setTimeout(r, opts.intervalMs ?? 10));
  }
}
