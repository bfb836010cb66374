import { spawn } from 'node:child_process';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.ts';
import { Access } from '../../src/core/access.ts';
import type { LiveEvent, Outbox } from '../../src/core/ports.ts';
import { cryptoRandom } from '../../src/core/system.ts';
import { deriveKeys } from '../../src/domain/crypto.ts';
import { buildApp } from '../../src/http/build-app.ts';
import { resumeAbandoned, runOnce } from '../../src/jobs/schedule.ts';
import type { JobDeps } from '../../src/jobs/schedule.ts';
import { createLogger } from '../../src/logger.ts';
import { EventHub, openCore } from '../../src/main.ts';
import { Dispatcher } from '../../src/sms/dispatcher.ts';
import type { SmsLink } from '../../src/sms/dispatcher.ts';
import { SmsInbound } from '../../src/sms/inbound.ts';
import type { SubmitOutcome } from '../../src/sms/session.ts';
import { OutboxStore } from '../../src/store/outbox-store.ts';
import { runAlarmCalls } from '../../src/telephony/alarm-calls.ts';
import { makeFixture, seedClient, TestClock, TEST_SECRET, tempDir } from '../support/core-fixture.ts';
import type { Fixture } from '../support/core-fixture.ts';
import { quietLogger, smsHarness, until } from '../support/sms-harness.ts';

/**
 * Two instances of the service on one database file (two connections, two cores, each with
 * its own name): what one holds the other leaves alone, what one dies holding the other takes
 * over, limits and live events are shared.
 */

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()?.();
});

/** Instance 'a' on a new database, and instance 'b' on the same file. */
function pair(o: { realClock?: boolean } = {}): { a: Fixture; b: Fixture } {
  const clock = o.realClock ? new TestClock('real') : new TestClock();
  const a = makeFixture({ instance: 'a', clock });
  const b = makeFixture({ dir: a.dir, instance: 'b', clock });
  cleanups.push(() => a.close(), () => b.close());
  return { a, b };
}

const row = (fx: Fixture, id: number): Record<string, unknown> => fx.db.prepare('SELECT * FROM outbox WHERE id = ?').get(id) as Record<string, unknown>;

/** A link that accepts every submit after `delayMs` and remembers what it was given. */
function fakeLink(delayMs: number): SmsLink & { sent: number } {
  let n = 0;
  const link = {
    sent: 0,
    isBound: () => true,
    submit: (): Promise<SubmitOutcome> => {
      link.sent++;
      const id = `M${++n}-${delayMs}`;
      return new Promise((r) => setTimeout(() => r({ status: 'accepted', messageId: id }), delayMs));
    },
  };
  return link;
}

function dispatcher(store: Outbox, link: SmsLink, holder: string, leaseMs: number): Dispatcher {
  const d = new Dispatcher({
    store, link, clock: { now: () => new Date() }, logger: quietLogger, sender: 'ZHEDEL', openText: () => '', holder, leaseMs, pollMs: 50, flushMs: 5,
  });
  cleanups.push(() => d.stop(2_000));
  return d;
}

