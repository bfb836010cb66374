import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import type { AddressInfo, Server, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DuplicateKeyError } from '../../src/core/ports.ts';
import type { StoreTx } from '../../src/core/ports.ts';
import { JournalVerifier } from '../../src/domain/journal.ts';
import type { JournalContent } from '../../src/domain/journal.ts';
import pg from 'pg';
import { receiptLookupKeys } from '../../src/sms/codec.ts';
import { loadPgMigrations, migratePg } from '../../src/store/pg-db.ts';
import { openStore, restoreStore } from '../../src/store/index.ts';
import type { OpenStore } from '../../src/store/index.ts';
import { createTestDatabase, pgUrl, withConnection } from '../support/pg.ts';

const AT = '2026-11-24T10:00:00.000Z';
const PHONE = '+77011234567';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()?.();
});

function doc(detail: string): JournalContent {
  return {
    at: AT, channel: 'sms', phone: PHONE, clientId: null, objectCode: null, action: 'status', auth: 'sender',
    challengeId: null, operator: null, outcome: 'accepted', reason: null, detail,
  };
}

/** A fresh database, dropped after the test. */
async function database(): Promise<string> {
  const db = await createTestDatabase();
  cleanups.push(() => db.drop());
  return db.url;
}

/** A store on `url`, closed after the test (before its database is dropped). */
async function open(url: string, opts: { statementTimeoutMs?: number } = {}): Promise<OpenStore> {
  const s = await openStore({ dbPath: url, db: opts });
  cleanups.push(() => s.admin.close());
  return s;
}

async function journalOf(s: OpenStore): Promise<{ ok: boolean; checked: number }> {
  const v = new JournalVerifier();
  let after = 0;
  for (;;) {
    const from = after;
    const page = await s.store.read((tx) => tx.journalPage(from, 500));
    if (page.length === 0) return v.result();
    for (const r of page) if (!v.add(r)) return v.result();
    after = page[page.length - 1]!.seq;
  }
}

async function settles<T>(p: Promise<T>): Promise<{ ms: number; error: unknown }> {
  const t0 = Date.now();
  const error = await p.then(() => null, (e: unknown) => e);
  return { ms: Date.now() - t0, error };
}

async function until<T>(fn: () => Promise<T>, ok: (v: T) => boolean, ms: number): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    try {
      const v = await fn();
      if (ok(v)) return v;
    } catch {
      // not yet
    }
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * A TCP relay in front of the test server: `down()` drops every connection and refuses new
 * ones (a stopped server), `silent()` keeps connections open but relays nothing (a server
 * that stopped answering), `up()` relays again on the same port.
 */
class Relay {
  private server: Server | null = null;
  private readonly sockets = new Set<Socket>();
  private mute = false;
  port = 0;

  constructor(private readonly target: { host: string; port: number }) {}

