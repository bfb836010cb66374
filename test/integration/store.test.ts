import { spawn } from 'node:child_process';
import { chmodSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { backupJob } from '../../src/jobs/schedule.ts';
import { receiptLookupKeys } from '../../src/sms/codec.ts';
import { integrityCheck, loadMigrations, migrate, openDb, schemaVersion } from '../../src/store/db.ts';
import { OutboxStore } from '../../src/store/outbox-store.ts';
import { SqliteStore } from '../../src/store/sqlite-store.ts';
import { makeFixture, seedClient, tempDir } from '../support/core-fixture.ts';
import type { Fixture } from '../support/core-fixture.ts';
import { quietLogger } from '../support/sms-harness.ts';

const fixtures: Fixture[] = [];
afterEach(() => {
  while (fixtures.length) fixtures.pop()?.close();
});
function fixture(dir?: string): Fixture {
  const f = makeFixture(dir ? { dir } : {});
  fixtures.push(f);
  return f;
}

describe('database', () => {
  it('migrates an empty file to the latest version with durable pragmas', () => {
    const path = join(tempDir(), 'new.db');
    const db = openDb(path);
    expect(schemaVersion(db)).toBe(loadMigrations().length);
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(db.pragma('synchronous', { simple: true })).toBe(2); // FULL
    expect(db.pragma('foreign_keys', { simple: true })).toBe(1);
    expect(db.pragma('busy_timeout', { simple: true })).toBeGreaterThanOrEqual(5000);
    expect(migrate(db)).toBe(0); // nothing left to apply
    expect(integrityCheck(db)).toBe('ok');
    db.close();
  });

  it('a failing migration leaves the previous version intact', () => {
    const db = openDb(join(tempDir(), 'm.db'), { migrate: false });
    const good = loadMigrations();
    const bad = [...good, { version: good.length + 1, name: '999-bad.sql', sql: 'CREATE TABLE x (a INT); INSERT INTO nowhere VALUES (1);' }];
    expect(() => migrate(db, bad)).toThrow();
    expect(schemaVersion(db)).toBe(good.length);
    expect(db.prepare("SELECT COUNT(*) AS n FROM sqlite_master WHERE name = 'x'").get()).toEqual({ n: 0 });
    db.close();
  });

  it('transactions asked for together share one commit; one that fails is undone alone, and none is answered before the commit', async () => {
    const db = openDb(join(tempDir(), 'group.db'));
    const store = new SqliteStore(db);
    const at = '2026-11-24T10:00:00.000Z';
    await store.transaction((tx) => tx.insertClient({ name: 'first', lang: 'ru', balance: 0, at }));
    const before = { ...store.commits };
    const answered: number[] = [];
    const runs = Array.from({ length: 20 }, (_, i) => store.transaction(async (tx) => {
      const id = await tx.insertClient({ name: `c${i}`, lang: 'ru', balance: i, at });
      // the member's own write is visible to it, and to the members after it
      expect((await tx.getClient(id))?.name).toBe(`c${i}`);
      if (i % 3 === 1) throw new Error(`refused ${i}`);
      return id;
    }).then((id) => {
      answered.push(i);
      // answered only once the group's commit is on disk: another connection sees the row
      const other = openDb(db.name, { readonly: true });
      try {
        expect(other.prepare('SELECT name FROM clients WHERE id = ?').get(id)).toEqual({ name: `c${i}` });
      } finally {
        other.close();
      }
      return id;
    }));
    const results = await Promise.allSettled(runs);
    results.forEach((r, i) => {
      if (i % 3 === 1) expect(r).toMatchObject({ status: 'rejected', reason: { message: `refused ${i}` } });
      else expect(r.status).toBe('fulfilled');
    });
    expect(answered).toEqual(Array.from({ length: 20 }, (_, i) => i).filter((i) => i % 3 !== 1));
    const names = (db.prepare('SELECT name FROM clients ORDER BY id').all() as Array<{ name: string }>).map((r) => r.name);
    expect(names).toEqual(['first', ...answered.map((i) => `c${i}`)]);
    // 20 transactions asked for in one turn: committed in one group (not twenty)
    expect(store.commits.transactions - before.transactions).toBe(20);
    expect(store.commits.groups - before.groups).toBe(1);
    // more than one group holds: the rest get groups of their own, in order
    const many = await Promise.all(Array.from({ length: 300 }, (_, i) => store.transaction((tx) => tx.insertClient({ name: `m${i}`, lang: 'kk', balance: i, at }))));
    expect(many).toEqual([...many].sort((a, b) => a - b));
    expect(store.commits.transactions - before.transactions).toBe(320);
    expect(store.commits.groups - before.groups).toBeGreaterThanOrEqual(1 + Math.ceil(300 / 64));
    db.close();
  });

  it('parts sent before the one-key upgrade are still found by their receipts, in either base', async () => {
    const db = openDb(join(tempDir(), 'parts.db'), { migrate: false });
    migrate(db, loadMigrations().filter((m) => m.version <= 7));
    const at = '2026-11-24T10:00:00.000Z';
    const outbox = (db.prepare(`INSERT INTO outbox (priority, kind, phone, body, secret, state, attempts, not_before, created_at, updated_at, parts_total, submitted_at)
      VALUES (2, 'notice', '+77011234567', 'x', 0, 'submitted', 1, ?, ?, ?, 2, ?)`).run(at, at, at, at).lastInsertRowid);
    // as the earlier schema kept them: each part, and its keys in a table of their own
    const part = db.prepare("INSERT INTO outbox_parts (outbox_id, seq, total, message_id, state, submitted_at) VALUES (?, ?, 2, ?, 'submitted', ?)");
    const key = db.prepare('INSERT INTO outbox_part_keys (key, part_id) VALUES (?, ?)');
    const p1 = part.run(outbox, 1, '00001A2B', at).lastInsertRowid;
    for (const k of ['s:1a2b', 'h:6699']) key.run(k, p1);
    const p2 = part.run(outbox, 2, '4711', at).lastInsertRowid;
    for (const k of ['s:4711', 'h:18193', 'd:4711']) key.run(k, p2);
    migrate(db);
    expect(db.prepare('SELECT id_key FROM outbox_parts ORDER BY seq').all()).toEqual([{ id_key: '1a2b' }, { id_key: '4711' }]);
    expect(db.prepare("SELECT COUNT(*) AS n FROM sqlite_master WHERE name = 'outbox_part_keys'").get()).toEqual({ n: 0 });
    const store = new OutboxStore(db);
    expect(await store.applyReceipts([
      { keys: receiptLookupKeys('6699'), state: 'delivered', error: null },
      { keys: receiptLookupKeys('0x'), state: 'delivered', error: null },
      { keys: receiptLookupKeys('4711'), state: 'delivered', error: null },
    ], at)).toEqual([{ outboxId: Number(outbox), messageState: null }, null, { outboxId: Number(outbox), messageState: 'delivered' }]);
    db.close();
  });

  it('the database, its -wal and -shm, their folder and backups are for the service\'s user only', async () => {
    const mode = (p: string): string => (statSync(p).mode & 0o777).toString(8);
    const before = process.umask(0o022);
    try {
      const dir = join(tempDir(), 'data');
      const path = join(dir, 'zhedel.db');
      const db = openDb(path);
      db.prepare('INSERT INTO services (code, name_ru, name_kk, monthly_fee, sms_fee) VALUES (?, ?, ?, ?, ?)').run('x', 'x', 'x', 1, 1);
      expect(mode(dir)).toBe('700');
      for (const f of [path, `${path}-wal`, `${path}-shm`]) expect([f.slice(dir.length), mode(f)]).toEqual([f.slice(dir.length), '600']);
      db.close();
      // a database left readable by others is tightened when opened
      chmodSync(path, 0o644);
      openDb(path).close();
      expect(mode(path)).toBe('600');
      const fx = fixture();
      const backups = join(fx.dir, 'backups');
      const r = await backupJob({ core: fx.core, admin: fx.admin, backupDir: backups, backupKeepDays: 2, reminderDays: 3, logger: quietLogger });
      expect(r.integrity).toBe('ok');
      expect(mode(backups)).toBe('700');
      expect(mode(r.file)).toBe('600');
    } finally {
      process.umask(before);
    }
  });

  it('enforces foreign keys and checks', async () => {
    const fx = fixture();
    expect(() => fx.db.prepare("INSERT INTO objects (client_id, code, address, status_since, created_at) VALUES (99, '555', 'x', 'now', 'now')").run()).toThrow(/FOREIGN KEY/);
    await seedClient(fx);
    expect(() => fx.db.prepare("UPDATE objects SET status = 'open'").run()).toThrow(/CHECK/);
    expect(() => fx.db.prepare("UPDATE numbers SET phone = '87011234567'").run()).toThrow(/CHECK/);
  });
});

describe('journal tamper detection with plain SQL', () => {
  async function tamperable(): Promise<Fixture> {
    const fx = fixture();
    await seedClient(fx);
    for (let i = 0; i < 5; i++) await fx.core.request({ channel: 'sms', phone: '87011234567', action: i % 2 ? 'arm' : 'status' });
    expect((await fx.core.verifyJournal()).ok).toBe(true);
    // what an attacker with the file would do first
    fx.db.exec('DROP TRIGGER journal_no_update; DROP TRIGGER journal_no_delete;');
    return fx;
  }

  it('finds an edited field', async () => {
    const fx = await tamperable();
    fx.db.prepare("UPDATE journal SET outcome = 'refused' WHERE seq = 5").run();
    expect(await fx.core.verifyJournal()).toMatchObject({ ok: false, checked: 4, problem: { seq: 5, kind: 'hash-mismatch' } });
  });

  it('finds an edited phone', async () => {
    const fx = await tamperable();
    fx.db.prepare("UPDATE journal SET phone = '+77779999999' WHERE seq = 6").run();
    expect(await fx.core.verifyJournal()).toMatchObject({ ok: false, problem: { seq: 6 } });
  });

  it('finds a removed record', async () => {
    const fx = await tamperable();
    fx.db.prepare('DELETE FROM journal WHERE seq = 3').run();
    expect(await fx.core.verifyJournal()).toMatchObject({ ok: false, problem: { seq: 4, kind: 'sequence-gap' } });
  });

  it('finds records swapped', async () => {
    const fx = await tamperable();
    fx.db.exec(`UPDATE journal SET seq = -1 WHERE seq = 4; UPDATE journal SET seq = 4 WHERE seq = 5; UPDATE journal SET seq = 5 WHERE seq = -1;`);
    expect(await fx.core.verifyJournal()).toMatchObject({ ok: false, problem: { seq: 4 } });
  });
});

function runWriter(db: string, phone: string, count: number): Promise<{ lines: string[]; code: number | null }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['bin/run-ts.js', 'test/support/writer.ts', db, phone, String(count)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { err += d.toString(); });
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) reject(new Error(`writer exited ${code}: ${err}`));
      else resolve({ lines: out.trim().split('\n'), code });
    });
  });
}