describe('SMS sent by two instances', () => {
  it('two dispatchers on one outbox send every message once', async () => {
    const { a, b } = pair({ realClock: true });
    const { clientId } = await seedClient(a);
    const ha = await smsHarness(a, { dispatcher: { holder: 'a' } });
    cleanups.push(() => ha.close());
    const hb = await smsHarness(b, { existingSim: ha.sim, dispatcher: { holder: 'b' } });
    cleanups.push(() => hb.close());
    await ha.sim.waitFor(() => ha.sim.boundCount === 2, 5_000, 'two binds');
    for (let i = 0; i < 60; i++) await a.core.queueSms({ priority: 'info', kind: 'n', phone: '+77011234567', clientId, text: `message ${i}`, secret: false, expiresAt: null });
    ha.dispatcher.wake();
    hb.dispatcher.wake();
    await until(() => (a.db.prepare("SELECT COUNT(*) AS n FROM outbox WHERE state = 'submitted'").get() as { n: number }).n === 60, 10_000, 'all submitted');
    const texts = ha.sim.submitsTo('77011234567').map((s) => s.text);
    expect(texts).toHaveLength(60);
    expect(new Set(texts).size).toBe(60);
    expect(a.db.prepare('SELECT COUNT(*) AS n FROM outbox WHERE duplicate_risk = 1 OR attempts <> 1').get()).toEqual({ n: 0 });
    expect(ha.dispatcher.stats.submittedParts + hb.dispatcher.stats.submittedParts).toBe(60);
  });

  it('a dispatcher keeps its claim for as long as a submit waits, by renewing it; the other instance never sends that message', async () => {
    const { a, b } = pair({ realClock: true });
    const id = await a.core.queueSms({ priority: 'info', kind: 'n', phone: '+77011234567', clientId: null, text: 'slow', secret: false, expiresAt: null });
    const slow = fakeLink(1_200);
    const fast = fakeLink(0);
    await dispatcher(new OutboxStore(a.db), slow, 'a', 300).start();
    await until(() => row(a, id).state === 'sending', 2_000, 'claimed by a');
    await dispatcher(new OutboxStore(b.db), fast, 'b', 300).start();
    await until(() => row(a, id).state === 'submitted', 3_000, 'submitted by a');
    expect(fast.sent).toBe(0);
    expect(row(a, id)).toMatchObject({ claimed_by: 'a', duplicate_risk: 0, attempts: 1 });
  });

  it('a claim no longer renewed (its instance froze) is taken over and marked as a possible duplicate; the late outcome is not recorded', async () => {
    const { a, b } = pair({ realClock: true });
    const id = await a.core.queueSms({ priority: 'info', kind: 'n', phone: '+77011234567', clientId: null, text: 'frozen', secret: false, expiresAt: null });
    // a's database calls stop getting through after its first claim (until its late outcome)
    const real = new OutboxStore(a.db);
    let claims = 0;
    const frozen = new Proxy(real, {
      get: (t, p) => {
        if (p === 'renewClaims') return async () => [];
        if (p === 'claim' && claims++ > 0) return async () => ({ claimed: [], expired: 0, takenOver: 0 });
        const v: unknown = Reflect.get(t, p);
        return typeof v === 'function' ? (v as (...x: unknown[]) => unknown).bind(t) : v;
      },
    });
    const slow = fakeLink(1_200);
    const fast = fakeLink(0);
    const da = dispatcher(frozen, slow, 'a', 300);
    await da.start();
    await until(() => row(a, id).state === 'sending', 2_000, 'claimed by a');
    await dispatcher(new OutboxStore(b.db), fast, 'b', 300).start();
    await until(() => row(a, id).state === 'submitted' && row(a, id).claimed_by === 'b', 3_000, 'taken over and sent by b');
    expect(row(a, id)).toMatchObject({ duplicate_risk: 1, attempts: 2 });
    // a's submit answers later; its outcome does not overwrite b's
    await until(() => slow.sent === 1 && da.inFlightCount === 0, 3_000, 'a settled');
    await da.flush();
    expect(row(a, id)).toMatchObject({ state: 'submitted', claimed_by: 'b' });
    expect(fast.sent).toBe(1);
  });
});

