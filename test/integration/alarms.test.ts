import { spawn } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { runAlarmCalls } from '../../src/telephony/alarm-calls.ts';
import { callRig } from '../support/call-rig.ts';
import type { Outcome } from '../support/call-rig.ts';
import { makeFixture, seedClient } from '../support/core-fixture.ts';
import type { Fixture } from '../support/core-fixture.ts';
import { quietLogger, until } from '../support/sms-harness.ts';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()?.();
});

function fixture(realClock = false): Fixture {
  const fx = makeFixture(realClock ? { realClock: true } : {});
  cleanups.push(() => fx.close());
  return fx;
}

const ev = async (fx: Fixture, id: string, type: string, extra: { kind?: string; zone?: number; at?: string; object?: string } = {}) =>
  await fx.core.recordMonitoringEvent({
    sourceId: id, objectCode: extra.object ?? '1234', type, kind: extra.kind ?? (type === 'alarm' ? 'burglary' : null), zone: extra.zone ?? null,
    eventAt: extra.at ?? fx.clock.now().toISOString(),
  });

describe('monitoring events and alarms', () => {
  it('an alarm sets the status, sends one concise SMS to each active number, and a live event; a restore says so once', async () => {
    const fx = fixture();
    const { clientId } = await seedClient(fx, { lang: 'kk' });
    await fx.core.addNumber({ clientId, phone: '87051112233', signed: true, operator: 'op' });
    await fx.core.addNumber({ clientId, phone: '87771112233', operator: 'op' }); // pending: not told
    fx.db.prepare("UPDATE objects SET address = 'Алматы қ., Достық даңғылы 123, 45-пәтер, 3-кіреберіс' WHERE code = '1234'").run();
    await fx.core.operatorRequest({ action: 'arm', objectCode: '1234', operator: 'op' });
    fx.clock.advance(1_000);
    const r = await ev(fx, 'mc-1', 'alarm', { zone: 3 });
    expect(r).toMatchObject({ duplicate: false, row: { result: 'alarm' } });
    expect((await fx.core.getObject('1234')).status).toBe('alarm');
    const alarms = (await fx.core.listOutbox({ limit: 20 })).filter((m) => m.kind === 'alarm');
    expect(alarms.map((m) => m.phone).sort()).toEqual(['+77011234567', '+77051112233']);
    for (const m of alarms) {
      expect(m.priority).toBe(1);
      expect(m.text?.length).toBeLessThanOrEqual(70);
      expect(m.text).toMatch(/^ДАБЫЛ 1234 Алматы.*: ұрлық, аймақ 3, \d\d:\d\d$/);
    }
    expect(fx.events).toContainEqual(expect.objectContaining({ type: 'alarm', objectCode: '1234', kind: 'burglary', zone: 3 }));
    // the same event again changes nothing
    expect(await ev(fx, 'mc-1', 'alarm', { zone: 3 })).toMatchObject({ duplicate: true });
    // the same zone again within the window: grouped, no SMS
    fx.clock.advance(60_000);
    expect((await ev(fx, 'mc-2', 'alarm', { zone: 3 })).row.result).toBe('grouped');
    expect((await fx.core.listOutbox({ limit: 20 })).filter((m) => m.kind === 'alarm')).toHaveLength(2);
    // another zone is a new alarm
    expect((await ev(fx, 'mc-3', 'alarm', { zone: 4 })).row.result).toBe('alarm');
    fx.clock.advance(60_000);
    expect((await ev(fx, 'mc-4', 'restore')).row.result).toBe('restored');
    expect((await fx.core.getObject('1234')).status).toBe('armed');
    expect((await fx.core.listOutbox({ limit: 20 })).filter((m) => m.kind === 'restore').map((m) => m.text)).toEqual([
      expect.stringMatching(/^1234 нысаны: дабыл тоқтады/), expect.stringMatching(/^1234 нысаны: дабыл тоқтады/),
    ]);
    fx.clock.advance(1_000);
    expect((await ev(fx, 'mc-5', 'restore')).row.result).toBe('restore');
    expect((await fx.core.listOutbox({ limit: 20 })).filter((m) => m.kind === 'restore')).toHaveLength(2);
    // after the window the same zone alarms again
    fx.clock.advance(10 * 60_000);
    expect((await ev(fx, 'mc-6', 'alarm', { zone: 3 })).row.result).toBe('alarm');
    expect((await fx.core.searchJournal({ channel: 'monitoring', limit: 10 })).map((d) => d.action)).toContain('event-alarm');
  });

  it('events older than the current status are stored but do not roll it back', async () => {
    const fx = fixture();
    await seedClient(fx);
    fx.clock.advance(60_000);
    await fx.core.operatorRequest({ action: 'arm', objectCode: '1234', operator: 'op' });
    const old = new Date(fx.clock.now().getTime() - 30_000).toISOString();
    expect((await ev(fx, 'late-disarm', 'disarm', { at: old })).row.result).toBe('stale');
    expect((await fx.core.getObject('1234')).status).toBe('armed');
    expect(fx.db.prepare("SELECT result FROM monitoring_events WHERE source_id = 'late-disarm'").get()).toEqual({ result: 'stale' });
    fx.clock.advance(1_000);
    expect((await ev(fx, 'panel-disarm', 'disarm')).row.result).toBe('status');
    expect((await fx.core.getObject('1234')).status).toBe('disarmed');
  });

  it('link lost and restored', async () => {
    const fx = fixture();
    await seedClient(fx);
    await fx.core.operatorRequest({ action: 'arm', objectCode: '1234', operator: 'op' });
    fx.clock.advance(1_000);
    expect((await ev(fx, 'l1', 'link-lost')).row.result).toBe('link-lost');
    expect((await fx.core.getObject('1234')).status).toBe('no-link');
    // told once: a second link-lost while the link is down changes nothing and sends nothing
    fx.clock.advance(1_000);
    expect((await ev(fx, 'l1b', 'link-lost')).row.result).toBe('status');
    const lost = (await fx.core.listOutbox({ limit: 20 })).filter((m) => m.kind === 'link-lost');
    expect(lost.map((m) => [m.phone, m.body])).toEqual([['+77011234567', expect.stringMatching(/^Объект 1234: нет связи с охранным прибором, \d\d:\d\d$/)]]);
    expect((await fx.core.listAlerts()).map((a) => [a.kind, a.objectCode])).toEqual([['no-link', '1234']]);
    fx.clock.advance(1_000);
    expect((await ev(fx, 'l2', 'link-restored')).row.result).toBe('link-restored');
    expect((await fx.core.getObject('1234')).status).toBe('armed');
    const back = (await fx.core.listOutbox({ limit: 20 })).filter((m) => m.kind === 'link-restored');
    expect(back.map((m) => m.body)).toEqual([expect.stringMatching(/^Объект 1234: связь с охранным прибором восстановлена, \d\d:\d\d$/)]);
    // a restore while the link is up tells nobody
    fx.clock.advance(1_000);
    expect((await ev(fx, 'l3', 'link-restored')).row.result).toBe('status');
    expect((await fx.core.listOutbox({ limit: 20 })).filter((m) => m.kind === 'link-restored')).toHaveLength(1);
    expect((await ev(fx, 't1', 'test')).row.result).toBe('noted');
  });

  it('a burst in one batch: each event handled in order, refused ones answered with their error and nothing else lost', async () => {
    const fx = fixture();
    await seedClient(fx);
    const base = { kind: 'burglary', zone: 1, eventAt: null };
    const out = await fx.core.recordMonitoringEvents([
      { sourceId: 'b1', objectCode: '1234', type: 'alarm', ...base },
      { sourceId: 'b2', objectCode: '9999', type: 'alarm', ...base },
      { sourceId: 'b3', objectCode: '1234', type: 'alarm', ...base, eventAt: 'yesterday' },
      { sourceId: 'b1', objectCode: '1234', type: 'alarm', ...base },
    ]);
    expect(out.map((r) => ('error' in r ? r.error.code : r.duplicate ? 'duplicate' : r.row.result))).toEqual(['alarm', 'OBJECT_NOT_FOUND', 'BAD_INPUT', 'duplicate']);
    expect((await fx.core.getObject('1234')).status).toBe('alarm');
    expect((await fx.core.listOutbox({ limit: 20 })).filter((m) => m.kind === 'alarm')).toHaveLength(1);
    expect((await fx.core.searchJournal({ action: 'event-alarm' })).map((r) => r.detail)).toEqual([expect.stringContaining('id=b1')]);
  });
});

