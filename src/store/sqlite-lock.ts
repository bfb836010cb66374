import { AsyncLocalStorage } from 'node:async_hooks';
import type { Statement } from 'better-sqlite3';
import type { Db } from './db.ts';

/**
 * A first-in, first-out lock over one SQLite file in this process. better-sqlite3 is
 * synchronous and a connection holds one transaction at a time, while a transaction's work
 * is asynchronous (it awaits its `tx`): transactions of this process take turns, in the order
 * they asked. Every connection of this process to the same file shares one lock, so two of
 * them never wait for each other's write lock inside one thread (the busy timeout would block
 * the very thread that must finish the other transaction). Other processes are kept apart by
 * SQLite's own locking and the busy timeout.
 */
export class SqliteLock {
  private tail: Promise<unknown> = Promise.resolve();
  /** Which lock the running code holds: a transaction asked for inside another would wait for itself forever. */
  private static readonly holding = new AsyncLocalStorage<SqliteLock>();

  /**
   * Runs `fn` once every earlier holder finished; resolves or rejects as `fn` did. Rejects at
   * once when called from inside a holder of this lock (transactions do not nest).
   */
  /** True when called from inside a holder of this lock (its work, or what that work awaits). */
  inside(): boolean {
    return SqliteLock.holding.getStore() === this;
  }

  /**
   * Runs `fn` once every earlier holder finished, whoever asks: for work queued on its own
   * behalf (the next group of transactions), not on behalf of the code that happens to ask.
   */
  runQueued<T>(fn: () => Promise<T> | T): Promise<T> {
    return SqliteLock.holding.exit(() => this.run(fn));
  }

  run<T>(fn: () => Promise<T> | T): Promise<T> {
    if (this.inside()) {
      return Promise.reject(new Error('a transaction was started inside another transaction of the same database'));
    }
    const result = this.tail.then(() => SqliteLock.holding.run(this, fn));
    this.tail = result.catch(() => undefined);
    return result;
  }
}

const locks = new Map<string, SqliteLock>();

/** The lock of the file behind `db` (a private one for an in-memory database). */
export function lockFor(db: Db): SqliteLock {
  if (db.memory) return new SqliteLock();
  let l = locks.get(db.name);
  if (!l) {
    l = new SqliteLock();
    locks.set(db.name, l);
  }
  return l;
}

/** The statements that open and end transactions, prepared once per connection. */
export class TxStatements {
  readonly beginImmediate: Statement;
  readonly beginDeferred: Statement;
  readonly commit: Statement;
  readonly rollback: Statement;

  constructor(private readonly db: Db) {
    this.beginImmediate = db.prepare('BEGIN IMMEDIATE');
    this.beginDeferred = db.prepare('BEGIN DEFERRED');
    this.commit = db.prepare('COMMIT');
    this.rollback = db.prepare('ROLLBACK');
  }

  /**
   * `fn` inside a deferred transaction (a read); a rejection rolls back and rejects with that
   * error. The caller holds the file's lock. (Writes go in groups: see `SqliteStore`.)
   */
  async read<T>(fn: () => Promise<T> | T): Promise<T> {
    this.beginDeferred.run();
    try {
      const result = await fn();
      this.commit.run();
      return result;
    } catch (e) {
      if (this.db.inTransaction) this.rollback.run();
      throw e;
    }
  }

}
