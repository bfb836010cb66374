import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Core } from '../../src/core/core.ts';
import { DuplicateKeyError } from '../../src/core/ports.ts';
import { cryptoRandom } from '../../src/core/system.ts';
import { deriveKeys } from '../../src/domain/crypto.ts';
import { loadMigrations, openDb } from '../../src/store/db.ts';
import { openStore, restoreStore } from '../../src/store/index.ts';
import type { OpenStore } from '../../src/store/index.ts';
import { TEST_SECRET, TestClock, tempDir } from '../support/core-fixture.ts';

const PHONE = '+77011234567';
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()?.();
});

interface Rig extends OpenStore {
  dir: string;
  dbPath: string;
  core: Core;
  clock: TestClock;
}

/** The store as the service opens it, on a file, with a core over its port. */
async function rig(clock = new TestClock()): Promise<Rig> {
  const dir = tempDir('zhedel-admin-');
  const dbPath = join(dir, 'data', 'zhedel.db');
  const opened = await openStore({ dbPath });
  cleanups.push(async () => await opened.admin.close());
  const core = new Core({ store: opened.store, clock, random: cryptoRandom, keys: deriveKeys(TEST_SECRET), timeZone: 'Asia/Almaty', events: { emit: () => undefined } });
  return { ...opened, dir, dbPath, core, clock };
}

async function seed(r: Rig): Promise<{ clientId: number }> {
  const c = await r.core.addClient({ name: 'Client', lang: 'ru', operator: 'test' });
  await r.core.addObject({ clientId: c.id, code: '1234', address: 'Addr 1234', operator: 'test' });
  await r.core.addNumber({ clientId: c.id, phone: PHONE, signed: true, operator: 'test' });
  return { clientId: c.id };
}

const mode = (p: string): string => (statSync(p).mode & 0o777).toString(8);