describe('a panel\'s clock never silences an alarm', () => {
  const alarmsSent = async (fx: Fixture): Promise<number> => (await fx.core.listOutbox({ limit: 100 })).filter((m) => m.kind === 'alarm').length;

  it('an event dated a day ahead is stored at its receipt, the skew journalled; the next real alarm goes out', async () => {
    const fx = fixture();
    await seedClient(fx);
    const received = fx.clock.now().toISOString();
    const tomorrow = new Date(fx.clock.now().getTime() + 86_400_000).toISOString();
    expect((await ev(fx, 'ahead-arm', 'arm', { at: tomorrow })).row.eventAt).toBe(received);
    expect(await fx.core.getObject('1234')).toMatchObject({ status: 'armed', statusSince: received });
    const doc = (await fx.core.searchJournal({ action: 'event-arm', limit: 1 }))[0];
    expect(doc?.detail).toContain('clock-ahead=86400s');
    fx.clock.advance(1_000);
    const alarm = await fx.core.recordMonitoringEvent({ sourceId: 'real-alarm', objectCode: '1234', type: 'alarm', kind: 'burglary', zone: 1, eventAt: null });
    expect(alarm.row.result).toBe('alarm');
    expect(await alarmsSent(fx)).toBe(1);
    expect((await fx.core.getObject('1234')).status).toBe('alarm');
    // the year 9999 is no better: never stored in the future
    fx.clock.advance(1_000);
    expect((await ev(fx, 'far-ahead', 'test', { at: '9999-12-31T23:59:59Z' })).row.eventAt).toBe(fx.clock.now().toISOString());
    const future = fx.db.prepare('SELECT COUNT(*) AS n FROM monitoring_events WHERE event_at > ?').get(fx.clock.now().toISOString());
    expect(future).toEqual({ n: 0 });
    // a few minutes ahead is ordinary drift and kept as sent
    const soon = new Date(fx.clock.now().getTime() + 120_000).toISOString();
    expect((await ev(fx, 'slightly-ahead', 'test', { at: soon })).row.eventAt).toBe(soon);
  });

  it('an alarm dated far in the past (a panel whose clock is behind) is delivered; the status is left as it is', async () => {
    const fx = fixture();
    await seedClient(fx);
    fx.clock.advance(60_000);
    await fx.core.operatorRequest({ action: 'arm', objectCode: '1234', operator: 'op' });
    fx.clock.advance(1_000);
    const r = await ev(fx, 'behind', 'alarm', { kind: 'fire', at: '2001-01-01T00:00:00Z' });
    expect(r.row.result).toBe('alarm');
    expect(await alarmsSent(fx)).toBe(1);
    expect(fx.events).toContainEqual(expect.objectContaining({ type: 'alarm', objectCode: '1234', kind: 'fire' }));
    expect((await fx.core.getObject('1234')).status).toBe('armed');
    expect((await fx.core.searchJournal({ action: 'event-alarm', limit: 1 }))[0]).toMatchObject({ reason: 'alarm', detail: expect.stringContaining('late-status-kept') });
    // each kind, each time: a panel's old clock never makes people miss one
    for (const [i, kind] of ['burglary', 'panic', 'flood', 'tamper'].entries()) {
      fx.clock.advance(1_000);
      expect((await ev(fx, `behind-${kind}`, 'alarm', { kind, at: new Date(Date.UTC(2001, 0, 1, 0, i)).toISOString() })).row.result).toBe('alarm');
    }
    expect(await alarmsSent(fx)).toBe(5);
  });

  it('alarms are grouped by when they were received, not by the times panels put on them', async () => {
    const fx = fixture();
    await seedClient(fx);
    const ahead = new Date(fx.clock.now().getTime() + 4 * 60_000).toISOString();
    expect((await ev(fx, 'g1', 'alarm', { zone: 2, at: ahead })).row.result).toBe('alarm');
    fx.clock.advance(6 * 60_000);
    // six minutes later by the receiver's clock: a new alarm, whatever the first one claimed
    expect((await ev(fx, 'g2', 'alarm', { zone: 2 })).row.result).toBe('alarm');
    expect(await alarmsSent(fx)).toBe(2);
  });
});

