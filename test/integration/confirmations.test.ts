import { afterEach, describe, expect, it } from 'vitest';
import { runConfirmCalls } from '../../src/telephony/confirm-calls.ts';
import { callRig } from '../support/call-rig.ts';
import type { Outcome } from '../support/call-rig.ts';
import { makeFixture, seedClient } from '../support/core-fixture.ts';
import type { Fixture } from '../support/core-fixture.ts';
import { quietLogger } from '../support/sms-harness.ts';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()?.();
});

function fixture(realClock = false): Fixture {
  const fx = makeFixture(realClock ? { realClock: true } : {});
  cleanups.push(() => fx.close());
  return fx;
}

/** The fixture's clock starts at 15:00 in Almaty: a window around it catches every request. */
const AFTERNOON = [{ from: '14:00', to: '16:00' }];

async function nightRules(fx: Fixture, windows = AFTERNOON): Promise<void> {
  await fx.core.setCompanyRules({ rules: { callback: { windows } }, operator: 'admin' });
}

const sms = async (fx: Fixture, kind: string) => (await fx.core.listOutbox({ limit: 100 })).filter((m) => m.kind === kind);

describe('confirmation rules and held requests', () => {
  it('a disarm inside the window waits for confirmation after its code; an operator confirms it and the client is told', async () => {
    const fx = fixture();
    const { phone } = await seedClient(fx);
    await fx.core.operatorRequest({ action: 'arm', objectCode: '1234', operator: 'op' });
    await nightRules(fx);
    const r = await fx.core.request({ channel: 'sms', phone, action: 'disarm', objectCode: '1234' });
    expect(r.kind).toBe('challenge');
    const [hold] = await fx.core.listHolds({ open: true });
    expect(hold).toMatchObject({ state: 'awaiting-code', action: 'disarm', objectCode: '1234', reasons: 'window', channel: 'sms' });
    const c = await fx.core.confirm({ channel: 'sms', phone, code: await fx.lastCode(phone) });
    expect(c).toMatchObject({ kind: 'held', purpose: 'disarm', holdId: hold?.id });
    // the right code alone does not disarm
    expect((await fx.core.getObject('1234')).status).toBe('armed');
    expect((await fx.core.getHold(hold?.id as number)).state).toBe('pending');
    const d = await fx.core.decideHold(hold?.id as number, { decision: 'confirm', operator: 'op-anna' });
    expect(d).toMatchObject({ changed: true, hold: { state: 'confirmed', decidedBy: 'op-anna' } });
    expect((await fx.core.getObject('1234')).status).toBe('disarmed');
    expect((await sms(fx, 'hold')).map((m) => [m.phone, m.text])).toEqual([[phone, 'Подтверждено и выполнено: снятие с охраны объекта 1234.']]);
    // decided once: a second decision changes nothing
    expect((await fx.core.decideHold(hold?.id as number, { decision: 'refuse', operator: 'op-anna' })).changed).toBe(false);
    const docs = (await fx.core.searchJournal({ objectCode: '1234', action: 'disarm', limit: 10 })).reverse();
    expect(docs.map((x) => [x.outcome, x.auth, x.operator])).toEqual([['challenged', 'sender', null], ['held', 'otp', null], ['executed', 'operator', 'op-anna']]);
    expect(fx.events.filter((e) => e.type === 'hold').map((e) => (e as { state: string }).state)).toEqual(['awaiting-code', 'pending', 'confirmed']);
  });

  it('outside the window the same disarm goes through at once; a refusal alerts the operators and counts as a recent refusal', async () => {
    const fx = fixture();
    const { phone } = await seedClient(fx);
    await nightRules(fx, [{ from: '23:00', to: '06:00' }]);
    await fx.core.operatorRequest({ action: 'arm', objectCode: '1234', operator: 'op' });
    await fx.core.request({ channel: 'sms', phone, action: 'disarm', objectCode: '1234' });
    expect(await fx.core.confirm({ channel: 'sms', phone, code: await fx.lastCode(phone) })).toMatchObject({ kind: 'done', changed: true });
    // now at 03:12 local (22:12 UTC)
    await fx.core.operatorRequest({ action: 'arm', objectCode: '1234', operator: 'op' });
    fx.clock.t = Date.parse('2026-11-24T22:12:00Z');
    await fx.core.request({ channel: 'phone', phone, action: 'disarm', objectCode: '1234' });
    const held = await fx.core.confirm({ channel: 'phone', phone, code: await fx.lastCode(phone) });
    expect(held.kind).toBe('held');
    const id = (held as { holdId: number }).holdId;
    expect((await fx.core.decideHold(id, { decision: 'refuse', phone })).changed).toBe(true);
    expect((await fx.core.getObject('1234')).status).toBe('armed');
    expect(await fx.core.listAlerts()).toEqual([expect.objectContaining({ kind: 'confirmation-refused', objectCode: '1234' })]);
    expect((await sms(fx, 'hold')).map((m) => m.text)).toEqual(['Не подтверждено, отменено: снятие с охраны объекта 1234.']);
    // with the recent-refusal rule, a request within the hour is held even outside the window
    await fx.core.setCompanyRules({ rules: { callback: { windows: [], recentRefusal: true } }, operator: 'admin' });
    fx.clock.advance(10 * 60_000);
    const again = await fx.core.request({ channel: 'app', phone, action: 'disarm', objectCode: '1234' });
    expect(again.kind).toBe('challenge');
    expect((await fx.core.listHolds({ open: true }))[0]).toMatchObject({ reasons: 'recent-refusal', state: 'awaiting-code' });
    // an hour later it is not
    fx.clock.advance(61 * 60_000);
    await fx.core.request({ channel: 'chat', phone, action: 'disarm', objectCode: '1234' });
    expect(await fx.core.listHolds({ open: true })).toHaveLength(1); // only the earlier one, still waiting for its code
  });

  it('a new number, a new channel, and a client who asked for a call-back on every disarm', async () => {
    const fx = fixture();
    const { phone, clientId } = await seedClient(fx);
    await fx.core.setCompanyRules({ rules: { callback: { newNumberDays: 7, newChannel: true } }, operator: 'admin' });
    const reasonsOf = async (channel: 'sms' | 'phone' | 'app'): Promise<string> => {
      const r = await fx.core.request({ channel, phone, action: 'disarm', objectCode: '1234' });
      expect(r.kind).toBe('challenge');
      const hold = (await fx.core.listHolds({ open: true, clientId }))[0];
      if (!hold || hold.challengeId !== (r as { challengeId: string }).challengeId) return '';
      await fx.core.decideHold(hold.id, { decision: 'refuse', operator: 'op' });
      return hold.reasons;
    };
    expect(await reasonsOf('sms')).toBe('new-number,new-channel');
    fx.clock.advance(8 * 86_400_000);
    expect(await reasonsOf('sms')).toBe('new-channel');
    // a status by SMS is a use of the channel
    await fx.core.request({ channel: 'sms', phone, action: 'status' });
    fx.clock.advance(2 * 60_000);
    expect(await reasonsOf('sms')).toBe('');
    // the client's own rule (a signed application): every disarm; never weaker than the company's
    await fx.core.setClientRules({ clientId, rules: { callback: { always: true } }, operator: 'op' });
    fx.clock.advance(2 * 60_000);
    expect(await reasonsOf('sms')).toBe('always');
    const r = await fx.core.confirmationRules(clientId);
    expect(r.effective.callback).toMatchObject({ always: true, newNumberDays: 7, newChannel: true });
    await expect(fx.core.setCompanyRules({ rules: { otp: { disarm: ['phone'] } }, operator: 'admin' })).rejects.toMatchObject({ code: 'BAD_INPUT' });
    await expect(fx.core.setClientRules({ clientId: 999, rules: {}, operator: 'op' })).rejects.toMatchObject({ code: 'CLIENT_NOT_FOUND' });
    await fx.core.setClientRules({ clientId, rules: null, operator: 'op' });
    expect((await fx.core.confirmationRules(clientId)).client).toBeNull();
    const changes = await fx.core.searchJournal({ action: 'policy-change', limit: 10 });
    expect(changes).toHaveLength(3);
  });

  it('an operator holds a document that waits for its code; an unanswered hold expires refused', async () => {
    const fx = fixture();
    const { phone } = await seedClient(fx);
    await fx.core.operatorRequest({ action: 'arm', objectCode: '1234', operator: 'op' });
    const r = await fx.core.request({ channel: 'app', phone, action: 'disarm', objectCode: '1234' });
    const challengeId = (r as { challengeId: string }).challengeId;
    const hold = await fx.core.holdDocument({ challengeId, operator: 'op-anna' });
    expect(hold).toMatchObject({ state: 'awaiting-code', reasons: 'operator' });
    // holding twice returns the same hold
    expect((await fx.core.holdDocument({ challengeId, operator: 'op-anna' })).id).toBe(hold.id);
    await expect(fx.core.holdDocument({ challengeId: 'nope-nope-nope', operator: 'op' })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect(await fx.core.confirm({ channel: 'app', phone, code: await fx.lastCode(phone), challengeId })).toMatchObject({ kind: 'held' });
    expect((await fx.core.getObject('1234')).status).toBe('armed');
    fx.clock.advance(16 * 60_000);
    expect(await fx.core.expireHolds()).toBe(1);
    expect(await fx.core.getHold(hold.id)).toMatchObject({ state: 'refused', result: 'confirmation-expired' });
    expect(await fx.core.listAlerts()).toEqual([expect.objectContaining({ kind: 'confirmation-refused' })]);
    // a document whose code was already used cannot be held
    await expect(fx.core.holdDocument({ challengeId, operator: 'op' })).rejects.toMatchObject({ code: 'CONFLICT' });
  });

  it('a hold whose code never came lapses quietly; refusing one still waiting for its code revokes the code', async () => {
    const fx = fixture();
    const { phone } = await seedClient(fx);
    await nightRules(fx);
    await fx.core.request({ channel: 'sms', phone, action: 'disarm', objectCode: '1234' });
    fx.clock.advance(6 * 60_000);
    expect(await fx.core.expireHolds()).toBe(1);
    expect((await fx.core.listHolds({}))[0]).toMatchObject({ state: 'expired', result: 'code-not-entered' });
    expect(await fx.core.listAlerts()).toHaveLength(0);
    const again = await fx.core.request({ channel: 'sms', phone, action: 'disarm', objectCode: '1234' });
    const [open] = await fx.core.listHolds({ open: true });
    await fx.core.decideHold(open?.id as number, { decision: 'refuse', operator: 'op' });
    const challengeId = (again as { challengeId: string }).challengeId;
    expect(await fx.core.confirm({ channel: 'sms', phone, code: await fx.lastCode(phone), challengeId })).toMatchObject({ kind: 'refused', reason: 'code-dead' });
    expect(await sms(fx, 'hold')).toHaveLength(0); // nothing was promised to the client yet
    // nothing held any more: the every-second look for call-backs and expiries writes nothing
    const writes = fx.store.commits.transactions;
    expect(await fx.core.takeHoldCalls()).toEqual([]);
    expect(await fx.core.expireHolds()).toBe(0);
    expect(fx.store.commits.transactions).toBe(writes);
  });
});

describe('a duress code at a time the rules hold a disarm', () => {
  it('is carried out at once like a plain disarm, nobody is called, the hold is closed for the operators only', async () => {
    const fx = fixture();
    const { phone, clientId } = await seedClient(fx);
    await fx.core.operatorRequest({ action: 'arm', objectCode: '1234', operator: 'op' });
    await nightRules(fx);
    await fx.core.setDuressCode({ clientId, code: '5827', signed: true, operator: 'op' });
    const r = await fx.core.request({ channel: 'sms', phone, action: 'disarm', objectCode: '1234' });
    expect(r.kind).toBe('challenge');
    const c = await fx.core.confirm({ channel: 'sms', phone, code: '5827' });
    expect(c).toMatchObject({ kind: 'done', purpose: 'disarm', changed: true });
    expect((await fx.core.getObject('1234')).status).toBe('disarmed');
    expect(await fx.core.listHolds({ open: true })).toHaveLength(0);
    expect((await fx.core.listHolds({}))[0]).toMatchObject({ state: 'cancelled', result: 'duress' });
    expect(await fx.core.takeHoldCalls()).toHaveLength(0);
    expect(await sms(fx, 'hold')).toHaveLength(0);
    expect((await fx.core.listAlerts()).map((a) => a.kind)).toEqual(['duress']);
  });
});

describe('confirmation call-backs', () => {
  async function rig(outcomes: Record<string, Outcome>, keys: Record<string, string>) {
    const fx = fixture(true);
    const { sim, tel } = await callRig({ core: fx.core, clock: fx.clock, outcomes, keys, askedBy: 'confirm-press', cleanups });
    const { clientId, phone } = await seedClient(fx);
    await fx.core.addNumber({ clientId, phone: '87051112233', signed: true, operator: 'op' });
    await fx.core.operatorRequest({ action: 'arm', objectCode: '1234', operator: 'op' });
    await fx.core.setCompanyRules({ rules: { callback: { always: true } }, operator: 'admin' });
    // a disarm by SMS, its code right: held
    await fx.core.request({ channel: 'sms', phone, action: 'disarm', objectCode: '1234' });
    const held = await fx.core.confirm({ channel: 'sms', phone, code: await fx.lastCode(phone) });
    expect(held.kind).toBe('held');
    const plans = await fx.core.takeHoldCalls();
    expect(plans).toHaveLength(1);
    const plan = plans[0] as NonNullable<(typeof plans)[0]>;
    return { fx, sim, tel, plan, phone };
  }

  it('the trusted number that asked is called first and its key 1 executes the request', async () => {
    const { fx, sim, tel, plan, phone } = await rig({ '77011234567': 'answer' }, { '77011234567': '1' });
    expect(plan.contacts.map((c) => c.phone)).toEqual([phone, '+77051112233']);
    const out = await runConfirmCalls(plan, { core: fx.core, callOut: (q) => tel.callOut({ ...q, ringSec: 1 }), logger: quietLogger, roundPauseMs: 50 });
    expect(out).toBe('confirmed');
    expect((await fx.core.getObject('1234')).status).toBe('disarmed');
    const call = sim.answered[0];
    // "a request to disarm object 1 2 3 4 by SMS today at …: press 1 to confirm, 2 to refuse"
    const said = (call?.prompts ?? []).join(' ');
    expect(said).toMatch(/confirm-intro.*confirm-action-disarm.*object.*digit-1.*digit-2.*digit-3.*digit-4.*confirm-via-sms.*today.*at.*confirm-press/);
    expect(said).toMatch(/confirm-done/);
    expect(sim.originated.map((o) => o.endpoint)).toEqual(['PJSIP/77011234567@trunk']);
    expect((await fx.core.searchJournal({ action: 'confirm-call', limit: 5 })).map((d) => d.detail)).toEqual([`hold ${plan.holdId} confirmed`]);
    const done = (await fx.core.searchJournal({ action: 'disarm', outcome: 'executed', limit: 1 }))[0];
    expect(done).toMatchObject({ auth: 'callback', channel: 'sms' });
    expect(await fx.core.listAlerts()).toHaveLength(0);
  });

  it('key 2 on another trusted number refuses it; nobody answering refuses it too, each time with an operator alert', async () => {
    const { fx, tel, plan } = await rig({ '77011234567': 'no-answer', '77051112233': 'answer' }, { '77051112233': '2' });
    const out = await runConfirmCalls(plan, { core: fx.core, callOut: (q) => tel.callOut({ ...q, ringSec: 1 }), logger: quietLogger, roundPauseMs: 50 });
    expect(out).toBe('refused');
    expect((await fx.core.getObject('1234')).status).toBe('armed');
    expect(await fx.core.getHold(plan.holdId)).toMatchObject({ state: 'refused', result: 'confirmation-refused', calls: 2 });
    expect(await fx.core.listAlerts()).toEqual([expect.objectContaining({ kind: 'confirmation-refused' })]);
  });

  it('an unanswered call-back, rounds over, is refused; an operator deciding first stops the calls', async () => {
    const { fx, sim, tel, plan } = await rig({ '77011234567': 'busy', '77051112233': 'reject' }, {});
    const out = await runConfirmCalls(plan, { core: fx.core, callOut: (q) => tel.callOut({ ...q, ringSec: 1 }), logger: quietLogger, rounds: 2, roundPauseMs: 50 });
    expect(out).toBe('unanswered');
    const dialled = sim.originated.map((o) => o.endpoint.replace(/\D/g, '').slice(0, 11));
    expect(dialled).toEqual(['77011234567', '77051112233', '77011234567']); // a rejecting number is not called again
    expect(await fx.core.getHold(plan.holdId)).toMatchObject({ state: 'refused', result: 'confirmation-unanswered' });

    // a second held request; the operator confirms it before any call
    await fx.core.operatorRequest({ action: 'arm', objectCode: '1234', operator: 'op' });
    fx.clock.advance(61 * 60_000);
    const phone = '+77011234567';
    await fx.core.request({ channel: 'sms', phone, action: 'disarm', objectCode: '1234' });
    await fx.core.confirm({ channel: 'sms', phone, code: await fx.lastCode(phone) });
    const [next] = await fx.core.takeHoldCalls();
    await fx.core.decideHold(next?.holdId as number, { decision: 'confirm', operator: 'op-anna' });
    const before = sim.originated.length;
    expect(await runConfirmCalls(next as NonNullable<typeof next>, { core: fx.core, callOut: (q) => tel.callOut(q), logger: quietLogger })).toBe('decided');
    expect(sim.originated).toHaveLength(before);
  });
});
