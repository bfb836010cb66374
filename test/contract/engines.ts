import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LiveBus, Outbox, Store, StoreAdmin } from '../../src/core/ports.ts';
import { openDb } from '../../src/store/db.ts';
import { openStore } from '../../src/store/index.ts';
import { createTestDatabase, pgUrl, withConnection } from '../support/pg.ts';

/** One instance's ports over a database. */
export interface EnginePorts {
  store: Store;
  outbox: Outbox;
  admin: StoreAdmin;
  /** This instance's endpoint on the live-event bus of the database. */
  bus: LiveBus;
  /** Ends this instance (its connection); the database stays. */
  close(): Promise<void>;
}

/** A fresh, empty (migrated) database of one engine, with its first instance's ports. */
export interface OpenEngine extends EnginePorts {
  /** Another instance on the same database, as a second service would open it. */
  another(): Promise<EnginePorts>;
  /**
   * What someone with direct access to the database could do behind the service's back (the
   * engine's append-only guards bypassed): change a journal record's detail, or delete one.
   */
  tamper: {
    editJournal(seq: number, detail: string): Promise<void>;
    deleteJournal(seq: number): Promise<void>;
  };
}

export interface Engine {
  name: string;
  /** Resolves with a new database; `close` ends every instance and removes it. */
  open(): Promise<OpenEngine>;
}

async function portsOf(dbPath: string): Promise<EnginePorts> {
  const { store, outbox, admin, bus } = await openStore({ dbPath });
  return {
    store, outbox, admin, bus,
    close: async () => {
      await bus.close();
      await admin.close();
    },
  };
}

const sqlite: Engine = {
  name: 'sqlite',
  async open(): Promise<OpenEngine> {
    const dir = mkdtempSync(join(tmpdir(), 'zhedel-contract-'));
    const dbPath = join(dir, 'zhedel.db');
    const first = await portsOf(dbPath);
    const others: EnginePorts[] = [];
    const raw = (sql: string, ...args: unknown[]): Promise<void> => {
      const db = openDb(dbPath, { migrate: false });
      try {
        db.exec('DROP TRIGGER IF EXISTS journal_no_update; DROP TRIGGER IF EXISTS journal_no_delete;');
        db.prepare(sql).run(...args);
      } finally {
        db.close();
      }
      return Promise.resolve();
    };
    return {
      ...first,
      another: async () => {
        const p = await portsOf(dbPath);
        others.push(p);
        return p;
      },
      tamper: {
        editJournal: (seq, detail) => raw('UPDATE journal SET detail = ? WHERE seq = ?', detail, seq),
        deleteJournal: (seq) => raw('DELETE FROM journal WHERE seq = ?', seq),
      },
      close: async () => {
        for (const o of others) await o.close();
        await first.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  },
};

/** A new database on the server named by ZHEDEL_TEST_PG, dropped at the end. */
const postgres: Engine = {
  name: 'postgres',
  async open(): Promise<OpenEngine> {
    const database = await createTestDatabase();
    const others: EnginePorts[] = [];
    let first: EnginePorts;
    try {
      first = await portsOf(database.url);
    } catch (e) {
      await database.drop();
      throw e;
    }
    // the append-only triggers switched off for one statement, as the table's owner can
    const raw = (sql: string, ...args: unknown[]): Promise<void> => withConnection(database.url, async (c) => {
      await c.query('BEGIN');
      await c.query('ALTER TABLE journal DISABLE TRIGGER USER');
      await c.query(sql, args);
      await c.query('ALTER TABLE journal ENABLE TRIGGER USER');
      await c.query('COMMIT');
    });
    return {
      ...first,
      another: async () => {
        const p = await portsOf(database.url);
        others.push(p);
        return p;
      },
      tamper: {
        editJournal: (seq, detail) => raw('UPDATE journal SET detail = $1 WHERE seq = $2', detail, seq),
        deleteJournal: (seq) => raw('DELETE FROM journal WHERE seq = $1', seq),
      },
      close: async () => {
        try {
          for (const o of others) await o.close();
          await first.close();
        } finally {
          await database.drop();
        }
      },
    };
  },
};

/**
 * Every engine the store runs on; the contract suite runs each test on each of them.
 * PostgreSQL joins when ZHEDEL_TEST_PG names a server to create test databases on.
 */
export const ENGINES: Engine[] = pgUrl() ? [sqlite, postgres] : [sqlite];