describe('alarm call-outs', () => {
  async function rig(outcomes: Record<string, Outcome>, keys: Record<string, string | null>) {
    const fx = fixture(true);
    const { sim, tel } = await callRig({ core: fx.core, clock: fx.clock, outcomes, keys, askedBy: 'alarm-press-1', cleanups });
    const { clientId } = await seedClient(fx);
    await fx.core.addNumber({ clientId, phone: '87051112233', signed: true, operator: 'op' });
    await fx.core.addNumber({ clientId, phone: '87771112233', signed: true, operator: 'op' });
    fx.db.prepare('UPDATE objects SET callout_enabled = 1').run();
    return { fx, sim, tel };
  }

  it('calls down the list until someone presses 1, after the SMS went out; each attempt journalled', async () => {
    const { fx, sim, tel } = await rig({ '77011234567': 'no-answer', '77051112233': 'answer', '77771112233': 'answer' }, { '77051112233': '1' });
    const r = await ev(fx, 'a1', 'alarm', { zone: 2 });
    expect(r.callout?.contacts.map((c) => c.phone)).toEqual(['+77011234567', '+77051112233', '+77771112233']);
    expect((await fx.core.listOutbox({ limit: 10 })).filter((m) => m.kind === 'alarm')).toHaveLength(3);
    const [plan] = await fx.core.takeCallouts();
    const out = await runAlarmCalls(plan as NonNullable<typeof plan>, { core: fx.core, callOut: (q) => tel.callOut({ ...q, ringSec: 1 }), logger: quietLogger, roundPauseMs: 50, ackTimeoutMs: 10_000 });
    await fx.core.finishCallouts(r.row.id);
    expect(out).toEqual({ acknowledgedBy: '+77051112233', attempts: 2 });
    expect(sim.originated.map((o) => o.endpoint)).toEqual(['PJSIP/77011234567@trunk', 'PJSIP/77051112233@trunk']);
    const docs = (await fx.core.searchJournal({ channel: 'phone', limit: 10 })).reverse();
    expect(docs.map((d) => [d.action, d.reason, d.phone])).toEqual([
      ['callout', 'no-answer', '+77011234567'], ['alarm-ack', 'acknowledged', '+77051112233'],
    ]);
    expect(await fx.core.listAlerts()).toHaveLength(0);
    expect(await fx.core.takeCallouts()).toHaveLength(0);
  });

  it('nobody acknowledges: rounds with a pause, no redial of a number that rejected, then an operator alert', async () => {
    const { fx, sim, tel } = await rig({ '77011234567': 'reject', '77051112233': 'answer', '77771112233': 'busy' }, {});
    await ev(fx, 'a2', 'alarm');
    const [plan] = await fx.core.takeCallouts();
    const out = await runAlarmCalls(plan as NonNullable<typeof plan>, { core: fx.core, callOut: (q) => tel.callOut({ ...q, ringSec: 1 }), logger: quietLogger, rounds: 2, roundPauseMs: 50, ackTimeoutMs: 10_000 });
    expect(out.acknowledgedBy).toBeNull();
    const dialled = sim.originated.map((o) => o.endpoint.replace(/\D/g, '').slice(0, 11));
    expect(dialled.filter((n) => n === '77011234567')).toHaveLength(1); // rejected once, never again
    expect(dialled.filter((n) => n === '77051112233')).toHaveLength(2); // answered without a key: called again
    expect((await fx.core.searchJournal({ action: 'callout', limit: 10 })).map((d) => d.reason)).toContain('no-key');
    expect(await fx.core.listAlerts()).toEqual([expect.objectContaining({ kind: 'alarm-unacknowledged', objectCode: '1234' })]);
  });

  it('a fire is not silenced by a client: everyone is called and the operators are alerted', async () => {
    const { fx, tel, sim } = await rig({ '77011234567': 'answer', '77051112233': 'answer', '77771112233': 'answer' }, { '77011234567': '1', '77051112233': '1', '77771112233': '1' });
    await ev(fx, 'f1', 'alarm', { kind: 'fire' });
    const [plan] = await fx.core.takeCallouts();
    const out = await runAlarmCalls(plan as NonNullable<typeof plan>, { core: fx.core, callOut: (q) => tel.callOut({ ...q, ringSec: 1 }), logger: quietLogger, roundPauseMs: 50, ackTimeoutMs: 10_000 });
    expect(out.acknowledgedBy).toBe('+77011234567');
    expect(sim.originated).toHaveLength(3);
    expect(await fx.core.listAlerts()).toEqual([expect.objectContaining({ kind: 'alarm-unacknowledged' })]);
  });
});

