import { LedgerUnavailableError } from './unavailable.js';

/**
 * Waits for `work` at most `ms` milliseconds: resolves or rejects with it, or rejects with a
 * `LedgerUnavailableError` naming `what` once the time is up. The work itself is not cancelled (the
 * driver's own timeouts end it); its late failure is swallowed, its late success ignored.
 */
export function withDeadline<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  // One promise and one timer per call (no race, no `finally`): this bounds every ledger call.
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new LedgerUnavailableError(`the ledger did not answer ${what} within ${ms} ms`)),
      ms,
    );
    work.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (err: unknown) => {
        clearTimeout(timer);
        reject(err);
      },
    );
  });
}