describe('call-outs with two instances', () => {
  it('an alarm is called about by one instance; the other takes it over once the first stopped renewing', async () => {
    const { a, b } = pair();
    await seedClient(a);
    a.db.prepare('UPDATE objects SET callout_enabled = 1').run();
    const r = await a.core.recordMonitoringEvent({ sourceId: 'x1', objectCode: '1234', type: 'alarm', kind: 'burglary', zone: 1, eventAt: null });
    expect(r.callout).not.toBeNull();
    const [plan] = await b.core.takeCallouts();
    expect(plan?.eventId).toBe(r.row.id);
    expect(await a.core.takeCallouts()).toEqual([]);
    expect(await b.core.takeCallouts([r.row.id])).toEqual([]);
    a.clock.advance(20_000);
    expect(await b.core.renewCallouts([r.row.id])).toEqual([r.row.id]);
    a.clock.advance(29_000);
    expect(await a.core.takeCallouts()).toEqual([]);
    // b froze: its lease ends 30 s after its last renewal
    a.clock.advance(1_000);
    expect((await a.core.takeCallouts()).map((p) => p.eventId)).toEqual([r.row.id]);
    expect(await b.core.renewCallouts([r.row.id])).toEqual([]);
    expect(await b.core.finishCallouts(r.row.id)).toBe(false);
    expect(await a.core.finishCallouts(r.row.id)).toBe(true);
    expect(await b.core.takeCallouts()).toEqual([]);
  });

  it('an alarm acknowledged before its instance died is not called about again; a fire is', async () => {
    const { a, b } = pair();
    await seedClient(a);
    a.db.prepare('UPDATE objects SET callout_enabled = 1').run();
    const burglary = await a.core.recordMonitoringEvent({ sourceId: 'k1', objectCode: '1234', type: 'alarm', kind: 'burglary', zone: 1, eventAt: null });
    const fire = await a.core.recordMonitoringEvent({ sourceId: 'k2', objectCode: '1234', type: 'alarm', kind: 'fire', zone: 2, eventAt: null });
    const plans = await b.core.takeCallouts();
    expect(plans.map((p) => p.eventId)).toEqual([burglary.row.id, fire.row.id]);
    // b's first calls are answered with 1, then b dies before it could close the call-outs
    for (const p of plans) {
      await b.core.noteCallout({ eventId: p.eventId, objectCode: p.objectCode, clientId: p.clientId, phone: p.contacts[0]!.phone, round: 1, result: 'acknowledged', startedAt: a.clock.now().toISOString() });
    }
    a.clock.advance(31_000);
    // a takes over: the burglary was answered and is closed; the fire goes on to every contact
    expect((await a.core.takeCallouts()).map((p) => p.eventId)).toEqual([fire.row.id]);
    const state = (id: number): unknown => (a.db.prepare('SELECT callout_state FROM monitoring_events WHERE id = ?').get(id) as { callout_state: unknown }).callout_state;
    expect(state(burglary.row.id)).toBe('done');
    expect(state(fire.row.id)).toBe('running');
    expect(await a.core.takeCallouts([fire.row.id])).toEqual([]);
  });

  it('calls stop, and no alert is raised, once the claim was lost to another instance', async () => {
    const { a } = pair();
    const { clientId } = await seedClient(a);
    const { row: event } = await a.core.recordMonitoringEvent({ sourceId: 'x2', objectCode: '1234', type: 'alarm', kind: 'burglary', zone: null, eventAt: null });
    const lost = new AbortController();
    const called: string[] = [];
    const out = await runAlarmCalls({
      eventId: event.id, objectCode: '1234', clientId, kind: 'burglary', zone: null,
      contacts: [{ phone: '+77011234567', lang: 'ru' }, { phone: '+77051112233', lang: 'ru' }, { phone: '+77771112233', lang: 'ru' }],
    }, {
      core: a.core, logger: quietLogger, rounds: 2, roundPauseMs: 10, ackTimeoutMs: 60_000, signal: lost.signal,
      callOut: async (q) => {
        called.push(q.phone);
        lost.abort();
        return 'no-answer';
      },
    });
    expect(out).toEqual({ acknowledgedBy: null, attempts: 1 });
    expect(called).toEqual(['+77011234567']);
    expect(await a.core.listAlerts()).toEqual([]);
  });
});

describe('scheduled jobs with two instances', () => {
  const deps = (fx: Fixture, instance: string): JobDeps => ({
    core: fx.core, admin: fx.admin, backupDir: join(fx.dir, 'backups'), backupKeepDays: 2, reminderDays: 3, logger: quietLogger, instance,
  });

  it('a scheduled run fired on both instances runs once; its lease is renewed while it runs', async () => {
    const { a, b } = pair({ realClock: true });
    let runs = 0;
    const body = async (): Promise<string> => {
      runs++;
      await new Promise((r) => setTimeout(r, 600));
      return 'done';
    };
    const slot = '2026-11-24T10:17:00.000Z';
    const first = runOnce(deps(a, 'a'), 'housekeeping', slot, body, { leaseMs: 150 });
    await new Promise((r) => setTimeout(r, 400));
    // long past the first lease of 150 ms: renewed, so still a's
    expect(await runOnce(deps(b, 'b'), 'housekeeping', slot, body, { leaseMs: 150 })).toEqual({ ran: false });
    expect(await first).toEqual({ ran: true, result: 'done' });
    expect(await runOnce(deps(b, 'b'), 'housekeeping', slot, body, { leaseMs: 150 })).toEqual({ ran: false });
    expect(runs).toBe(1);
    expect(a.db.prepare('SELECT holder, attempts, outcome FROM job_runs').all()).toEqual([{ holder: 'a', attempts: 1, outcome: 'done' }]);
    // a failure is recorded as such, and not run again
    expect(await runOnce(deps(b, 'b'), 'backup', slot, async () => { throw new Error('disk full'); })).toMatchObject({ ran: true, error: expect.any(Error) });
    expect(await runOnce(deps(a, 'a'), 'backup', slot, body)).toEqual({ ran: false });
    expect(a.db.prepare("SELECT outcome, detail FROM job_runs WHERE job = 'backup'").get()).toEqual({ outcome: 'failed', detail: 'disk full' });
  });

  it('a billing run whose instance died is resumed by the other one for the same period, and charges once', async () => {
    const { a, b } = pair({ realClock: true });
    const { clientId } = await seedClient(a);
    await a.core.pay({ clientId, amount: 1_000_000, operator: 'op', ref: 'bank:1' });
    const slot = '2026-11-30T19:05:00.000Z'; // 1 December 00:05 in Almaty
    // a took the run and died without a word
    expect(await a.admin.acquireJob('billing', slot, 'a', new Date(), new Date(Date.now() + 60_000))).toBe(true);
    expect(await resumeAbandoned(deps(b, 'b'))).toBe(0);
    const later = (): Date => new Date(Date.now() + 61_000);
    expect(await resumeAbandoned(deps(b, 'b'), { now: later })).toBe(1);
    expect(await resumeAbandoned(deps(a, 'a'), { now: later })).toBe(0);
    expect(a.db.prepare('SELECT holder, attempts, outcome FROM job_runs').all()).toEqual([{ holder: 'b', attempts: 2, outcome: 'done' }]);
    const charges = a.db.prepare("SELECT ref FROM ledger WHERE kind = 'charge' ORDER BY ref").all() as Array<{ ref: string }>;
    expect(charges.length).toBeGreaterThan(0);
    expect(charges.every((c) => c.ref.endsWith(':2026-12'))).toBe(true);
  });
});