  async up(): Promise<void> {
    this.mute = false;
    const server = createServer((client) => {
      if (this.mute) {
        this.sockets.add(client);
        client.on('error', () => undefined);
        return;
      }
      const upstream = new (client.constructor as typeof Socket)();
      upstream.connect(this.target.port, this.target.host);
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('error', () => undefined);
        s.on('close', () => {
          this.sockets.delete(s);
          client.destroy();
          upstream.destroy();
        });
      }
      client.on('data', (d) => {
        if (!this.mute) upstream.write(d);
      });
      upstream.on('data', (d) => {
        if (!this.mute) client.write(d);
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
  }

  silent(): void {
    this.mute = true;
  }

  async down(): Promise<void> {
    const s = this.server;
    this.server = null;
    for (const sock of this.sockets) sock.destroy();
    this.sockets.clear();
    if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
  }

  url(database: string): string {
    const u = new URL(pgUrl()!);
    u.hostname = '127.0.0.1';
    u.port = String(this.port);
    u.pathname = `/${database}`;
    return u.toString();
  }
}

describe.runIf(pgUrl())('PostgreSQL store', () => {
  it('several instances starting on an empty database migrate it once', async () => {
    const url = await database();
    const stores = await Promise.all([open(url), open(url), open(url)]);
    const latest = loadPgMigrations().length;
    for (const s of stores) expect(await s.admin.schemaVersion()).toBe(latest);
    const rows = await withConnection(url, async (c) => (await c.query('SELECT version, name FROM schema_migrations ORDER BY version')).rows);
    expect(rows.map((r: { version: number }) => r.version)).toEqual(Array.from({ length: latest }, (_, i) => i + 1));
    // the seed rows once, not once per instance
    expect(await stores[0]!.store.read((tx) => tx.listServices())).toHaveLength(4);
    expect(await stores[1]!.admin.verifyIntegrity()).toBe('ok');
  });

  it('parts sent before the one-key upgrade are still found by their receipts, in either base', async () => {
    const url = await database();
    const pool = new pg.Pool({ connectionString: url, max: 1 });
    try {
      await migratePg(pool, loadPgMigrations().filter((m) => m.version <= 2));
      const outbox = (await pool.query<{ id: string }>(`INSERT INTO outbox (priority, kind, phone, body, secret, state, attempts, not_before, created_at, updated_at, parts_total, submitted_at)
        VALUES (2, 'notice', '+77011234567', 'x', 0, 'submitted', 1, $1, $1, $1, 2, $1) RETURNING id`, [AT])).rows[0]!.id;
      // as the earlier schema kept them: each part, and its keys in a table of their own
      const part = async (seq: number, messageId: string, keys: string[]): Promise<void> => {
        const id = (await pool.query<{ id: string }>(`INSERT INTO outbox_parts (outbox_id, seq, total, message_id, state, submitted_at)
          VALUES ($1, $2, 2, $3, 'submitted', $4) RETURNING id`, [outbox, seq, messageId, AT])).rows[0]!.id;
        for (const k of keys) await pool.query('INSERT INTO outbox_part_keys (key, part_id) VALUES ($1, $2)', [k, id]);
      };
      await part(1, '00001A2B', ['s:1a2b', 'h:6699']);
      await part(2, '4711', ['s:4711', 'h:18193', 'd:4711']);
    } finally {
      await pool.end();
    }
    const s = await open(url);
    const keys = await withConnection(url, async (c) => (await c.query("SELECT id_key, to_regclass('outbox_part_keys') AS old FROM outbox_parts ORDER BY seq")).rows);
    expect(keys).toEqual([{ id_key: '1a2b', old: null }, { id_key: '4711', old: null }]);
    const applied = await s.outbox.applyReceipts([
      { keys: receiptLookupKeys('6699'), state: 'delivered', error: null },
      { keys: receiptLookupKeys('0x'), state: 'delivered', error: null },
      { keys: receiptLookupKeys('4711'), state: 'delivered', error: null },
    ], AT);
    expect(applied.map((a) => a && a.messageState)).toEqual([null, null, 'delivered']);
    expect(applied[0]).not.toBeNull();
  });

  it('journal appends from two instances, each with its own pool, form one chain', async () => {
    const url = await database();
    const [a, b] = await Promise.all([open(url), open(url)]);
    const append = (s: OpenStore, i: number): Promise<unknown> => s.store.transaction(async (tx) => {
      await tx.appendJournal(doc(`first ${i}`));
      return tx.appendJournal(doc(`second ${i}`));
    });
    await Promise.all(Array.from({ length: 120 }, (_, i) => append(i % 2 ? a : b, i)));
    expect(await journalOf(a)).toMatchObject({ ok: true, checked: 240 });
    // both records of one transaction are adjacent: appends of transactions never interleave
    const page = await b.store.read((tx) => tx.journalPage(0, 300));
    for (let i = 0; i < page.length; i += 2) expect(page[i + 1]!.detail).toBe(page[i]!.detail!.replace('first', 'second'));
  });

  it('two claimers never take the same message and together take all', async () => {
    const url = await database();
    const [a, b] = await Promise.all([open(url), open(url)]);
    await a.store.transaction(async (tx) => {
      for (let i = 0; i < 500; i++) {
        await tx.enqueueSms({ priority: (i % 3) as 0 | 1 | 2, kind: 'reply', phone: PHONE, clientId: null, body: `m${i}`, bodyEnc: null, secret: false, at: AT, expiresAt: null });
      }
    });
    const loop = async (s: OpenStore): Promise<number[]> => {
      const got: number[] = [];
      for (;;) {
        const { claimed } = await s.outbox.claim(AT, 7, 'loop', '2099-01-01T00:00:00.000Z');
        if (claimed.length === 0) return got;
        got.push(...claimed.map((m) => m.id));
      }
    };
    const [x, y] = await Promise.all([loop(a), loop(b), loop(a), loop(b)]).then((all) => [[...all[0]!, ...all[2]!], [...all[1]!, ...all[3]!]]);
    const union = new Set([...x!, ...y!]);
    expect(union.size).toBe(500);
    expect(x!.length + y!.length).toBe(500);
    expect(x!.filter((id) => new Set(y).has(id))).toEqual([]);
    expect(await a.outbox.counts()).toEqual({ sending: 500 });
  });

  it('the change marker moves within a second when another instance commits, not for its own commits', async () => {
    const url = await database();
    const [a, b] = await Promise.all([open(url), open(url)]);
    const m0 = await a.admin.changeMarker();
    await a.store.transaction((tx) => tx.insertClient({ name: 'own', lang: 'ru', balance: 0, at: AT }));
    expect(await a.admin.changeMarker()).toBe(m0);
    // a transaction that changed nothing is not announced
    await b.store.transaction((tx) => tx.listClients());
    expect(await a.admin.changeMarker()).toBe(m0);
    const t0 = Date.now();
    await b.store.transaction((tx) => tx.insertAlert({ kind: 'access', clientId: null, objectCode: null, phone: null, detail: null, at: AT }));
    await until(() => a.admin.changeMarker(), (m) => m !== m0, 1_000);
    expect(Date.now() - t0).toBeLessThan(1_000);
  });

  it('names a taken key as SQLite does, and undoes only that write', async () => {
    const url = await database();
    const s = await open(url);
    const dir = mkdtempSync(join(tmpdir(), 'zhedel-keys-'));
    const lite = await openStore({ dbPath: join(dir, 'z.db') });
    cleanups.push(async () => {
      await lite.admin.close();
      rmSync(dir, { recursive: true, force: true });
    });
    const keysOn = async (o: OpenStore): Promise<string[]> => o.store.transaction(async (tx) => {
      const clientId = await tx.insertClient({ name: 'C', lang: 'ru', balance: 0, at: AT });
      const objectId = await tx.insertObject({ clientId, code: '1001', address: 'A', at: AT, calloutEnabled: false });
      const numberId = await tx.insertNumber({ clientId, phone: PHONE, state: 'active', allObjects: false, objectIds: [objectId], at: AT });
      await tx.insertLedger({ clientId, amount: 1, kind: 'payment', ref: 'r1', note: null, at: AT });
      await tx.insertOperator({ name: 'op', role: 'admin', tokenHash: 't1', at: AT, expiresAt: AT });
      const other = await tx.insertOperator({ name: 'op2', role: 'admin', tokenHash: 't2', at: AT, expiresAt: AT });
      await tx.insertSession({ tokenHash: 's1', numberId, clientId, channel: 'app', at: AT, expiresAt: AT });
      await tx.insertChallenge({
        id: 'ch1', purpose: 'disarm', numberId, objectId: null, channel: 'sms', codeHash: Buffer.alloc(32), createdAt: AT, expiresAt: AT,
        attempts: 0, state: 'pending', operator: null,
      });
      const attempts: Array<(t: StoreTx) => Promise<unknown>> = [
        (t) => t.insertObject({ clientId, code: '1001', address: 'B', at: AT, calloutEnabled: false }),
        (t) => t.insertNumber({ clientId, phone: PHONE, state: 'pending', allObjects: true, objectIds: [], at: AT }),
        (t) => t.insertLedger({ clientId, amount: 1, kind: 'payment', ref: 'r1', note: null, at: AT }),
        (t) => t.insertOperator({ name: 'op', role: 'admin', tokenHash: 't9', at: AT, expiresAt: AT }),
        (t) => t.insertOperator({ name: 'op9', role: 'admin', tokenHash: 't1', at: AT, expiresAt: AT }),
        (t) => t.setOperatorToken(other, 't1', AT, AT),
        (t) => t.insertSession({ tokenHash: 's1', numberId, clientId, channel: 'app', at: AT, expiresAt: AT }),
        (t) => t.insertChallenge({
          id: 'ch1', purpose: 'disarm', numberId, objectId: null, channel: 'sms', codeHash: Buffer.alloc(32), createdAt: AT, expiresAt: AT,
          attempts: 0, state: 'pending', operator: null,
        }),
      ];
      const keys: string[] = [];
      for (const attempt of attempts) {
        const e = await attempt(tx).then(() => null, (x: unknown) => x);
        expect(e).toBeInstanceOf(DuplicateKeyError);
        keys.push((e as DuplicateKeyError).key);
      }
      return keys;
    });
    const pgKeys = await keysOn(s);
    expect(pgKeys).toEqual(await keysOn(lite));
    expect(pgKeys).toContain('ledger.ref');
    // every refused write was undone, the rest committed
    expect((await s.store.read((tx) => tx.listOperators())).map((o) => [o.name, o.id])).toEqual([['op', 1], ['op2', 2]]);
    expect(await s.store.read((tx) => tx.getLiveNumber(PHONE))).toMatchObject({ objectCodes: ['1001'] });
  });

  it('keeps working through a server restart and rejects quickly while the server is away', async () => {
    const db = await createTestDatabase();
    cleanups.push(() => db.drop());
    const target = new URL(pgUrl()!);
    const relay = new Relay({ host: target.hostname, port: Number(target.port || 5432) });
    await relay.up();
    cleanups.push(() => relay.down());
    const s = await open(relay.url(db.name), { statementTimeoutMs: 1_000 });
    const watcher = await open(db.url);
    await s.store.transaction((tx) => tx.insertClient({ name: 'before', lang: 'ru', balance: 0, at: AT }));
    const m0 = await s.admin.changeMarker();

    // the server stops: calls reject at once, nothing crashes
    await relay.down();
    const calls: Array<() => Promise<unknown>> = [
      () => s.admin.ping(), () => s.store.transaction((tx) => tx.listClients()), () => s.store.read((tx) => tx.listClients()),
      () => s.outbox.counts(), () => s.outbox.claim(AT, 5, 'test', '2099-01-01T00:00:00.000Z'), () => s.admin.changeMarker(),
    ];
    for (const call of calls) {
      const r = await settles(call());
      expect(r.error).toBeInstanceOf(Error);
      expect(r.ms).toBeLessThan(1_500);
    }
    // meanwhile another instance changes something
    await watcher.store.transaction((tx) => tx.insertClient({ name: 'while away', lang: 'kk', balance: 0, at: AT }));

    // it comes back on the same address: the store works again without being reopened
    await relay.up();
    await until(() => s.admin.ping(), () => true, 10_000);
    await s.store.transaction((tx) => tx.insertClient({ name: 'after', lang: 'ru', balance: 0, at: AT }));
    expect((await s.store.read((tx) => tx.listClients())).map((c) => c.name)).toEqual(['before', 'while away', 'after']);
    // the listener is back too, and counts the change it may have missed
    const m1 = await until(() => s.admin.changeMarker(), () => true, 10_000);
    expect(m1).not.toBe(m0);

    // a server that stops answering (connections open, nothing comes back): calls still end
    relay.silent();
    const r = await settles(s.admin.ping());
    expect(r.error).toBeInstanceOf(Error);
    expect(r.ms).toBeLessThan(5_000);
    await relay.down();
    await relay.up();
    await until(() => s.admin.ping(), () => true, 10_000);
  });

  it('refuses to open a server that cannot be reached, within a few seconds', async () => {
    // a port where nothing listens
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', () => resolve()));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const refused = await settles(openStore({ dbPath: `postgres://zhedel@127.0.0.1:${port}/zhedel` }));
    expect(refused.error).toBeInstanceOf(Error);
    expect(refused.ms).toBeLessThan(2_000);

    // a server that accepts connections and never answers
    const held = new Set<Socket>();
    const mute = createServer((sock) => {
      held.add(sock);
      sock.on('error', () => undefined);
    });
    await new Promise<void>((resolve) => mute.listen(0, '127.0.0.1', () => resolve()));
    cleanups.push(() => new Promise<void>((resolve) => {
      for (const sock of held) sock.destroy();
      mute.close(() => resolve());
    }));
    const silent = await settles(openStore({ dbPath: `postgres://zhedel@127.0.0.1:${(mute.address() as AddressInfo).port}/zhedel` }));
    expect(silent.error).toBeInstanceOf(Error);
    expect(silent.ms).toBeLessThan(6_000);
  });

  it('backs up with pg_dump into a private file, checks integrity, and leaves restore to the server tools', async () => {
    const url = await database();
    const s = await open(url);
    await s.store.transaction((tx) => tx.appendJournal(doc('kept')));
    const dir = mkdtempSync(join(tmpdir(), 'zhedel-pgdump-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const to = join(dir, 'backups', 'copy.dump');
    expect(await s.admin.backup(to)).toEqual({ integrity: 'ok' });
    expect((statSync(to).mode & 0o777).toString(8)).toBe('600');
    expect((statSync(join(dir, 'backups')).mode & 0o777).toString(8)).toBe('700');
    await expect(restoreStore({ dbPath: url }, to)).rejects.toThrow(/pg_restore/);

    // a dump that fails leaves no file; without pg_dump the message says what is missing
    const bin = join(dir, 'bin');
    mkdirSync(bin);
    writeFileSync(join(bin, 'pg_dump'), '#!/bin/sh\nfor a; do case "$a" in --file=*) echo partial > "${a#--file=}";; esac; done\necho "pg_dump: error: disk full" >&2\nexit 1\n', { mode: 0o755 });
    const path = process.env.PATH;
    try {
      process.env.PATH = bin;
      await expect(s.admin.backup(join(dir, 'backups', 'failed.dump'))).rejects.toThrow(/pg_dump failed.*disk full/);
      expect(existsSync(join(dir, 'backups', 'failed.dump'))).toBe(false);
      process.env.PATH = join(dir, 'nothing-here');
      await expect(s.admin.backup(join(dir, 'backups', 'missing.dump'))).rejects.toThrow(/pg_dump not found/);
      expect(existsSync(join(dir, 'backups', 'missing.dump'))).toBe(false);
    } finally {
      process.env.PATH = path;
    }
  });

  it('reports a disabled journal guard as an integrity problem', async () => {
    const url = await database();
    const s = await open(url);
    expect(await s.admin.verifyIntegrity()).toBe('ok');
    await withConnection(url, (c) => c.query('ALTER TABLE journal DISABLE TRIGGER journal_no_delete'));
    expect(await s.admin.verifyIntegrity()).toMatch(/journal_no_delete/);
    await withConnection(url, (c) => c.query('ALTER TABLE journal ENABLE TRIGGER journal_no_delete'));
    expect(await s.admin.verifyIntegrity()).toBe('ok');
    // the guards refuse a change of the journal, even from outside the service
    await s.store.transaction((tx) => tx.appendJournal(doc('kept')));
    await expect(withConnection(url, (c) => c.query('DELETE FROM journal'))).rejects.toThrow(/append-only/);
    await expect(withConnection(url, (c) => c.query('TRUNCATE journal'))).rejects.toThrow(/append-only/);
  });
});
