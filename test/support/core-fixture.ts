import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Core } from '../../src/core/core.ts';
import type { LiveEvent, StoreAdmin } from '../../src/core/ports.ts';
import { cryptoRandom } from '../../src/core/system.ts';
import { deriveKeys } from '../../src/domain/crypto.ts';
import { openDb } from '../../src/store/db.ts';
import type { Db } from '../../src/store/db.ts';
import { SqliteAdmin } from '../../src/store/sqlite-admin.ts';
import { SqliteStore } from '../../src/store/sqlite-store.ts';

/** A clock tests move by hand. */
export class TestClock {
  t: number;
  /** With `real`, time follows the wall clock (plus what `advance` added). */
  private readonly real: boolean;
  constructor(iso: string | 'real' = '2026-11-24T10:00:00.000Z') {
    this.real = iso === 'real';
    this.t = this.real ? 0 : Date.parse(iso);
  }
  now = (): Date => new Date(this.real ? Date.now() + this.t : this.t);
  advance(ms: number): void {
    this.t += ms;
  }
}

export const TEST_SECRET = 'test-secret-0123456789-abcdefghijklmnopqrstuvwxyz';

export interface Fixture {
  dir: string;
  dbPath: string;
  /** The store's own connection, for tests that set up or inspect rows directly. */
  db: Db;
  store: SqliteStore;
  admin: StoreAdmin;
  core: Core;
  clock: TestClock;
  events: LiveEvent[];
  signals: number;
  /** The newest code sent to a number, read back from the sealed outbox. */
  lastCode(phone: string): Promise<string>;
  close(): void;
}

export function tempDir(prefix = 'zhedel-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/**
 * A core over a SQLite file. With `dir` of another fixture it is a second instance on the same
 * database (its own connection); `instance` names it, `clock` shares a clock between them.
 */
export function makeFixture(opts: { dir?: string; realClock?: boolean; events?: { emit(e: LiveEvent): void }; instance?: string; clock?: TestClock } = {}): Fixture {
  const dir = opts.dir ?? tempDir();
  const dbPath = join(dir, 'zhedel.db');
  const db = openDb(dbPath);
  const store = new SqliteStore(db);
  const clock = opts.clock ?? new TestClock(opts.realClock ? 'real' : undefined);
  const events: LiveEvent[] = [];
  const fx: Fixture = {
    dir, dbPath, db, store, admin: new SqliteAdmin(db), clock, events, signals: 0,
    core: undefined as unknown as Core,
    async lastCode(phone: string): Promise<string> {
      const rows = (await fx.core.listOutbox({ limit: 1000, reveal: true })).filter((r) => r.phone === phone && r.kind === 'otp');
      const text = rows[0]?.text ?? '';
      const m = /(\d{6})/.exec(text);
      if (!m) throw new Error(`no code in the outbox for ${phone}`);
      return m[1] as string;
    },
    close(): void {
      if (db.open) db.close();
      if (!opts.dir) rmSync(dir, { recursive: true, force: true });
    },
  };
  fx.core = new Core({
    store, clock, random: cryptoRandom, keys: deriveKeys(TEST_SECRET), timeZone: 'Asia/Almaty', ...(opts.instance ? { instance: opts.instance } : {}),
    events: { emit: (e) => { events.push(e); opts.events?.emit(e); } },
    outboxSignal: { queued: () => { fx.signals++; } },
  });
  return fx;
}

/** A client with objects and an active trusted number. */
export async function seedClient(fx: Fixture, o: { phone?: string; codes?: string[]; lang?: 'ru' | 'kk'; name?: string } = {}): Promise<{ clientId: number; phone: string; codes: string[] }> {
  const phone = o.phone ?? '+77011234567';
  const codes = o.codes ?? ['1234'];
  const c = await fx.core.addClient({ name: o.name ?? 'Test Client', lang: o.lang ?? 'ru', operator: 'test' });
  for (const code of codes) await fx.core.addObject({ clientId: c.id, code, address: `Addr ${code}`, operator: 'test' });
  await fx.core.addNumber({ clientId: c.id, phone, signed: true, operator: 'test' });
  return { clientId: c.id, phone, codes };
}