describe('limits shared by two instances', () => {
  async function app(fx: Fixture): Promise<FastifyInstance> {
    const access = new Access({ store: fx.store, clock: fx.clock, random: cryptoRandom, keys: deriveKeys(TEST_SECRET), core: fx.core });
    const built = await buildApp({ logger: createLogger('silent'), checks: [], core: fx.core, access, hub: new EventHub(), rateLimitPerMinute: 0 });
    cleanups.push(() => built.close());
    return built;
  }

  it('sign-in requests from one address are counted across both HTTP instances', async () => {
    const { a, b } = pair({ realClock: true });
    const [one, two] = [await app(a), await app(b)];
    const ask = (x: FastifyInstance, ip: string): Promise<number> =>
      x.inject({ method: 'POST', url: '/v1/auth/otp', payload: { phone: '87019998877' }, remoteAddress: ip }).then((r) => r.statusCode);
    const codes: number[] = [];
    for (let i = 0; i < 12; i++) codes.push(await ask(i % 2 ? two : one, '198.51.100.7'));
    expect(codes.slice(0, 10).every((c) => c === 202)).toBe(true);
    expect(codes.slice(10)).toEqual([429, 429]);
    // another address has its own count
    expect(await ask(two, '198.51.100.8')).toBe(202);
    const verify = (x: FastifyInstance): Promise<number> =>
      x.inject({ method: 'POST', url: '/v1/auth/verify', payload: { phone: '87019998877', code: '000000' }, remoteAddress: '198.51.100.9' }).then((r) => r.statusCode);
    const checks: number[] = [];
    for (let i = 0; i < 21; i++) checks.push(await verify(i % 2 ? two : one));
    expect(checks.filter((c) => c === 401)).toHaveLength(20);
    expect(checks[20]).toBe(429);
  });

  it('SMS commands from one number are counted across both inbound handlers', async () => {
    const { a, b } = pair({ realClock: true });
    await seedClient(a);
    const inbound = (fx: Fixture): SmsInbound =>
      new SmsInbound({ core: fx.core, clock: { now: () => new Date() }, logger: quietLogger, onReceipt: () => undefined, rateLimit: { count: 3, windowMs: 60_000 } });
    const [one, two] = [inbound(a), inbound(b)];
    const deliver = (n: number) => ({
      sequence: n, sourceTon: 1, sourceAddr: '77011234567', destAddr: '7000', esmClass: 0, dataCoding: 0, shortMessage: Buffer.from('STATUS 1234'),
      receiptedMessageId: null, messageState: null, networkErrorCode: null, sar: null,
    });
    for (let i = 0; i < 6; i++) expect(await (i % 2 ? two : one).handle(deliver(i))).toBe(0);
    const handled = a.db.prepare("SELECT COUNT(*) AS n FROM journal WHERE channel = 'sms' AND phone = '+77011234567'").get() as { n: number };
    expect(handled.n).toBe(3);
  });
});

