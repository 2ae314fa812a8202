/**
 * Polls `condition` every `intervalMs` (default 5 ms) until it returns true, and FAILS (rejects with
 * an Error naming `what`) when `timeoutMs` (default 5,000 ms) runs out first. The one way tests wait:
 * a condition that never comes true fails the test instead of letting it pass by timing.
 */
export async function waitUntil(
  condition: () => boolean | Promise<boolean>,
  opts: { timeoutMs?: number; intervalMs?: number; what?: string } = {},
): Promise<void> {
  const { timeoutMs = 5_000, intervalMs = 5, what = 'condition' } = opts;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await condition()) return;
    if (Date.now() >= deadline) throw new Error(`waitUntil: ${what} did not hold within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
