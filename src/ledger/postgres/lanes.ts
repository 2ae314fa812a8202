/**
 * Keeps the port's "in call order" promise on a connection pool: operations on one key (a company)
 * run one after the other in the order they were called, while different keys run in parallel on
 * separate connections. A client's settle therefore commits before its next admission, and two
 * admissions of one company in this process never wait on each other's row locks.
 */
export class Lanes {
  private readonly tails = new Map<string, Promise<unknown>>();

  /** Runs `op` after every operation queued before it on `key`; resolves or rejects with it. */
  run<T>(key: string, op: () => Promise<T>): Promise<T> {
    const before = this.tails.get(key) ?? Promise.resolve();
    const result = before.then(op, op);
    const tail = result.catch(() => {});
    this.tails.set(key, tail);
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return result;
  }

  /** Resolves once every operation queued so far has finished. */
  async drain(): Promise<void> {
    await Promise.all([...this.tails.values()]);
  }
}
