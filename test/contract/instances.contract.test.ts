import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { LiveEvent, OutboxInsert } from '../../src/core/ports.ts';
import { SlidingWindowLimiter } from '../../src/domain/limiter.ts';
import { ENGINES } from './engines.ts';
import type { EnginePorts, OpenEngine } from './engines.ts';

/**
 * Several instances of the service on one database: claims under leases (SMS being sent,
 * call-outs), scheduled job runs, rate limits and the live-event bus. Every engine must pass.
 */

const T0 = Date.parse('2026-11-24T10:00:00.000Z');
/** The time `s` seconds after T0, as the ports take it. */
const at = (s: number): string => new Date(T0 + s * 1000).toISOString();
const date = (s: number): Date => new Date(T0 + s * 1000);
const PHONE = '+77011234567';

const sms = (over: Partial<OutboxInsert> = {}): OutboxInsert => ({
  priority: 2, kind: 'reply', phone: PHONE, clientId: null, body: 'text', bodyEnc: null, secret: false, at: at(0), expiresAt: null, ...over,
});

async function until(fn: () => boolean, what: string, ms = 2_000): Promise<void> {
  const start = Date.now();
  while (!fn()) {
    if (Date.now() - start > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe.each(ENGINES)('instances on one database: $name', (engine) => {
  let a: OpenEngine;
  let b: EnginePorts;
  beforeEach(async () => {
    a = await engine.open();
    b = await a.another();
  });
  afterEach(async () => {
    await a.close();
  });

  describe('SMS claims under a lease', () => {
    const queue = async (n: number): Promise<number[]> => a.store.transaction(async (tx) => {
      const ids: number[] = [];
      for (let i = 0; i < n; i++) ids.push(await tx.enqueueSms(sms()));
      return ids;
    });

    it('a live claim is left alone; once its lease ran out the next claim of any instance takes the message back as a possible duplicate', async () => {
      const [id] = await queue(1) as [number];
      expect((await a.outbox.claim(at(0), 10, 'a', at(60))).claimed.map((m) => m.id)).toEqual([id]);
      await a.outbox.record([{ outboxId: id, seq: 1, total: 2, messageId: 'P1', key: 'p1' }], [], at(1), 'a');
      // the lease holds: instance b finds nothing to take
      expect(await b.outbox.claim(at(59), 10, 'b', at(119))).toEqual({ claimed: [], expired: 0, takenOver: 0 });
      // a's lease ran out (a died): b takes the message back and claims it, keeping the accepted part
      const taken = await b.outbox.claim(at(60), 10, 'b', at(120));
      expect(taken.takenOver).toBe(1);
      expect(taken.claimed).toEqual([expect.objectContaining({ id, attempts: 2, duplicateRisk: true, acceptedParts: [1] })]);
      // a's late outcome is not recorded over b's claim; its parts are
      const late = await a.outbox.record([{ outboxId: id, seq: 2, total: 2, messageId: 'P2', key: 'p2' }], [{ outboxId: id, state: 'submitted', eraseBody: false, total: 2 }], at(61), 'a');
      expect(late).toEqual([id]);
      expect(await a.outbox.counts()).toEqual({ sending: 1 });
      expect((await a.outbox.parts(id)).map((p) => p.messageId)).toEqual(['P1', 'P2']);
      expect(await a.outbox.renewClaims([id], 'a', at(200))).toEqual([]);
      expect(await b.outbox.record([], [{ outboxId: id, state: 'submitted', eraseBody: false, total: 2 }], at(62), 'b')).toEqual([]);
      expect(await a.outbox.counts()).toEqual({ submitted: 1 });
      const [row] = await a.store.read((tx) => tx.listOutbox({ limit: 1 }));
      expect(row).toMatchObject({ id, state: 'submitted', duplicateRisk: true });
    });

    it('renewing keeps a claim past its first lease; only the holder can renew', async () => {
      const [id] = await queue(1) as [number];
      await a.outbox.claim(at(0), 10, 'a', at(60));
      expect(await b.outbox.renewClaims([id], 'b', at(500))).toEqual([]);
      expect(await a.outbox.renewClaims([id, 999_999], 'a', at(100))).toEqual([id]);
      expect(await b.outbox.claim(at(99), 10, 'b', at(159))).toMatchObject({ claimed: [], takenOver: 0 });
      // a lease that ran out may still be renewed while nobody took the message back
      expect(await a.outbox.renewClaims([id], 'a', at(300))).toEqual([id]);
      expect(await b.outbox.claim(at(299), 10, 'b', at(359))).toMatchObject({ claimed: [], takenOver: 0 });
      expect(await b.outbox.claim(at(300), 10, 'b', at(360))).toMatchObject({ takenOver: 1, claimed: [expect.objectContaining({ id })] });
    });

    it("an instance's start takes back its own claims and expired ones, never another instance's live claim", async () => {
      const [mine, theirs, dead] = await queue(3) as [number, number, number];
      await b.outbox.claim(at(0), 1, 'b', at(60));
      await a.outbox.claim(at(0), 1, 'a', at(600));
      await a.outbox.claim(at(0), 1, 'c', at(30));
      // b restarts at 40 s: its own claim and c's expired one go back; a's stays
      expect(await b.outbox.recoverSending(at(40), 'b')).toBe(2);
      const rows = await a.store.read((tx) => tx.listOutbox({ limit: 10 }));
      const state = new Map(rows.map((r) => [r.id, [r.state, r.duplicateRisk]]));
      expect(state.get(mine)).toEqual(['queued', true]);
      expect(state.get(dead)).toEqual(['queued', true]);
      expect(state.get(theirs)).toEqual(['sending', false]);
      expect(await a.outbox.renewClaims([theirs], 'a', at(700))).toEqual([theirs]);
    });

    it('instances claiming and dying in turn never hold one message at the same time', async () => {
      const ids = await queue(40);
      const holders = ['a', 'b', 'c'];
      const ports = [a, b, a];
      const lease = new Map<number, { holder: string; until: number }>();
      let taken = 0;
      let t = 0;
      for (let round = 0; round < 60; round++) {
        const i = round % 3;
        const holder = holders[i] as string;
        const r = await (ports[i] as EnginePorts).outbox.claim(at(t), 3, holder, at(t + 5));
        taken += r.takenOver;
        for (const m of r.claimed) {
          const before = lease.get(m.id);
          // never claimed while another holder's lease covers now
          if (before) expect(before.until).toBeLessThanOrEqual(t);
          expect(m.duplicateRisk).toBe(before !== undefined);
          lease.set(m.id, { holder, until: t + 5 });
        }
        // holders other than 'c' settle half of what they claimed; 'c' dies every time
        if (holder !== 'c') {
          const done = r.claimed.filter((_, k) => k % 2 === 0);
          await (ports[i] as EnginePorts).outbox.record([], done.map((m) => ({ outboxId: m.id, state: 'submitted' as const, eraseBody: false, total: 1 })), at(t), holder);
          for (const m of done) lease.delete(m.id);
        }
        t += 2;
      }
      expect(taken).toBeGreaterThan(0);
      const counts = await a.outbox.counts();
      expect(Object.values(counts).reduce((x, y) => x + y, 0)).toBe(ids.length);
    });
  });

  describe('call-outs under a lease', () => {
    const alarm = async (sourceId: string): Promise<number> => a.store.transaction(async (tx) => {
      const { row } = await tx.insertMonitoringEvent({ sourceId, objectCode: '1001', type: 'alarm', kind: 'fire', zone: 1, eventAt: at(0), receivedAt: at(0) });
      await tx.setCalloutState(row.id, 'pending');
      return row.id;
    });
    const claim = (p: EnginePorts, holder: string, s: number, skip: number[] = [], lease = 30): Promise<number[]> =>
      p.store.transaction(async (tx) => (await tx.claimCallouts(holder, at(s), at(s + lease), skip)).map((e) => e.id));

    it('one instance takes an alarm; its own come back after a restart; another takes them once the lease ran out', async () => {
      const ev = await alarm('e1');
      expect(await claim(a, 'a', 0)).toEqual([ev]);
      expect(await claim(b, 'b', 1)).toEqual([]);
      // a is calling it: not handed out again
      expect(await claim(a, 'a', 10, [ev])).toEqual([]);
      // a restarted: its own running call-outs come back to it (and their lease with them)
      expect(await claim(a, 'a', 10)).toEqual([ev]);
      expect(await claim(b, 'b', 39)).toEqual([]);
      // a died: at the end of its lease b takes them over
      expect(await claim(b, 'b', 40)).toEqual([ev]);
      expect(await a.store.transaction((tx) => tx.renewCallouts([ev], 'a', at(100)))).toEqual([]);
      expect(await a.store.transaction((tx) => tx.finishCallout(ev, 'a'))).toBe(false);
      expect(await b.store.transaction((tx) => tx.finishCallout(ev, 'b'))).toBe(true);
      expect(await b.store.transaction((tx) => tx.finishCallout(ev, 'b'))).toBe(false);
      expect(await claim(a, 'a', 1000)).toEqual([]);
      expect(await claim(b, 'b', 1000)).toEqual([]);
    });

    it('renewing keeps the call-outs with their instance; several alarms come by id', async () => {
      const [e1, e2] = [await alarm('r1'), await alarm('r2')];
      expect(await claim(a, 'a', 0)).toEqual([e1, e2]);
      expect(await a.store.transaction((tx) => tx.renewCallouts([e1, e2], 'a', at(50)))).toEqual([e1, e2]);
      expect(await b.store.transaction((tx) => tx.renewCallouts([e1], 'b', at(500)))).toEqual([]);
      expect(await claim(b, 'b', 45)).toEqual([]);
      expect(await a.store.transaction((tx) => tx.finishCallout(e1, 'a'))).toBe(true);
      expect(await claim(b, 'b', 50)).toEqual([e2]);
    });

    it('tells whether an alarm was acknowledged on any call-out', async () => {
      const ev = await alarm('ack1');
      const other = await alarm('ack2');
      const call = (result: string) => a.store.transaction(async (tx) => {
        const id = await tx.insertCallout({ eventId: ev, objectCode: '1001', phone: '+77011234567', round: 1, at: at(0) });
        await tx.endCallout(id, result, at(1));
      });
      await call('no-answer');
      expect(await b.store.read((tx) => tx.calloutAcknowledged(ev))).toBe(false);
      await call('acknowledged');
      expect(await b.store.read((tx) => tx.calloutAcknowledged(ev))).toBe(true);
      expect(await b.store.read((tx) => tx.calloutAcknowledged(other))).toBe(false);
    });

    it('two instances claiming at once never both get an alarm', async () => {
      for (let i = 0; i < 10; i++) await alarm(`c${i}`);
      // (each claim by an instance of its own: an instance gets its own running call-outs back)
      const got = await Promise.all(Array.from({ length: 8 }, (_, i) => claim(i % 2 ? b : a, `i${i}`, 0)));
      const ids = got.flat();
      expect(ids).toHaveLength(10);
      expect(new Set(ids).size).toBe(10);
    });
  });

  describe('scheduled job runs', () => {
    const SLOT = '2026-11-30T19:05:00.000Z';

    it('a run is done once across instances; one whose holder died is taken over after its lease', async () => {
      expect(await a.admin.acquireJob('billing', SLOT, 'a', date(0), date(60))).toBe(true);
      expect(await b.admin.acquireJob('billing', SLOT, 'b', date(1), date(61))).toBe(false);
      // the same instance does not run it twice either
      expect(await a.admin.acquireJob('billing', SLOT, 'a', date(1), date(61))).toBe(false);
      expect(await a.admin.renewJob('billing', SLOT, 'a', date(100))).toBe(true);
      expect(await b.admin.acquireJob('billing', SLOT, 'b', date(99), date(159))).toBe(false);
      expect(await b.admin.abandonedJobs(date(99), 3)).toEqual([]);
      // a died: its lease ends at 100 s
      expect(await b.admin.abandonedJobs(date(100), 3)).toEqual([{ job: 'billing', slot: SLOT, holder: 'a', attempts: 1 }]);
      expect(await b.admin.acquireJob('billing', SLOT, 'b', date(100), date(160))).toBe(true);
      expect(await b.admin.abandonedJobs(date(100), 3)).toEqual([]);
      expect(await a.admin.renewJob('billing', SLOT, 'a', date(200))).toBe(false);
      expect(await a.admin.finishJob('billing', SLOT, 'a', date(120), 'done', null)).toBe(false);
      expect(await b.admin.finishJob('billing', SLOT, 'b', date(120), 'done', null)).toBe(true);
      expect(await b.admin.finishJob('billing', SLOT, 'b', date(121), 'done', null)).toBe(false);
      // finished: never run again, whoever asks and whenever
      expect(await a.admin.acquireJob('billing', SLOT, 'a', date(10_000), date(10_060))).toBe(false);
      expect(await a.admin.abandonedJobs(date(10_000), 3)).toEqual([]);
      // another slot of the same job is a new run
      expect(await a.admin.acquireJob('billing', '2026-12-31T19:05:00.000Z', 'a', date(0), date(60))).toBe(true);
    });

    it('a failed run counts as finished; a run started too often is no longer offered; oldest slot first', async () => {
      expect(await a.admin.acquireJob('backup', '2026-11-24T03:30:00.000Z', 'a', date(0), date(60))).toBe(true);
      expect(await a.admin.finishJob('backup', '2026-11-24T03:30:00.000Z', 'a', date(5), 'failed', 'disk full')).toBe(true);
      expect(await b.admin.acquireJob('backup', '2026-11-24T03:30:00.000Z', 'b', date(100), date(160))).toBe(false);
      await a.admin.acquireJob('housekeeping', '2026-11-24T10:17:00.000Z', 'a', date(0), date(10));
      await a.admin.acquireJob('journal-verify', '2026-11-24T04:00:00.000Z', 'a', date(0), date(10));
      expect((await b.admin.abandonedJobs(date(10), 3)).map((j) => j.job)).toEqual(['journal-verify', 'housekeeping']);
      expect(await b.admin.acquireJob('housekeeping', '2026-11-24T10:17:00.000Z', 'b', date(10), date(20))).toBe(true);
      expect(await a.admin.acquireJob('housekeeping', '2026-11-24T10:17:00.000Z', 'c', date(20), date(30))).toBe(true);
      expect(await b.admin.abandonedJobs(date(30), 3)).toEqual([expect.objectContaining({ job: 'journal-verify' })]);
      expect(await b.admin.abandonedJobs(date(30), 4)).toEqual([
        expect.objectContaining({ job: 'journal-verify', attempts: 1 }), expect.objectContaining({ job: 'housekeeping', holder: 'c', attempts: 3 }),
      ]);
    });

    it('of instances acquiring one run at once, exactly one gets it', async () => {
      const got = await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 ? b : a).admin.acquireJob('housekeeping', SLOT, `i${i}`, date(0), date(60))));
      expect(got.filter(Boolean)).toHaveLength(1);
    });
  });

  describe('rate limits', () => {
    const hit = (p: EnginePorts, s: number, limits: Array<{ key: string; max: number; windowMs: number }>): Promise<boolean> =>
      p.store.transaction((tx) => tx.rateHit(limits, at(s)));

    it('a limit holds across instances; a refused hit does not count; the window slides', async () => {
      const k = [{ key: 'http-sign-in:203.0.113.7', max: 3, windowMs: 10_000 }];
      expect(await hit(a, 0, k)).toBe(true);
      expect(await hit(b, 1, k)).toBe(true);
      expect(await hit(a, 2, k)).toBe(true);
      expect(await hit(b, 3, k)).toBe(false);
      expect(await hit(a, 9.999, k)).toBe(false);
      // the hit at 0 s left the window at 10 s
      expect(await hit(b, 10, k)).toBe(true);
      expect(await hit(a, 10.5, k)).toBe(false);
      expect(await hit(a, 11, k)).toBe(true);
      // other keys are counted apart
      expect(await hit(b, 11, [{ key: 'http-sign-in:203.0.113.8', max: 3, windowMs: 10_000 }])).toBe(true);
    });

    it('answers as the in-memory sliding-window limiter would, whichever instance is asked', async () => {
      const limiter = new SlidingWindowLimiter({ max: 4, windowMs: 5_000, maxKeys: 1_000, overflow: 'drop-idle' });
      let seed = 7;
      const rnd = (n: number): number => {
        seed = (seed * 1103515245 + 12345) % 2147483648;
        return seed % n;
      };
      let ms = 0;
      for (let i = 0; i < 150; i++) {
        ms += rnd(1_500);
        const key = `sms-commands:+7701000000${rnd(3)}`;
        const want = limiter.take(key, T0 + ms);
        expect(await (rnd(2) ? a : b).store.transaction((tx) => tx.rateHit([{ key, max: 4, windowMs: 5_000 }], new Date(T0 + ms).toISOString()))).toBe(want);
      }
    });

    it('a hit needs room in every one of its limits and counts in all of them or none', async () => {
      const limits = (sender: string) => [{ key: 'sms-strangers', max: 2, windowMs: 60_000 }, { key: `sms-stranger:${sender}`, max: 1, windowMs: 60_000 }];
      expect(await hit(a, 0, limits('7777'))).toBe(true);
      // this sender's own limit is full: refused, and the shared one is not charged for it
      expect(await hit(b, 1, limits('7777'))).toBe(false);
      expect(await hit(b, 2, limits('4915112345678'))).toBe(true);
      // the shared limit is full now
      expect(await hit(a, 3, limits('77019999999'))).toBe(false);
      expect(await hit(a, 61, limits('77019999999'))).toBe(true);
    });

    it('hits never pile up: a key keeps at most its limit, expired hits of other keys go too, housekeeping removes the rest', async () => {
      const one = [{ key: 'sms-commands:+77011234567', max: 3, windowMs: 1_000 }];
      for (let i = 0; i < 400; i++) await hit(i % 2 ? a : b, i * 0.25, one);
      // a flood from ever new addresses, each seen once
      for (let i = 0; i < 500; i++) await hit(a, 100 + i * 0.002, [{ key: `http-verify:2001:db8::${i.toString(16)}`, max: 20, windowMs: 10 }]);
      const left = (await a.admin.housekeeping(date(10_000))).rateHits;
      expect(left).toBeLessThanOrEqual(3 + 10);
      expect((await a.admin.housekeeping(date(10_000))).rateHits).toBe(0);
      // hits inside their window are kept
      await hit(a, 20_000, one);
      expect((await a.admin.housekeeping(date(20_000.5))).rateHits).toBe(0);
      expect((await a.admin.housekeeping(date(20_001))).rateHits).toBe(1);
    });
  });

  describe('live-event bus', () => {
    const ev = (n: number): LiveEvent => ({ type: 'alarm', clientId: 1, objectCode: '1001', kind: 'fire', zone: n, at: at(n) });

    it("an event published by one instance reaches every other instance's subscribers once, in order, and never its own", async () => {
      const c = await a.another();
      const got: Record<string, LiveEvent[]> = { a: [], b: [], c: [], c2: [] };
      a.bus.subscribe((e) => got.a?.push(e));
      b.bus.subscribe((e) => got.b?.push(e));
      c.bus.subscribe(() => {
        throw new Error('a broken subscriber');
      });
      c.bus.subscribe((e) => got.c?.push(e));
      const stop = c.bus.subscribe((e) => got.c2?.push(e));
      const sent = ev(1);
      a.bus.publish(sent);
      a.bus.publish(ev(2));
      await until(() => got.b?.length === 2 && got.c?.length === 2 && got.c2?.length === 2, 'delivery to b and c');
      expect(got.b).toEqual([ev(1), ev(2)]);
      expect(got.c).toEqual([ev(1), ev(2)]);
      expect(got.b?.[0]).not.toBe(sent);
      stop();
      b.bus.publish(ev(3));
      await until(() => got.a?.length === 1 && got.c?.length === 3, 'delivery to a and c');
      await new Promise((r) => setTimeout(r, 50));
      expect(got.a).toEqual([ev(3)]);
      expect(got.b).toEqual([ev(1), ev(2)]);
      expect(got.c2).toHaveLength(2);
      // a closed endpoint neither gets nor sends
      await c.bus.close();
      c.bus.publish(ev(4));
      a.bus.publish(ev(5));
      await until(() => got.b?.length === 3, 'delivery to b');
      await new Promise((r) => setTimeout(r, 50));
      expect(got.b).toEqual([ev(1), ev(2), ev(5)]);
      expect(got.c).toHaveLength(3);
      expect(got.a).toEqual([ev(3)]);
    });
  });
});
