import { ledgerError } from './unavailable.js';

/**
 * `store` with every method's failure raised classified (see `ledgerError`): a reset connection or a
 * busy file becomes a `LedgerUnavailableError`, whatever store of the ledger raised it. Methods
 * returning a promise reject classified; synchronous throws are classified too. Other properties
 * pass through unchanged.
 */
export function classifiedStore<T extends object>(store: T): T {
  // Keyed by the method itself, so a method replaced on the store is wrapped afresh.
  const wrapped = new WeakMap<object, unknown>();
  return new Proxy(store, {
    get(target, key, receiver) {
      const value = Reflect.get(target, key, receiver);
      if (typeof value !== 'function') return value;
      let fn = wrapped.get(value);
      if (!fn) {
        fn = (...args: unknown[]) => {
          let result: unknown;
          try {
            result = value.apply(target, args);
          } catch (err) {
            throw ledgerError(err);
          }
          return result instanceof Promise
            ? result.catch((err: unknown) => {
                throw ledgerError(err);
              })
            : result;
        };
        wrapped.set(value, fn);
      }
      return fn;
    },
  });
}
