import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DuplicateKeyError } from '../../src/core/ports.ts';
import type { CallFilter, CallInsert, ChallengeRow, HoldInsert, StoreTx } from '../../src/core/ports.ts';
import { CALL_ACTIONS_MAX } from '../../src/domain/calls.ts';
import { JournalVerifier } from '../../src/domain/journal.ts';
import type { JournalContent, VerifyResult } from '../../src/domain/journal.ts';
import { ENGINES } from './engines.ts';
import type { EnginePorts, OpenEngine } from './engines.ts';

const AT = '2026-11-24T10:00:00.000Z';
/** A lease that outlives every test's clock. */
const LEASE = '2026-11-24T11:00:00.000Z';
const PHONE = '+77011234567';

function doc(n: number, over: Partial<JournalContent> = {}): JournalContent {
  return {
    at: AT, channel: 'sms', phone: PHONE, clientId: null, objectCode: null, action: 'status', auth: 'sender',
    challengeId: null, operator: null, outcome: 'accepted', reason: null, detail: `n=${n}`, ...over,
  };
}

/** The journal's chain as a reader of the port sees it, page by page. */
async function verify(p: EnginePorts): Promise<VerifyResult> {
  const v = new JournalVerifier();
  let after = 0;
  for (;;) {
    const from = after;
    const page = await p.store.read((tx) => tx.journalPage(from, 7));
    if (page.length === 0) return v.result();
    for (const r of page) if (!v.add(r)) return v.result();
    after = page[page.length - 1]!.seq;
  }
}

/** A client with one object and one active number. */
async function seed(tx: StoreTx): Promise<{ clientId: number; objectId: number; numberId: number }> {
  const clientId = await tx.insertClient({ name: 'ТОО Тест', lang: 'ru', balance: 0, at: AT });
  const objectId = await tx.insertObject({ clientId, code: '1001', address: 'Алматы', at: AT, calloutEnabled: false });
  const numberId = await tx.insertNumber({ clientId, phone: PHONE, state: 'active', allObjects: true, objectIds: [], at: AT });
  return { clientId, objectId, numberId };
}

function challenge(id: string, numberId: number, createdAt: string, over: Partial<ChallengeRow> = {}): ChallengeRow {
  return {
    id, purpose: 'disarm', numberId, objectId: null, channel: 'sms', codeHash: Buffer.alloc(32, 7), createdAt,
    expiresAt: new Date(Date.parse(createdAt) + 300_000).toISOString(), attempts: 0, state: 'pending', operator: null, ...over,
  };
}