describe('two processes on one database', () => {
  it('concurrent writers lose nothing and keep the chain intact', async () => {
    const dir = tempDir();
    const fx = fixture(dir);
    await seedClient(fx);
    await seedClient(fx, { phone: '+77021234567', codes: ['5678'] });
    const start = (fx.db.prepare('SELECT MAX(seq) AS s FROM journal').get() as { s: number }).s;
    const [a, b] = await Promise.all([runWriter(fx.dbPath, '+77011234567', 150), runWriter(fx.dbPath, '+77021234567', 150)]);
    // meanwhile this process writes too
    for (let i = 0; i < 50; i++) await fx.core.operatorRequest({ action: 'status', objectCode: '5678', operator: 'parent' });
    const seqs = [...a.lines, ...b.lines].map((l) => Number(l.split(' ')[0]));
    expect(new Set(seqs).size).toBe(300);
    const total = (fx.db.prepare('SELECT COUNT(*) AS n FROM journal').get() as { n: number }).n;
    expect(total).toBe(start + 350);
    expect(await fx.core.verifyJournal()).toMatchObject({ ok: true, checked: total });
    expect(integrityCheck(fx.db)).toBe('ok');
  });
});

describe('crash', () => {
  it('a writer killed with SIGKILL mid-stream loses nothing it reported done', async () => {
    const dir = tempDir();
    const setup = fixture(dir);
    await seedClient(setup);
    const dbPath = setup.dbPath;
    setup.db.close();

    const child = spawn(process.execPath, ['bin/run-ts.js', 'test/support/writer.ts', dbPath, '+77011234567', '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
    const reported: Array<[number, string]> = [];
    let buf = '';
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('writer did not produce enough output')), 20_000);
      child.stdout.on('data', (d: Buffer) => {
        buf += d.toString();
        let i: number;
        while ((i = buf.indexOf('\n')) >= 0) {
          const [seq, action] = buf.slice(0, i).split(' ');
          buf = buf.slice(i + 1);
          reported.push([Number(seq), action as string]);
        }
        if (reported.length >= 300 && !child.killed) {
          child.kill('SIGKILL');
          clearTimeout(timer);
        }
      });
      child.on('exit', () => resolve());
    });
    expect(reported.length).toBeGreaterThanOrEqual(300);

    const db = openDb(dbPath);
    expect(integrityCheck(db)).toBe('ok');
    const get = db.prepare('SELECT action FROM journal WHERE seq = ?');
    for (const [seq, action] of reported) {
      expect((get.get(seq) as { action: string } | undefined)?.action).toBe(action);
    }
    db.close();
    const fx = fixture(dir);
    expect((await fx.core.verifyJournal()).ok).toBe(true);
  });
});