describe('billing', () => {
  it('charges each period once, across a month end in the company time zone; suspends when it cannot; a payment resumes at once', async () => {
    const fx = fixture();
    // 20:30 UTC on 31 January is already 1 February in Almaty
    const at = new Date('2026-01-31T20:30:00Z');
    fx.clock.t = at.getTime() - 3_600_000;
    const rich = await fx.core.addClient({ name: 'Rich', lang: 'ru', balance: 1_000_000, services: ['robot', 'sms'], operator: 'op' });
    const poor = await fx.core.addClient({ name: 'Poor', lang: 'kk', balance: 10_000, services: ['robot', 'sms'], operator: 'op' });
    await fx.core.addObject({ clientId: poor.id, code: '5555', address: 'x', operator: 'op' });
    await fx.core.addNumber({ clientId: poor.id, phone: '87021234567', signed: true, operator: 'op' });
    expect(await fx.core.periodOf(at)).toBe('2026-02');
    fx.clock.t = at.getTime();
    expect(await fx.core.runBilling(at)).toEqual({ period: '2026-02', charged: 2, suspended: 2, already: 0 });
    expect(await fx.core.runBilling(at)).toEqual({ period: '2026-02', charged: 0, suspended: 2, already: 2 });
    expect((await fx.core.getClient(rich.id)).balance).toBe(1_000_000 - 50_000 - 30_000);
    const charges = fx.db.prepare("SELECT ref, amount FROM ledger WHERE kind = 'charge' ORDER BY ref").all();
    expect(charges).toEqual([
      { ref: `charge:${rich.id}:robot:2026-02`, amount: -50_000 }, { ref: `charge:${rich.id}:sms:2026-02`, amount: -30_000 },
    ]);
    expect((await fx.core.getClient(poor.id)).suspendedAt).not.toBeNull();
    const notices = (await fx.core.listOutbox({ limit: 20 })).filter((m) => m.kind === 'billing');
    expect(notices).toHaveLength(1); // one SMS, however often the job runs
    expect(notices[0]?.text).toContain('тоқтатылды');
    // every client channel refuses a suspended client
    expect(await fx.core.identify('87021234567')).toMatchObject({ ok: false, reason: 'suspended' });
    expect(await fx.core.request({ channel: 'sms', phone: '87021234567', action: 'status' })).toMatchObject({ reason: 'suspended' });
    // but a real alarm still reaches the client
    await ev(fx, 'poor-alarm', 'alarm', { object: '5555' });
    expect((await fx.core.listOutbox({ limit: 20 })).filter((m) => m.kind === 'alarm').map((m) => m.phone)).toEqual(['+77021234567']);
    await fx.core.pay({ clientId: poor.id, amount: 100_000, operator: 'cashier' });
    expect(await fx.core.getClient(poor.id)).toMatchObject({ suspendedAt: null, balance: 10_000 + 100_000 - 80_000 });
    expect((await fx.core.identify('87021234567')).ok).toBe(true);
    expect((await fx.core.listOutbox({ limit: 20 })).filter((m) => m.kind === 'billing').map((m) => m.text)).toEqual([
      expect.stringContaining('қайта қосылды'), expect.stringContaining('тоқтатылды'),
    ]);
    expect(await fx.core.runBilling(at)).toMatchObject({ charged: 0, suspended: 0, already: 4 });
  });

  it('a tariff change applies from the next period', async () => {
    const fx = fixture();
    const c = await fx.core.addClient({ name: 'A', balance: 1_000_000, services: ['robot'], operator: 'op' });
    await fx.core.setTariff({ service: 'robot', monthlyFee: 70_000, operator: 'admin' });
    await fx.core.runBilling(fx.clock.now()); // November 2026: the old tariff
    await fx.core.runBilling(new Date('2026-12-15T12:00:00Z')); // December: the new one
    expect(fx.db.prepare("SELECT amount FROM ledger WHERE kind = 'charge' ORDER BY id").all()).toEqual([{ amount: -50_000 }, { amount: -70_000 }]);
    expect((await fx.core.getClient(c.id)).balance).toBe(1_000_000 - 120_000);
    expect((await fx.core.searchJournal({ action: 'tariff-change' }))[0]).toMatchObject({ operator: 'admin' });
  });

  it('a low-balance reminder goes once, a few days before the next charge', async () => {
    const fx = fixture();
    const c = await fx.core.addClient({ name: 'A', balance: 1_000, services: ['robot'], operator: 'op' });
    await fx.core.addNumber({ clientId: c.id, phone: '87011234567', signed: true, operator: 'op' });
    expect(await fx.core.runReminders(new Date('2026-11-20T06:00:00Z'), 3)).toBe(0);
    expect(await fx.core.runReminders(new Date('2026-11-28T06:00:00Z'), 3)).toBe(1);
    expect(await fx.core.runReminders(new Date('2026-11-29T06:00:00Z'), 3)).toBe(0);
    expect((await fx.core.listOutbox({ limit: 5 }))[0]?.text).toMatch(/01\.12 спишется 500 тг, на счёте 10 тг/);
  });

  it('a billing run killed mid-way and run again charges everyone exactly once', async () => {
    const fx = fixture();
    for (let i = 0; i < 400; i++) await fx.core.addClient({ name: `C${i}`, balance: 100_000, services: ['robot', 'sms'], operator: 'op' });
    const env = { PATH: process.env.PATH ?? '', ZHEDEL_DB: fx.dbPath, ZHEDEL_SECRET: 's'.repeat(40) };
    const child = spawn(process.execPath, ['bin/zhedel.js', 'billing', 'run', '--at', '2026-12-05T10:00:00Z'], { env, stdio: 'ignore' });
    // kill it as soon as the first charges are committed
    await until(() => (fx.db.prepare("SELECT COUNT(*) AS n FROM ledger WHERE kind = 'charge'").get() as { n: number }).n > 0, 20_000, 'first charges');
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    const partial = (fx.db.prepare("SELECT COUNT(*) AS n FROM ledger WHERE kind = 'charge'").get() as { n: number }).n;
    const again = spawn(process.execPath, ['bin/zhedel.js', 'billing', 'run', '--at', '2026-12-20T10:00:00Z'], { env, stdio: 'ignore' });
    expect(await new Promise((r) => again.once('exit', r))).toBe(0);
    const total = (fx.db.prepare("SELECT COUNT(*) AS n FROM ledger WHERE kind = 'charge'").get() as { n: number }).n;
    expect(partial).toBeLessThanOrEqual(800);
    expect(total).toBe(800);
    expect(fx.db.prepare('SELECT COUNT(DISTINCT balance) AS n, MIN(balance) AS b FROM clients').get()).toEqual({ n: 1, b: 20_000 });
    expect(fx.db.pragma('integrity_check', { simple: true })).toBe('ok');
  });
});