describe.each(ENGINES)('store contract on $name', (engine) => {
  let db: OpenEngine;
  beforeEach(async () => {
    db = await engine.open();
  });
  afterEach(async () => {
    await db.close();
  });

  describe('journal', () => {
    it('appends a hash chain that a walk over the port verifies', async () => {
      for (let i = 1; i <= 20; i++) {
        const rec = await db.store.transaction((tx) => tx.appendJournal(doc(i)));
        expect(rec.seq).toBe(i);
      }
      const three = await db.store.transaction(async (tx) => [await tx.appendJournal(doc(21)), await tx.appendJournal(doc(22))]);
      expect(three[1]!.prevHash).toBe(three[0]!.hash);
      const r = await verify(db);
      expect(r).toMatchObject({ ok: true, checked: 22, headHash: three[1]!.hash });
      const found = await db.store.read((tx) => tx.searchJournal({ phone: PHONE, limit: 5 }));
      expect(found.map((x) => x.seq)).toEqual([22, 21, 20, 19, 18]);
    });

    it('detects a changed record and a deleted one', async () => {
      await db.store.transaction(async (tx) => {
        for (let i = 1; i <= 10; i++) await tx.appendJournal(doc(i));
      });
      await db.tamper.editJournal(4, 'n=400');
      expect((await verify(db)).problem).toEqual({ seq: 4, kind: 'hash-mismatch' });
      await db.tamper.editJournal(4, 'n=4');
      expect((await verify(db)).ok).toBe(true);
      await db.tamper.deleteJournal(7);
      expect((await verify(db)).problem).toEqual({ seq: 8, kind: 'sequence-gap' });
    });
  });

  describe('unique references', () => {
    it('answers DuplicateKeyError for a taken key, and the transaction goes on', async () => {
      const { clientId } = await db.store.transaction(seed);
      const dup = async (fn: (tx: StoreTx) => Promise<unknown>): Promise<unknown> =>
        db.store.transaction(async (tx) => {
          const err = await fn(tx).then(() => null, (e: unknown) => e);
          // the transaction is still usable after the refused write
          await tx.appendJournal(doc(1, { detail: 'after a duplicate' }));
          return err;
        });
      expect(await dup((tx) => tx.insertObject({ clientId, code: '1001', address: 'x', at: AT, calloutEnabled: false }))).toBeInstanceOf(DuplicateKeyError);
      expect(await dup((tx) => tx.insertNumber({ clientId, phone: PHONE, state: 'pending', allObjects: true, objectIds: [], at: AT }))).toBeInstanceOf(DuplicateKeyError);
      await db.store.transaction((tx) => tx.insertLedger({ clientId, amount: 100, kind: 'payment', ref: 'bank:1', note: null, at: AT }));
      expect(await dup((tx) => tx.insertLedger({ clientId, amount: 100, kind: 'payment', ref: 'bank:1', note: null, at: AT }))).toBeInstanceOf(DuplicateKeyError);
      await db.store.transaction((tx) => tx.insertOperator({ name: 'aigerim', role: 'admin', tokenHash: 'h1', at: AT, expiresAt: AT }));
      expect(await dup((tx) => tx.insertOperator({ name: 'aigerim', role: 'operator', tokenHash: 'h2', at: AT, expiresAt: AT }))).toBeInstanceOf(DuplicateKeyError);
      // each transaction committed its journal record, and nothing of the refused writes
      expect((await verify(db)).checked).toBe(4);
      const after = await db.store.read(async (tx) => ({
        objects: await tx.listObjects(clientId), numbers: await tx.listNumbers(clientId), operators: await tx.listOperators(),
      }));
      expect(after.objects).toHaveLength(1);
      expect(after.numbers).toHaveLength(1);
      expect(after.operators.map((o) => o.name)).toEqual(['aigerim']);
    });

    it('lets a removed number be registered again', async () => {
      const { clientId, numberId } = await db.store.transaction(seed);
      await db.store.transaction((tx) => tx.setNumberState(numberId, 'removed', AT));
      const again = await db.store.transaction((tx) => tx.insertNumber({ clientId, phone: PHONE, state: 'pending', allObjects: true, objectIds: [], at: AT }));
      expect(await db.store.read((tx) => tx.getLiveNumber(PHONE))).toMatchObject({ id: again, state: 'pending' });
    });
  });

  describe('transactions', () => {
    it('a rejected transaction leaves nothing behind and rejects with its error', async () => {
      const boom = new Error('boom');
      await expect(db.store.transaction(async (tx) => {
        const { clientId } = await seed(tx);
        await tx.appendJournal(doc(1, { clientId }));
        await tx.enqueueSms({ priority: 2, kind: 'reply', phone: PHONE, clientId, body: 'hi', bodyEnc: null, secret: false, at: AT, expiresAt: null });
        throw boom;
      })).rejects.toBe(boom);
      const left = await db.store.read(async (tx) => ({
        clients: await tx.listClients(), journal: await tx.journalPage(0, 10), outbox: await tx.listOutbox({ limit: 10 }),
      }));
      expect(left).toEqual({ clients: [], journal: [], outbox: [] });
      expect(await db.outbox.counts()).toEqual({});
    });

    it('a tx used after its transaction ended rejects', async () => {
      let kept: StoreTx | undefined;
      await db.store.transaction(async (tx) => {
        kept = tx;
        await tx.listClients();
      });
      await expect(kept!.listClients()).rejects.toThrow();
      await expect(kept!.insertClient({ name: 'late', lang: 'ru', balance: 0, at: AT })).rejects.toThrow();
      expect(await db.store.read((tx) => tx.listClients())).toEqual([]);
    });

    it('a transaction started inside another rejects at once instead of waiting for itself', async () => {
      const outcome = await db.store.transaction(async (tx) => {
        await tx.insertClient({ name: 'outer', lang: 'ru', balance: 0, at: AT });
        return db.store.transaction(async (inner) => inner.listClients()).then(() => 'nested ran', (e: unknown) => (e as Error).message);
      });
      expect(outcome).toMatch(/inside another transaction/);
      // the outer one committed; the store goes on serving
      expect((await db.store.read((tx) => tx.listClients())).map((c) => c.name)).toEqual(['outer']);
    });

    it('read is for reading: a write through it rejects and changes nothing', async () => {
      await expect(db.store.read((tx) => tx.insertClient({ name: 'x', lang: 'ru', balance: 0, at: AT }))).rejects.toThrow();
      expect(await db.store.read((tx) => tx.listClients())).toEqual([]);
      // and the store still writes afterwards
      await db.store.transaction((tx) => tx.insertClient({ name: 'y', lang: 'kk', balance: 0, at: AT }));
      expect((await db.store.read((tx) => tx.listClients())).map((c) => c.name)).toEqual(['y']);
    });

    it('concurrent transactions from two instances lose no write and keep the chain', async () => {
      const { clientId } = await db.store.transaction(seed);
      const second = await db.another();
      const bump = (p: EnginePorts, i: number): Promise<void> => p.store.transaction(async (tx) => {
        const c = await tx.getClient(clientId);
        await tx.addBalance(clientId, 1);
        await tx.appendJournal(doc(i, { clientId, detail: `balance-was=${c!.balance}` }));
      });
      await Promise.all(Array.from({ length: 60 }, (_, i) => bump(i % 2 === 0 ? db : second, i)));
      expect((await second.store.read((tx) => tx.getClient(clientId)))!.balance).toBe(60);
      const r = await verify(second);
      expect(r).toMatchObject({ ok: true, checked: 60 });
      // each transaction saw the one before it: every balance it read is distinct
      const seen = (await db.store.read((tx) => tx.journalPage(0, 100))).map((x) => x.detail);
      expect(new Set(seen).size).toBe(60);
    });
  });

  describe('challenges', () => {
    it('insert, newest pending first, attempts, revoke', async () => {
      const { numberId } = await db.store.transaction(seed);
      await db.store.transaction(async (tx) => {
        await tx.insertChallenge(challenge('a', numberId, '2026-11-24T10:00:00.000Z'));
        await tx.insertChallenge(challenge('b', numberId, '2026-11-24T10:01:00.000Z'));
        await tx.insertChallenge(challenge('c', numberId, '2026-11-24T10:02:00.000Z', { state: 'used' }));
      });
      await expect(db.store.transaction((tx) => tx.insertChallenge(challenge('a', numberId, AT)))).rejects.toBeInstanceOf(DuplicateKeyError);
      expect((await db.store.read((tx) => tx.pendingChallenges(numberId))).map((c) => c.id)).toEqual(['b', 'a']);
      await db.store.transaction((tx) => tx.updateChallenge('b', 2, 'pending'));
      const b = await db.store.read((tx) => tx.getChallenge('b'));
      expect(b).toMatchObject({ attempts: 2, state: 'pending', codeHash: Buffer.alloc(32, 7) });
      expect(await db.store.transaction((tx) => tx.revokeChallenges(numberId))).toBe(2);
      expect(await db.store.read((tx) => tx.pendingChallenges(numberId))).toEqual([]);
      expect((await db.store.read((tx) => tx.getChallenge('c')))?.state).toBe('used');
    });
  });

  describe('outbox', () => {
    const sms = (priority: 0 | 1 | 2, over: { at?: string; expiresAt?: string | null; secret?: boolean } = {}) => ({
      priority, kind: 'reply', phone: PHONE, clientId: null, body: over.secret ? null : `text ${priority}`,
      bodyEnc: over.secret ? Buffer.from('sealed') : null, secret: over.secret ?? false, at: over.at ?? AT, expiresAt: over.expiresAt ?? null,
    });

    it('claims the most urgent first, records parts and outcomes, settles receipts', async () => {
      const ids = await db.store.transaction(async (tx) => [
        await tx.enqueueSms(sms(2)), await tx.enqueueSms(sms(0, { secret: true })), await tx.enqueueSms(sms(1)),
        await tx.enqueueSms(sms(0, { expiresAt: '2026-11-24T10:00:30.000Z' })),
      ]);
      const [info, code, alarm, late] = ids as [number, number, number, number];
      expect(await db.outbox.nextDue()).toBe(AT);
      const now = '2026-11-24T10:01:00.000Z';
      const first = await db.outbox.claim(now, 2, 'a', LEASE);
      expect(first.expired).toBe(1);
      expect(first.claimed.map((m) => m.id)).toEqual([code, alarm]);
      expect(first.claimed[0]).toMatchObject({ attempts: 1, secret: true, body: null, acceptedParts: [], duplicateRisk: false });
      expect((await db.outbox.claim(now, 10, 'a', LEASE)).claimed.map((m) => m.id)).toEqual([info]);
      expect(await db.outbox.claim(now, 10, 'a', LEASE)).toEqual({ claimed: [], expired: 0, takenOver: 0 });

      await db.outbox.record([
        { outboxId: code, seq: 1, total: 1, messageId: 'M1', key: 'm1' },
        { outboxId: alarm, seq: 1, total: 2, messageId: 'A1', key: 'a1' },
        { outboxId: alarm, seq: 2, total: 2, messageId: 'A2', key: 'a2' },
        { outboxId: alarm, seq: 2, total: 2, messageId: 'A2', key: 'a2' },
      ], [
        { outboxId: code, state: 'submitted', eraseBody: true, total: 1 },
        { outboxId: alarm, state: 'submitted', eraseBody: false, total: 2 },
        { outboxId: info, state: 'retry', notBefore: '2026-11-24T10:05:00.000Z', error: 'throttled', duplicateRisk: false },
      ], now, 'a');
      await db.outbox.record([], [], now, 'a');
      expect(await db.outbox.counts()).toEqual({ submitted: 2, queued: 1, expired: 1 });
      expect((await db.outbox.parts(alarm)).map((p) => [p.seq, p.messageId, p.state])).toEqual([[1, 'A1', 'submitted'], [2, 'A2', 'submitted']]);
      expect(await db.outbox.nextDue()).toBe('2026-11-24T10:05:00.000Z');

      expect(await db.outbox.applyReceipts([], now)).toEqual([]);
      // in one transaction, in order: the second part's receipt sees the first part settled
      expect(await db.outbox.applyReceipts([
        { keys: { exact: ['nope'], cross: [] }, state: 'delivered', error: null },
        { keys: { exact: ['x'], cross: ['m1'] }, state: 'delivered', error: null },
        { keys: { exact: ['a1'], cross: [] }, state: 'delivered', error: null },
        { keys: { exact: ['a2'], cross: [] }, state: 'undeliverable', error: 'absent' },
      ], now)).toEqual([null, { outboxId: code, messageState: 'delivered' }, { outboxId: alarm, messageState: null }, { outboxId: alarm, messageState: 'undeliverable' }]);
      // keys are matched as stored, not as they came
      expect(await db.outbox.applyReceipts([{ keys: { exact: ['M1'], cross: [] }, state: 'delivered', error: null }], now)).toEqual([null]);
      const rows = await db.store.read((tx) => tx.listOutbox({ limit: 10 }));
      const byId = new Map(rows.map((r) => [r.id, r]));
      expect(byId.get(code)).toMatchObject({ state: 'delivered', bodyEnc: null, messageIds: ['M1'] });
      expect(byId.get(alarm)).toMatchObject({ state: 'undeliverable', messageIds: ['A1', 'A2'] });
      expect(byId.get(late)).toMatchObject({ state: 'expired' });
      expect(byId.get(info)).toMatchObject({ state: 'queued', error: 'throttled' });
    });

    it('applies every kind of outcome of one batch to its own message; a second outcome for a message is not applied', async () => {
      const [failedPlain, failedSealed, expiredSealed, expiredPlain, retried, keptSealed] = await db.store.transaction(async (tx) => [
        await tx.enqueueSms(sms(2)), await tx.enqueueSms(sms(0, { secret: true })), await tx.enqueueSms(sms(0, { secret: true })),
        await tx.enqueueSms(sms(2)), await tx.enqueueSms(sms(1)), await tx.enqueueSms(sms(0, { secret: true })),
      ]) as [number, number, number, number, number, number];
      expect((await db.outbox.claim(AT, 10, 'a', LEASE)).claimed).toHaveLength(6);
      const now = '2026-11-24T10:00:05.000Z';
      const ignored = await db.outbox.record([{ outboxId: keptSealed, seq: 1, total: 1, messageId: 'K1', key: 'k1' }], [
        { outboxId: failedPlain, state: 'failed', error: 'smsc:0x0b', duplicateRisk: true, eraseBody: true },
        { outboxId: failedSealed, state: 'failed', error: 'timeout', duplicateRisk: false, eraseBody: true },
        { outboxId: expiredSealed, state: 'expired' },
        { outboxId: retried, state: 'retry', notBefore: '2026-11-24T10:01:00.000Z', error: 'link-lost', duplicateRisk: true },
        { outboxId: expiredPlain, state: 'expired' },
        { outboxId: retried, state: 'submitted', eraseBody: true, total: 1 },
        { outboxId: keptSealed, state: 'submitted', eraseBody: false, total: 1 },
      ], now, 'a');
      expect(ignored).toEqual([retried]);
      const byId = new Map((await db.store.read((tx) => tx.listOutbox({ limit: 10 }))).map((r) => [r.id, r]));
      expect(byId.get(failedPlain)).toMatchObject({ state: 'failed', error: 'smsc:0x0b', duplicateRisk: true, doneAt: now, body: 'text 2' });
      expect(byId.get(failedSealed)).toMatchObject({ state: 'failed', error: 'timeout', duplicateRisk: false, doneAt: now, bodyEnc: null });
      expect(byId.get(expiredSealed)).toMatchObject({ state: 'expired', error: null, doneAt: now, body: null, bodyEnc: null });
      expect(byId.get(expiredPlain)).toMatchObject({ state: 'expired', doneAt: now, body: 'text 2' });
      expect(byId.get(retried)).toMatchObject({ state: 'queued', error: 'link-lost', duplicateRisk: true, doneAt: null, partsTotal: null, body: 'text 1' });
      expect(byId.get(keptSealed)).toMatchObject({ state: 'submitted', error: null, partsTotal: 1, doneAt: null, messageIds: ['K1'] });
      expect(byId.get(keptSealed)?.bodyEnc).not.toBeNull();
      expect(await db.outbox.nextDue()).toBe('2026-11-24T10:01:00.000Z');
      // a holder that no longer holds the message changes nothing
      expect(await db.outbox.record([], [{ outboxId: keptSealed, state: 'failed', error: 'late', duplicateRisk: false, eraseBody: true }], now, 'b')).toEqual([keptSealed]);
      expect((await db.outbox.counts())).toEqual({ failed: 2, expired: 2, queued: 1, submitted: 1 });
    });

    it('after a restart, messages caught mid-send are queued again as possible duplicates, keeping accepted parts', async () => {
      const id = await db.store.transaction((tx) => tx.enqueueSms(sms(1)));
      await db.outbox.claim(AT, 10, 'a', LEASE);
      await db.outbox.record([{ outboxId: id, seq: 1, total: 2, messageId: 'P1', key: 'p1' }], [], AT, 'a');
      expect(await db.outbox.recoverSending(AT, 'a')).toBe(1);
      expect(await db.outbox.recoverSending(AT, 'a')).toBe(0);
      expect((await db.store.read((tx) => tx.listOutbox({ limit: 10, duplicateRisk: true }))).map((r) => r.id)).toEqual([id]);
      const again = await db.outbox.claim(AT, 10, 'a', LEASE);
      expect(again.claimed[0]).toMatchObject({ id, attempts: 2, duplicateRisk: true, acceptedParts: [1] });
    });

    it('two instances never claim the same message', async () => {
      await db.store.transaction(async (tx) => {
        for (let i = 0; i < 30; i++) await tx.enqueueSms(sms(2));
      });
      const second = await db.another();
      const batches = await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 ? second : db).outbox.claim(AT, 4, i % 2 ? 'b' : 'a', LEASE)));
      const ids = batches.flatMap((b) => b.claimed.map((m) => m.id));
      expect(ids).toHaveLength(30);
      expect(new Set(ids).size).toBe(30);
    });
  });

  describe('held documents', () => {
    const hold = (ids: { clientId: number; objectId: number; numberId: number }, over: Partial<HoldInsert> = {}): HoldInsert => ({
      clientId: ids.clientId, numberId: ids.numberId, objectId: ids.objectId, action: 'disarm', channel: 'sms', challengeId: null,
      reasons: 'window', state: 'pending', requestedAt: AT, expiresAt: '2026-11-24T10:15:00.000Z', ...over,
    });

    it('stores holds, finds one by its challenge, lists open ones newest first, moves state only from the states given', async () => {
      const ids = await db.store.transaction(seed);
      const [a, b] = await db.store.transaction(async (tx) => {
        await tx.insertChallenge(challenge('ch-1', ids.numberId, AT, { objectId: ids.objectId }));
        return [await tx.insertHold(hold(ids, { challengeId: 'ch-1', state: 'awaiting-code' })), await tx.insertHold(hold(ids, { action: 'arm' }))];
      });
      expect(await db.store.read((tx) => tx.holdForChallenge('ch-1'))).toMatchObject({ id: a, state: 'awaiting-code', challengeId: 'ch-1', reasons: 'window', calls: 0 });
      expect(await db.store.read((tx) => tx.holdForChallenge('ch-2'))).toBeUndefined();
      // one hold per challenge
      await expect(db.store.transaction((tx) => tx.insertHold(hold(ids, { challengeId: 'ch-1' })))).rejects.toBeInstanceOf(DuplicateKeyError);
      expect((await db.store.read((tx) => tx.listHolds({ open: true, limit: 10 }))).map((h) => h.id)).toEqual([b, a]);
      expect(await db.store.transaction((tx) => tx.moveHold(a as number, ['pending'], 'confirmed'))).toBe(false);
      expect(await db.store.transaction((tx) => tx.moveHold(a as number, ['awaiting-code'], 'pending', { expiresAt: '2026-11-24T10:30:00.000Z' }))).toBe(true);
      expect(await db.store.transaction((tx) => tx.moveHold(b as number, ['pending', 'calling'], 'refused', { decidedAt: AT, decidedBy: 'op', result: 'confirmation-refused' }))).toBe(true);
      expect(await db.store.read((tx) => tx.getHold(b as number))).toMatchObject({ state: 'refused', decidedBy: 'op', result: 'confirmation-refused', decidedAt: AT });
      expect((await db.store.read((tx) => tx.listHolds({ open: true, limit: 10 }))).map((h) => h.id)).toEqual([a]);
      expect((await db.store.read((tx) => tx.listHolds({ clientId: ids.clientId, limit: 1 }))).map((h) => h.id)).toEqual([b]);
      expect((await db.store.read((tx) => tx.dueHolds('2026-11-24T10:29:59.000Z', 10)))).toEqual([]);
      expect((await db.store.read((tx) => tx.dueHolds('2026-11-24T10:30:00.000Z', 10))).map((h) => h.id)).toEqual([a]);
    });

    it('claims call-backs under a lease as call-outs are claimed: never two holders at once', async () => {
      const ids = await db.store.transaction(seed);
      const id = await db.store.transaction((tx) => tx.insertHold(hold(ids)));
      const second = await db.another();
      expect((await db.store.transaction((tx) => tx.claimHolds('a', AT, '2026-11-24T10:00:30.000Z', []))).map((h) => [h.id, h.state, h.holder])).toEqual([[id, 'calling', 'a']]);
      expect(await second.store.transaction((tx) => tx.claimHolds('b', '2026-11-24T10:00:10.000Z', '2026-11-24T10:00:40.000Z', []))).toEqual([]);
      // its own claim is not handed back while it calls; a restart (no skip) takes it again
      expect(await db.store.transaction((tx) => tx.claimHolds('a', '2026-11-24T10:00:10.000Z', '2026-11-24T10:00:40.000Z', [id]))).toEqual([]);
      expect(await db.store.transaction((tx) => tx.renewHolds([id], 'a', '2026-11-24T10:01:00.000Z'))).toEqual([id]);
      expect(await second.store.transaction((tx) => tx.renewHolds([id], 'b', '2026-11-24T10:01:00.000Z'))).toEqual([]);
      await db.store.transaction((tx) => tx.countHoldCall(id));
      // the lease ran out: another holder takes it over
      expect((await second.store.transaction((tx) => tx.claimHolds('b', '2026-11-24T10:01:00.000Z', '2026-11-24T10:01:30.000Z', []))).map((h) => [h.holder, h.calls])).toEqual([['b', 1]]);
      expect(await db.store.transaction((tx) => tx.renewHolds([id], 'a', '2026-11-24T10:02:00.000Z'))).toEqual([]);
    });
  });

  describe('billing', () => {
    it('a ledger reference is charged once, a notice is sent once per period', async () => {
      const { clientId } = await db.store.transaction(seed);
      const charge = (): Promise<boolean> => db.store.transaction(async (tx) => {
        const ref = `charge:${clientId}:sms:2026-11`;
        if (await tx.ledgerHas(ref)) return false;
        await tx.insertLedger({ clientId, amount: -30000, kind: 'charge', ref, note: null, at: AT });
        await tx.addBalance(clientId, -30000);
        return true;
      });
      expect(await Promise.all([charge(), charge(), charge()])).toEqual([true, false, false]);
      expect((await db.store.read((tx) => tx.getClient(clientId)))!.balance).toBe(-30000);
      const notice = (): Promise<boolean> => db.store.transaction((tx) => tx.billingNotice(clientId, 'suspended', '2026-11', AT));
      expect(await notice()).toBe(true);
      expect(await notice()).toBe(false);
      expect(await db.store.transaction((tx) => tx.billingNotice(clientId, 'suspended', '2026-12', AT))).toBe(true);
      expect(await db.store.read((tx) => tx.tariffFor('sms', '2026-11'))).toMatchObject({ monthlyFee: expect.any(Number) });
    });
  });

  describe('administration', () => {
    it('housekeeping expires and deletes what outlived its use', async () => {
      const { numberId, clientId } = await db.store.transaction(seed);
      const old = '2026-10-01T10:00:00.000Z';
      await db.store.transaction(async (tx) => {
        await tx.insertChallenge(challenge('old', numberId, old));
        await tx.insertChallenge(challenge('new', numberId, AT));
        await tx.insertSession({ tokenHash: 'ended', numberId, clientId, channel: 'app', at: old, expiresAt: '2026-10-02T10:00:00.000Z' });
        await tx.insertSession({ tokenHash: 'live', numberId, clientId, channel: 'app', at: AT, expiresAt: '2026-12-24T10:00:00.000Z' });
        await tx.insertSession({ tokenHash: 'idle', numberId, clientId, channel: 'chat', at: old, expiresAt: '2026-11-24T09:00:00.000Z' });
        await tx.recordOtpSend(PHONE, 'action', old);
        await tx.recordOtpSend(PHONE, 'action', AT);
        await tx.recordCodeFlood(PHONE, 'action', old, null);
        await tx.enqueueSms({ priority: 2, kind: 'reply', phone: PHONE, clientId, body: 'stale', bodyEnc: null, secret: false, at: old, expiresAt: null });
      });
      const figures = await db.admin.housekeeping(new Date('2026-11-24T10:01:00.000Z'));
      expect(figures).toEqual({ codes: 1, sessions: 2, oldSessions: 1, staleSms: 1, otpSends: 1, codeFloods: 1, rateHits: 0, jobRuns: 0 });
      expect((await db.store.read((tx) => tx.pendingChallenges(numberId))).map((c) => c.id)).toEqual(['new']);
      expect(await db.store.read((tx) => tx.getSession('ended'))).toBeUndefined();
      expect((await db.store.read((tx) => tx.getSession('idle')))?.revokedAt).not.toBeNull();
      expect((await db.store.read((tx) => tx.getSession('live')))?.revokedAt).toBeNull();
      expect(await db.store.read((tx) => tx.otpSendsSince(PHONE, '2000-01-01T00:00:00.000Z'))).toHaveLength(1);
      expect(await db.admin.housekeeping(new Date('2026-11-24T10:01:00.000Z'))).toEqual({ codes: 0, sessions: 0, oldSessions: 0, staleSms: 0, otpSends: 0, codeFloods: 0, rateHits: 0, jobRuns: 0 });
    });

    it('answers ping, figures, integrity and schema version', async () => {
      await db.admin.ping();
      expect(await db.admin.verifyIntegrity()).toBe('ok');
      expect(await db.admin.schemaVersion()).toBeGreaterThan(0);
      await db.store.transaction(async (tx) => {
        await seed(tx);
        await tx.appendJournal(doc(1));
      });
      const m = db.admin.metrics();
      expect(await m.documents()).toBe(1);
      expect(await m.objectStatuses()).toEqual([{ code: '1001', clientId: 1, status: 'disarmed', since: AT }]);
      expect(await m.openAlerts()).toBe(0);
      const second = await db.another();
      const before = await db.admin.changeMarker();
      await second.store.transaction((tx) => tx.insertAlert({ kind: 'access', clientId: null, objectCode: null, phone: null, detail: null, at: AT }));
      expect(await db.admin.changeMarker()).not.toEqual(before);
      expect(await m.openAlerts()).toBe(1);
    });
  });
  describe('schedules', () => {
    const week = [{ weekday: 1, armBy: '20:00', openFrom: '07:00' }, { weekday: 6, armBy: '22:00', openFrom: null }];

    it('stores a schedule with its weekly rules and exceptions, replaces the rules, and removes it all', async () => {
      const { objectId } = await db.store.transaction(seed);
      expect(await db.store.read((tx) => tx.getSchedule(objectId))).toBeUndefined();
      await db.store.transaction(async (tx) => {
        await tx.putSchedule({ objectId, days: week, notifyOffSchedule: true, at: AT, by: 'anna' });
        await tx.putScheduleException(objectId, { date: '2026-12-31', closed: true, armBy: null, openFrom: null, note: 'New Year' });
        await tx.putScheduleException(objectId, { date: '2026-03-08', closed: false, armBy: '15:00', openFrom: null, note: null });
      });
      expect(await db.store.read((tx) => tx.getSchedule(objectId))).toEqual({
        objectId, days: week, notifyOffSchedule: true, updatedAt: AT, updatedBy: 'anna',
        exceptions: [
          { date: '2026-03-08', closed: false, armBy: '15:00', openFrom: null, note: null },
          { date: '2026-12-31', closed: true, armBy: null, openFrom: null, note: 'New Year' },
        ],
      });
      // new rules and flag replace the old; the exceptions stay; an exception of a date is replaced
      await db.store.transaction(async (tx) => {
        await tx.putSchedule({ objectId, days: [{ weekday: 7, armBy: null, openFrom: '10:00' }], notifyOffSchedule: false, at: LEASE, by: 'bek' });
        await tx.putScheduleException(objectId, { date: '2026-12-31', closed: false, armBy: '18:00', openFrom: '09:00', note: null });
      });
      const second = await db.another();
      const changed = await second.store.read((tx) => tx.getSchedule(objectId));
      expect(changed).toMatchObject({ days: [{ weekday: 7, armBy: null, openFrom: '10:00' }], notifyOffSchedule: false, updatedAt: LEASE, updatedBy: 'bek' });
      expect(changed!.exceptions.map((e) => [e.date, e.closed, e.armBy, e.openFrom])).toEqual([['2026-03-08', false, '15:00', null], ['2026-12-31', false, '18:00', '09:00']]);
      expect(await db.store.read((tx) => tx.listSchedules('2026-11-24'))).toEqual([{ ...changed, exceptions: [changed!.exceptions[1]] }]);

      expect(await db.store.transaction((tx) => tx.deleteScheduleException(objectId, '2026-03-08'))).toBe(true);
      expect(await db.store.transaction((tx) => tx.deleteScheduleException(objectId, '2026-03-08'))).toBe(false);
      expect(await db.store.transaction((tx) => tx.deleteSchedule(objectId))).toBe(true);
      expect(await db.store.transaction((tx) => tx.deleteSchedule(objectId))).toBe(false);
      expect(await db.store.read((tx) => tx.getSchedule(objectId))).toBeUndefined();
      expect(await db.store.read((tx) => tx.listSchedules('2000-01-01'))).toEqual([]);
    });

    it('lists every scheduled object, each with its own rules', async () => {
      const { clientId, objectId } = await db.store.transaction(seed);
      const other = await db.store.transaction((tx) => tx.insertObject({ clientId, code: '1002', address: 'Астана', at: AT, calloutEnabled: false }));
      await db.store.transaction(async (tx) => {
        await tx.putSchedule({ objectId: other, days: [week[1]!], notifyOffSchedule: true, at: AT, by: null });
        await tx.putSchedule({ objectId, days: [week[0]!], notifyOffSchedule: true, at: AT, by: null });
        await tx.putScheduleException(other, { date: '2026-11-28', closed: true, armBy: null, openFrom: null, note: null });
      });
      const all = await db.store.read((tx) => tx.listSchedules('2026-11-01'));
      expect(all.map((x) => [x.objectId, x.days.map((d) => d.weekday), x.exceptions.map((e) => e.date)])).toEqual([[objectId, [1], []], [other, [6], ['2026-11-28']]]);
    });

    it('a notice is marked once per object, date and kind, whichever instance marks it', async () => {
      const { objectId } = await db.store.transaction(seed);
      const second = await db.another();
      const mark = (p: EnginePorts, date: string, kind: string): Promise<boolean> => p.store.transaction((tx) => tx.scheduleNotice(objectId, date, kind, AT));
      const both = await Promise.all([mark(db, '2026-11-24', 'not-armed-sms'), mark(second, '2026-11-24', 'not-armed-sms')]);
      expect(both.sort()).toEqual([false, true]);
      expect(await mark(second, '2026-11-24', 'not-armed-alert')).toBe(true);
      expect(await mark(db, '2026-11-25', 'not-armed-sms')).toBe(true);
      expect(await mark(db, '2026-11-24', 'not-armed-alert')).toBe(false);
    });
  });

  describe('duress code', () => {
    it('keeps only the hash, set and cleared with both times; per client', async () => {
      const { clientId } = await db.store.transaction(seed);
      const other = await db.store.transaction((tx) => tx.insertClient({ name: 'Other', lang: 'kk', balance: 0, at: AT }));
      expect(await db.store.read((tx) => tx.getDuress(clientId))).toBeUndefined();
      const hash = Buffer.alloc(32, 9);
      await db.store.transaction((tx) => tx.setDuress(clientId, hash, AT, 'op'));
      expect(await db.store.read((tx) => tx.getDuress(clientId))).toEqual({ clientId, codeHash: hash, setAt: AT, clearedAt: null, changedBy: 'op' });
      expect(await db.store.read((tx) => tx.getDuress(other))).toBeUndefined();
      const later = '2026-11-24T10:05:00.000Z';
      await db.store.transaction((tx) => tx.setDuress(clientId, null, later, 'client:app'));
      expect(await db.store.read((tx) => tx.getDuress(clientId))).toEqual({ clientId, codeHash: null, setAt: AT, clearedAt: later, changedBy: 'client:app' });
      const again = '2026-11-24T10:09:00.000Z';
      const hash2 = Buffer.alloc(32, 4);
      await db.store.transaction((tx) => tx.setDuress(clientId, hash2, again, 'op2'));
      expect(await db.store.read((tx) => tx.getDuress(clientId))).toEqual({ clientId, codeHash: hash2, setAt: again, clearedAt: later, changedBy: 'op2' });
      // a rolled-back change leaves the code as it was
      await expect(db.store.transaction(async (tx) => {
        await tx.setDuress(clientId, null, again, 'op3');
        throw new Error('undo');
      })).rejects.toThrow('undo');
      expect((await db.store.read((tx) => tx.getDuress(clientId)))?.codeHash).toEqual(hash2);
      // a hash of another length is refused by the schema
      await expect(db.store.transaction((tx) => tx.setDuress(other, Buffer.alloc(5), AT, 'op'))).rejects.toThrow();
    });

    it('a number\'s view of the journal leaves out the duress records and their alert; operators see all; the figure counts them', async () => {
      const { clientId } = await db.store.transaction(seed);
      const mine = { clientId, phone: PHONE, objectCode: '1001' };
      await db.store.transaction(async (tx) => {
        await tx.appendJournal(doc(1, { ...mine, action: 'disarm', auth: 'otp', outcome: 'executed' }));
        await tx.appendJournal(doc(2, { ...mine, action: 'duress', auth: 'duress-code' }));
        await tx.appendJournal(doc(3, { ...mine, channel: 'system', action: 'operator-alert', auth: 'none', reason: 'duress' }));
        await tx.appendJournal(doc(4, { ...mine, channel: 'system', action: 'operator-alert', auth: 'none', reason: 'access' }));
        await tx.appendJournal(doc(5, { ...mine, channel: 'app', action: 'duress-set', auth: 'session', outcome: 'challenged' }));
        await tx.appendJournal(doc(6, { ...mine, action: 'status' }));
      });
      const visible = await db.store.read((tx) => tx.searchJournal({ clientId, visibleTo: { phone: PHONE, objectCodes: ['1001'] }, limit: 50 }));
      expect(visible.map((r) => r.detail)).toEqual(['n=6', 'n=4', 'n=1']);
      const byObject = await db.store.read((tx) => tx.searchJournal({ clientId, visibleTo: { phone: '+77020000000', objectCodes: ['1001'] }, limit: 50 }));
      expect(byObject.map((r) => r.detail)).toEqual(['n=6', 'n=4', 'n=1']);
      const all = await db.store.read((tx) => tx.searchJournal({ clientId, limit: 50 }));
      expect(all).toHaveLength(6);
      expect(await db.admin.metrics().duressAlarms()).toBe(1);
    });
  });

  describe('call history', () => {
    const call = (id: string, over: Partial<CallInsert> = {}): CallInsert => ({
      id, direction: 'in', purpose: 'client', phone: PHONE, clientId: null, objectCode: null, startedAt: AT, eventId: null, round: null, ...over,
    });
    const at = (minutes: number): string => new Date(Date.parse(AT) + minutes * 60_000).toISOString();

    it('a call is written at its start, gets its actions in order, and is ended once', async () => {
      await db.store.transaction((tx) => tx.insertCall(call('ch-1')));
      let [row] = await db.store.read((tx) => tx.listCalls({ limit: 10 }));
      expect(row).toMatchObject({ id: 'ch-1', direction: 'in', purpose: 'client', phone: PHONE, answeredAt: null, endedAt: null, outcome: null, actions: [] });
      await db.store.transaction(async (tx) => {
        expect(await tx.updateCall('ch-1', { answeredAt: at(0), clientId: 7, actions: ['status 1001: disarmed'] })).toBe(true);
        expect(await tx.updateCall('ch-1', { objectCode: '1001', actions: ['disarm 1001: code sent', 'disarm 1001: done'] })).toBe(true);
      });
      await db.store.transaction(async (tx) => {
        expect(await tx.updateCall('ch-1', { actions: ['operator'], endedAt: at(2), outcome: 'operator' })).toBe(true);
        // a second end (another path noticing the same hang-up) changes neither time nor outcome
        expect(await tx.updateCall('ch-1', { endedAt: at(3), outcome: 'caller-hung-up', answeredAt: at(1) })).toBe(true);
        expect(await tx.updateCall('no-such-call', { endedAt: at(3), outcome: 'x' })).toBe(false);
      });
      [row] = await db.store.read((tx) => tx.listCalls({ limit: 10 }));
      expect(row).toMatchObject({
        id: 'ch-1', clientId: 7, objectCode: '1001', answeredAt: at(0), endedAt: at(2), outcome: 'operator',
        actions: ['status 1001: disarmed', 'disarm 1001: code sent', 'disarm 1001: done', 'operator'],
      });
    });

    it('refuses a second row with the same id, and the transaction goes on', async () => {
      await db.store.transaction(async (tx) => {
        await tx.insertCall(call('ch-dup'));
        await expect(tx.insertCall(call('ch-dup', { purpose: 'alarm' }))).rejects.toBeInstanceOf(DuplicateKeyError);
        await tx.insertCall(call('ch-other'));
      });
      expect((await db.store.read((tx) => tx.listCalls({ limit: 10 }))).map((r) => r.id)).toEqual(['ch-other', 'ch-dup']);
    });

    it('keeps at most the capped number of actions', async () => {
      await db.store.transaction(async (tx) => {
        await tx.insertCall(call('ch-long'));
        for (let i = 0; i < CALL_ACTIONS_MAX + 5; i++) await tx.updateCall('ch-long', { actions: [`a${i}`] });
      });
      const [row] = await db.store.read((tx) => tx.listCalls({ limit: 1 }));
      expect(row!.actions).toHaveLength(CALL_ACTIONS_MAX);
      expect(row!.actions.at(-1)).toBe(`a${CALL_ACTIONS_MAX - 1}`);
    });

    it('lists newest first with filters by object, phone, purpose and time, and pages back', async () => {
      await db.store.transaction(async (tx) => {
        await tx.insertCall(call('c1', { startedAt: at(0), objectCode: '1001' }));
        await tx.insertCall(call('c2', { startedAt: at(10), direction: 'out', purpose: 'alarm', phone: '+77029998877', objectCode: '1001', eventId: 5, round: 2 }));
        await tx.insertCall(call('c3', { startedAt: at(20), phone: '0123', objectCode: '2002' }));
        await tx.insertCall(call('c4', { startedAt: at(30), phone: null }));
      });
      const list = (f: Partial<CallFilter>): Promise<string[]> => db.store.read(async (tx) => (await tx.listCalls({ limit: 10, ...f })).map((r) => r.id));
      expect(await list({})).toEqual(['c4', 'c3', 'c2', 'c1']);
      expect(await list({ objectCode: '1001' })).toEqual(['c2', 'c1']);
      expect(await list({ phone: PHONE })).toEqual(['c1']);
      expect(await list({ purpose: 'alarm' })).toEqual(['c2']);
      expect(await list({ from: at(10), until: at(30) })).toEqual(['c3', 'c2']);
      expect(await list({ limit: 2 })).toEqual(['c4', 'c3']);
      const [, second] = await db.store.read((tx) => tx.listCalls({ limit: 2 }));
      expect(await list({ before: second!.seq })).toEqual(['c2', 'c1']);
      const [alarm] = await db.store.read((tx) => tx.listCalls({ limit: 1, purpose: 'alarm' }));
      expect(alarm).toMatchObject({ direction: 'out', eventId: 5, round: 2, phone: '+77029998877' });
    });
  });

  describe('alarm panels', () => {
    const T0 = Date.parse(AT);
    const iso = (ms: number): string => new Date(ms).toISOString();

    it('registers one account per object, replaces it keeping the link state, refuses an account of another object, and removes it', async () => {
      const { clientId, objectId } = await db.store.transaction(seed);
      const other = await db.store.transaction((tx) => tx.insertObject({ clientId, code: '1002', address: 'Астана', at: AT, calloutEnabled: false }));
      await db.store.transaction((tx) => tx.putPanel({ account: '12AB', objectId, keySealed: 'c0ffee', supervisionS: 600, dueMs: T0 + 600_000, at: AT, by: 'anna' }));
      expect(await db.store.read((tx) => tx.getPanel('12AB'))).toEqual({
        account: '12AB', objectId, objectCode: '1001', keySealed: 'c0ffee', supervisionS: 600, link: 'up', lastSeenAt: null,
        dueMs: T0 + 600_000, lostAt: null, lastFrame: null, lastFrameMs: null, createdAt: AT, updatedAt: AT, updatedBy: 'anna',
      });
      await db.store.transaction((tx) => tx.setPanelFrame('12AB', 'f-1', T0 + 5_000));
      expect(await (await db.another()).store.read((tx) => tx.getPanel('12AB'))).toMatchObject({ lastFrame: 'f-1', lastFrameMs: T0 + 5_000 });
      await expect(db.store.transaction((tx) => tx.putPanel({ account: '12AB', objectId: other, keySealed: null, supervisionS: 60, dueMs: T0, at: AT, by: null })))
        .rejects.toBeInstanceOf(DuplicateKeyError);
      expect(await db.store.transaction((tx) => tx.markPanelLost('12AB', T0 + 600_000, iso(T0 + 600_000)))).toBe(true);
      // a new account for the object replaces the old one; the lost link carries over
      await db.store.transaction((tx) => tx.putPanel({ account: '0777', objectId, keySealed: null, supervisionS: 120, dueMs: T0 + 700_000, at: LEASE, by: 'bek' }));
      const second = await db.another();
      expect(await second.store.read((tx) => tx.getPanel('12AB'))).toBeUndefined();
      expect(await second.store.read((tx) => tx.panelOfObject(objectId))).toMatchObject({ account: '0777', keySealed: null, link: 'lost', lostAt: iso(T0 + 600_000), createdAt: LEASE, updatedBy: 'bek' });
      await db.store.transaction((tx) => tx.putPanel({ account: '5555', objectId: other, keySealed: null, supervisionS: 60, dueMs: T0, at: AT, by: null }));
      expect((await db.store.read((tx) => tx.listPanels())).map((p) => [p.account, p.objectCode])).toEqual([['0777', '1001'], ['5555', '1002']]);
      expect(await db.store.transaction((tx) => tx.deletePanel(objectId))).toBe(true);
      expect(await db.store.transaction((tx) => tx.deletePanel(objectId))).toBe(false);
      expect(await db.store.read((tx) => tx.panelOfObject(objectId))).toBeUndefined();
    });

    it('moves supervision forward on each message, never back; finds the due ones; marks a link lost once and up once', async () => {
      const { objectId } = await db.store.transaction(seed);
      await db.store.transaction((tx) => tx.putPanel({ account: '4242', objectId, keySealed: null, supervisionS: 60, dueMs: T0 + 60_000, at: AT, by: null }));
      const seen = await db.store.transaction((tx) => tx.panelSeen('4242', iso(T0 + 30_000), T0 + 30_000));
      expect(seen).toMatchObject({ lastSeenAt: iso(T0 + 30_000), dueMs: T0 + 90_000, link: 'up' });
      // an older time (a write that came late) changes nothing
      expect(await db.store.transaction((tx) => tx.panelSeen('4242', iso(T0 + 10_000), T0 + 10_000))).toMatchObject({ lastSeenAt: iso(T0 + 30_000), dueMs: T0 + 90_000 });
      expect(await db.store.transaction((tx) => tx.panelSeen('9999', iso(T0), T0))).toBeUndefined();
      expect(await db.store.read((tx) => tx.duePanels(T0 + 89_999, 10))).toEqual([]);
      expect((await db.store.read((tx) => tx.duePanels(T0 + 90_000, 10))).map((p) => p.account)).toEqual(['4242']);
      // not due any more (heard meanwhile): not marked
      expect(await db.store.transaction((tx) => tx.markPanelLost('4242', T0 + 80_000, iso(T0 + 80_000)))).toBe(false);
      const both = await Promise.all([db.store.transaction((tx) => tx.markPanelLost('4242', T0 + 95_000, iso(T0 + 95_000))),
        (await db.another()).store.transaction((tx) => tx.markPanelLost('4242', T0 + 95_000, iso(T0 + 95_000)))]);
      expect(both.filter(Boolean)).toHaveLength(1);
      expect(await db.store.read((tx) => tx.duePanels(T0 + 100_000, 10))).toEqual([]);
      expect(await db.store.read((tx) => tx.getPanel('4242'))).toMatchObject({ link: 'lost', lostAt: iso(T0 + 95_000) });
      expect(await db.store.transaction((tx) => tx.markPanelUp('4242'))).toBe(true);
      expect(await db.store.transaction((tx) => tx.markPanelUp('4242'))).toBe(false);
      expect(await db.store.read((tx) => tx.getPanel('4242'))).toMatchObject({ link: 'up', lostAt: null });
    });
  });
});