describe('store administration port (SQLite)', () => {
  it('housekeeping expires codes and stale SMS, and forgets old code sends', async () => {
    const r = await rig();
    await seed(r);
    await r.core.request({ channel: 'sms', phone: PHONE, action: 'disarm' });
    const number = await r.store.read(async (tx) => tx.getLiveNumber(PHONE));
    expect(number && await r.store.read(async (tx) => tx.pendingChallenges(number.id))).toHaveLength(1);

    const soon = await r.admin.housekeeping(new Date(r.clock.now().getTime() + 10 * 60_000));
    expect(soon).toEqual({ codes: 1, sessions: 0, oldSessions: 0, staleSms: 0, otpSends: 0, codeFloods: 0, rateHits: 0, jobRuns: 0 });
    expect(number && await r.store.read(async (tx) => tx.pendingChallenges(number.id))).toHaveLength(0);

    const later = await r.admin.housekeeping(new Date(r.clock.now().getTime() + 3 * 86_400_000));
    expect(later).toMatchObject({ codes: 0, staleSms: 1, otpSends: 1 });
    expect((await r.store.read(async (tx) => tx.listOutbox({ limit: 10 }))).map((m) => [m.state, m.bodyEnc])).toEqual([['expired', null]]);
    expect(await r.admin.housekeeping(new Date(r.clock.now().getTime() + 3 * 86_400_000))).toMatchObject({ staleSms: 0, otpSends: 0 });
  });

  it('metrics read the figures /metrics shows, each when asked', async () => {
    const r = await rig(new TestClock('real'));
    await seed(r);
    const m = await r.admin.metrics();
    expect(await m.documents()).toBe(3);
    expect(await m.outboxByState()).toEqual({});
    await r.core.request({ channel: 'sms', phone: PHONE, action: 'disarm' });
    await r.core.confirm({ channel: 'sms', phone: PHONE, code: '000000' });
    await r.core.raiseAlert({ kind: 'test', clientId: null, objectCode: null, phone: null, detail: null });
    expect(await m.outboxByState()).toEqual({ queued: 1 });
    expect(await m.otpSendsLastHour()).toBe(1);
    expect(await m.codeFailures()).toBe(1);
    expect(await m.openAlerts()).toBe(1);
    expect(await m.documents()).toBeGreaterThan(3);
    expect(await m.objectStatuses()).toEqual([{ code: '1234', clientId: 1, status: 'disarmed', since: expect.any(String) }]);
  });

  it('ping answers while the database is open and throws once it is closed', async () => {
    const r = await rig();
    await r.admin.ping();
    await r.admin.close();
    await expect(async () => r.admin.ping()).rejects.toThrow();
    await r.admin.close();
  });

  it('backup writes a checked, private copy; restore brings it back and keeps the replaced database', async () => {
    const before = process.umask(0o022);
    try {
      const r = await rig();
      await seed(r);
      expect(await r.admin.verifyIntegrity()).toBe('ok');
      expect(await r.admin.schemaVersion()).toBe(loadMigrations().length);
      const to = join(r.dir, 'backups', 'copy.db');
      expect(await r.admin.backup(to)).toEqual({ integrity: 'ok' });
      expect([mode(join(r.dir, 'backups')), mode(to)]).toEqual(['700', '600']);
      const copy = openDb(to, { migrate: false, readonly: true });
      expect(copy.prepare('SELECT code FROM objects').all()).toEqual([{ code: '1234' }]);
      copy.close();

      // a copy that cannot be written leaves no file behind
      await r.admin.close();
      await expect(r.admin.backup(join(r.dir, 'backups', 'after-close.db'))).rejects.toThrow();
      expect(existsSync(join(r.dir, 'backups', 'after-close.db'))).toBe(false);

      const again = await openStore({ dbPath: r.dbPath });
      await again.store.transaction(async (tx) => tx.insertClient({ name: 'Later', lang: 'kk', balance: 0, at: new Date().toISOString() }));
      await again.admin.close();
      const restored = await restoreStore({ dbPath: r.dbPath }, to);
      expect(restored).toEqual({ restored: true, kept: expect.stringContaining('.before-restore-') });
      expect(mode(r.dbPath)).toBe('600');
      const after = await openStore({ dbPath: r.dbPath });
      cleanups.push(async () => await after.admin.close());
      expect((await after.store.read(async (tx) => tx.listClients())).map((c) => c.name)).toEqual(['Client']);
      expect(readdirSync(join(r.dir, 'data')).some((f) => f.startsWith('zhedel.db.before-restore-'))).toBe(true);
    } finally {
      process.umask(before);
    }
  });

  it('restore refuses a copy that fails its integrity check and changes nothing', async () => {
    const r = await rig();
    await seed(r);
    const bad = join(r.dir, 'bad.db');
    const db = openDb(bad, { migrate: false });
    db.exec('CREATE TABLE t (a INTEGER, b TEXT); CREATE INDEX ti ON t(b);');
    const ins = db.prepare('INSERT INTO t VALUES (?, ?)');
    for (let i = 0; i < 500; i++) ins.run(i, `x${i}`);
    db.close();
    // damage the tail of a few pages: the header stays valid, the tree does not
    const bytes = readFileSync(bad);
    for (let page = 2; page < 7; page++) bytes.fill(0x41, 4096 * page + 3000, 4096 * page + 4000);
    writeFileSync(bad, bytes);
    await r.admin.close();
    const res = await restoreStore({ dbPath: r.dbPath }, bad);
    expect(res).toMatchObject({ restored: false, integrity: expect.stringContaining('out of order') });
    expect(readdirSync(join(r.dir, 'data')).filter((f) => f.includes('before-restore'))).toEqual([]);
    const after = await openStore({ dbPath: r.dbPath });
    cleanups.push(async () => await after.admin.close());
    expect((await after.store.read(async (tx) => tx.listClients())).map((c) => c.name)).toEqual(['Client']);
  });

  it('the change marker moves when another connection commits', async () => {
    const r = await rig();
    await seed(r);
    const m0 = await r.admin.changeMarker();
    expect(await r.admin.changeMarker()).toBe(m0);
    const other = openDb(r.dbPath);
    other.prepare("UPDATE objects SET status = 'armed' WHERE code = '1234'").run();
    other.close();
    expect(await r.admin.changeMarker()).not.toBe(m0);
  });

  it('a taken object code or ledger reference is a DuplicateKeyError; the transaction goes on', async () => {
    const r = await rig();
    const { clientId } = await seed(r);
    const at = new Date().toISOString();
    let err: unknown;
    try {
      await r.store.transaction(async (tx) => tx.insertObject({ clientId, code: '1234', address: 'Again', at, calloutEnabled: false }));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(DuplicateKeyError);
    expect((err as DuplicateKeyError).key).toContain('objects.code');
    expect((err as DuplicateKeyError).name).toBe('DuplicateKeyError');

    const ledger = { clientId, amount: 100, kind: 'payment' as const, ref: 'bank-1', note: null, at };
    const kept = await r.store.transaction(async (tx) => {
      await tx.insertLedger(ledger);
      await expect(tx.insertLedger(ledger)).rejects.toThrow(DuplicateKeyError);
      return tx.insertLedger({ ...ledger, ref: 'bank-2' });
    });
    expect(kept).toBeGreaterThan(0);
    expect(await r.store.read(async (tx) => (await tx.ledgerHas('bank-1')) && tx.ledgerHas('bank-2'))).toBe(true);
    let dup: unknown;
    try {
      await r.store.transaction(async (tx) => tx.insertLedger(ledger));
    } catch (e) {
      dup = e;
    }
    expect(dup).toBeInstanceOf(DuplicateKeyError);
    expect((dup as DuplicateKeyError).key).toContain('ledger.ref');
    // the core still tells a repeated payment from a new one
    expect(await r.core.pay({ clientId, amount: 500, operator: 'op', ref: 'bank-1' })).toMatchObject({ duplicate: true });
  });
});