describe('live events across instances', () => {
  it("an alarm recorded by one instance reaches the other instance's listeners once, and its own once", async () => {
    const dir = tempDir();
    const config = (instance: string) => loadConfig({ ZHEDEL_DB: join(dir, 'zhedel.db'), ZHEDEL_SECRET: TEST_SECRET, ZHEDEL_INSTANCE: instance });
    const one = await openCore(config('one'));
    const two = await openCore(config('two'));
    cleanups.push(() => one.close(), () => two.close());
    const seen: Record<string, Array<[string, boolean]>> = { one: [], two: [] };
    one.events.subscribe((e: LiveEvent, remote) => seen.one?.push([e.type, remote]));
    two.events.subscribe((e: LiveEvent, remote) => seen.two?.push([e.type, remote]));
    const c = await one.core.addClient({ name: 'A', operator: 'op' });
    await one.core.addObject({ clientId: c.id, code: '1234', address: 'Алматы', operator: 'op' });
    await one.core.recordMonitoringEvent({ sourceId: 'live-1', objectCode: '1234', type: 'alarm', kind: 'fire', zone: 1, eventAt: null });
    await until(() => seen.two?.some(([t]) => t === 'alarm'), 2_000, 'the alarm on the other instance');
    await new Promise((r) => setTimeout(r, 50));
    // each instance's listeners get every event once: its own as local, the other's as remote
    expect(seen.one?.filter(([t]) => t === 'alarm')).toEqual([['alarm', false]]);
    expect(seen.one?.every(([, remote]) => !remote)).toBe(true);
    expect(seen.two?.filter(([t]) => t === 'alarm')).toEqual([['alarm', true]]);
    expect(seen.two?.map(([t]) => t)).toEqual(seen.one?.map(([t]) => t));
    expect(seen.two?.every(([, remote]) => remote)).toBe(true);
  });
});

describe('several processes on one database file', () => {
  function worker(dbPath: string, args: string[]): Promise<string> {
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, ['bin/run-ts.js', 'test/support/instance-worker.ts', dbPath, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
      child.stderr.on('data', (d: Buffer) => { err += d.toString(); });
      child.on('error', reject);
      child.on('close', (code) => (code === 0 ? resolve(out.trim()) : reject(new Error(`worker exited ${code}: ${err}`))));
    });
  }

  it('processes claiming from one outbox at once never take the same message; a limit holds across them', async () => {
    const { a } = pair({ realClock: true });
    await a.store.transaction(async (tx) => {
      for (let i = 0; i < 300; i++) {
        await tx.enqueueSms({ priority: 2, kind: 'n', phone: '+77011234567', clientId: null, body: `m${i}`, bodyEnc: null, secret: false, at: new Date().toISOString(), expiresAt: null });
      }
    });
    const outbox = new OutboxStore(a.db);
    const mine: number[] = [];
    const [p, q] = await Promise.all([
      worker(a.dbPath, ['p', 'claim']),
      worker(a.dbPath, ['q', 'claim']),
      (async () => {
        for (let i = 0; i < 40; i++) {
          const now = new Date();
          const { claimed } = await outbox.claim(now.toISOString(), 3, 'a', new Date(now.getTime() + 60_000).toISOString());
          mine.push(...claimed.map((m) => m.id));
          await outbox.record([], claimed.map((m) => ({ outboxId: m.id, state: 'submitted' as const, eraseBody: false, total: 1 })), now.toISOString(), 'a');
          await new Promise((r) => setTimeout(r, 2));
        }
      })(),
    ]);
    const ids = [...mine, ...p.split(' ').filter(Boolean).map(Number), ...q.split(' ').filter(Boolean).map(Number)];
    expect(ids).toHaveLength(300);
    expect(new Set(ids).size).toBe(300);
    expect(a.db.prepare("SELECT COUNT(*) AS n FROM outbox WHERE state = 'submitted' AND attempts = 1 AND duplicate_risk = 0").get()).toEqual({ n: 300 });

    const [x, y, z] = await Promise.all([
      worker(a.dbPath, ['p', 'hit', 'http-sign-in:203.0.113.50', '20']),
      worker(a.dbPath, ['q', 'hit', 'http-sign-in:203.0.113.50', '20']),
      worker(a.dbPath, ['r', 'hit', 'http-sign-in:203.0.113.50', '20']),
    ]);
    expect(Number(x) + Number(y) + Number(z)).toBe(25);
  });
});
