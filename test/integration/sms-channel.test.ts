import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import type { ReceiptApplied, ReceiptUpdate } from '../../src/core/ports.ts';
import { OutboxStore } from '../../src/store/outbox-store.ts';
import { SmscSim } from '../sim/smsc.ts';
import { makeFixture, seedClient } from '../support/core-fixture.ts';
import type { Fixture } from '../support/core-fixture.ts';
import { smsHarness, until } from '../support/sms-harness.ts';
import type { SmsHarness } from '../support/sms-harness.ts';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()?.();
});

function fixture(): Fixture {
  const fx = makeFixture({ realClock: true });
  cleanups.push(() => fx.close());
  return fx;
}

async function harness(fx: Fixture, o: Parameters<typeof smsHarness>[1] = {}): Promise<SmsHarness> {
  const h = await smsHarness(fx, o);
  cleanups.push(() => h.close());
  return h;
}

function outboxRow(fx: Fixture, id: number): Record<string, unknown> {
  return fx.db.prepare('SELECT * FROM outbox WHERE id = ?').get(id) as Record<string, unknown>;
}

const KK_NOTICE = 'Құрметті клиент! Сіздің нысаныңыз күзетке қойылды. Қызмет ақысын уақытында төлеуді ұмытпаңыз: ' +
  'шотта қаражат жеткіліксіз болса, қызмет тоқтатылады. Сұрақтар бойынша Күзет қызметіне хабарласыңыз. Рақмет! ӘҒҚҢӨҰҮҺІ';

describe('SMS over SMPP against the SMSC simulator', () => {
  it('binds as transceiver and sends a confirmation code as UCS-2 with its validity, then erases the body', async () => {
    const fx = fixture();
    const h = await harness(fx);
    const c = await fx.core.addClient({ name: 'A', operator: 'op' });
    await fx.core.addNumber({ clientId: c.id, phone: '87011234567', operator: 'op' });
    h.dispatcher.wake();
    const s = await h.sim.waitFor(() => h.sim.submitsTo('77011234567')[0], 5_000, 'the code SMS');
    expect(h.sim.pdusIn.some((p) => p.commandId === 0x09)).toBe(true);
    expect(s.destination).toEqual({ ton: 1, npi: 1, addr: '77011234567' });
    expect(s.source).toEqual({ ton: 5, npi: 0, addr: 'ZHEDEL' });
    expect(s.dataCoding).toBe(8);
    expect(s.registeredDelivery & 1).toBe(1);
    expect(s.validityPeriod).toMatch(/^00000000(04|05)\d\d000R$/);
    expect(s.text).toMatch(/^Код \d{6}: подтверждение номера в ZHEDEL ONLINE\. Никому не сообщайте\.$/);
    expect(s.concat).toBeNull(); // a code always fits one SMS
    const row = await until(() => {
      const r = outboxRow(fx, 1);
      return r.state === 'submitted' ? r : null;
    }, 3_000, 'submitted state');
    expect(row.body_enc).toBeNull();
    expect(row.body).toBeNull();
    h.sim.sendReceipt(s.messageId as string, 'DELIVRD');
    await until(() => outboxRow(fx, 1).state === 'delivered', 3_000, 'delivered state');
    expect((await fx.core.listOutbox({ limit: 1 }))[0]).toMatchObject({ state: 'delivered', messageIds: [s.messageId], text: null });
  });

  it('a 200-character Kazakh notice arrives as three numbered UCS-2 parts', async () => {
    const fx = fixture();
    const h = await harness(fx);
    const { clientId } = await seedClient(fx);
    const text = KK_NOTICE.slice(0, 200);
    expect(text.length).toBe(200);
    await fx.core.queueSms({ priority: 'info', kind: 'notice', phone: '+77011234567', clientId, text, secret: false, expiresAt: null });
    h.dispatcher.wake();
    const parts = await h.sim.waitFor(() => {
      const p = h.sim.submitsTo('77011234567');
      return p.length === 3 ? p : null;
    }, 5_000, 'three parts');
    expect(parts.map((p) => p.dataCoding)).toEqual([8, 8, 8]);
    expect(parts.map((p) => p.esmClass & 0x40)).toEqual([0x40, 0x40, 0x40]);
    expect(parts.map((p) => p.concat)).toEqual([1, 2, 3].map((seq) => ({ ref: parts[0]?.concat?.ref, total: 3, seq })));
    expect(parts.map((p) => p.text?.length)).toEqual([67, 67, 66]);
    expect(h.sim.textsTo('77011234567')).toEqual([text]);
    for (const p of parts) h.sim.sendReceipt(p.messageId as string, 'DELIVRD');
    await until(() => outboxRow(fx, 1).state === 'delivered', 3_000, 'delivered');
    expect((await h.outbox.parts(1)).map((p) => p.state)).toEqual(['delivered', 'delivered', 'delivered']);
  });

  it('sends codes before alarms before notices', async () => {
    const fx = fixture();
    const { clientId } = await seedClient(fx);
    const q = async (priority: 'otp' | 'alarm' | 'info', text: string): Promise<number> => await fx.core.queueSms({ priority, kind: priority, phone: '+77011234567', clientId, text, secret: false, expiresAt: null });
    await q('info', 'info 1');
    await q('alarm', 'alarm 1');
    await q('info', 'info 2');
    await q('otp', 'otp 1');
    await q('alarm', 'alarm 2');
    const h = await harness(fx, { session: { window: 1 } });
    await h.sim.waitFor(() => h.sim.submits.length === 5, 5_000, 'five submits');
    expect(h.sim.submits.map((s) => s.text)).toEqual(['otp 1', 'alarm 1', 'alarm 2', 'info 1', 'info 2']);
  });

  it('answers СТАТУС from the trusted number and carries out СНЯТЬ confirmed by the code by SMS', async () => {
    const fx = fixture();
    const h = await harness(fx);
    await seedClient(fx);
    await fx.core.operatorRequest({ action: 'arm', objectCode: '1234', operator: 'op' });
    await h.sim.waitFor(() => h.sim.boundCount === 1, 5_000, 'bind');
    h.sim.sendMo({ from: '77011234567', text: 'СТАТУС' });
    const status = await h.sim.waitFor(() => h.sim.textsTo('77011234567')[0], 5_000, 'status reply');
    expect(status).toMatch(/^1234: под охраной с /);
    h.sim.sendMo({ from: '77011234567', text: 'снять 1234' });
    const code = await h.sim.waitFor(() => h.sim.textsTo('77011234567').map((t) => /^Код (\d{6})/.exec(t)?.[1]).find(Boolean), 5_000, 'code SMS');
    expect((await fx.core.getObject('1234')).status).toBe('armed');
    h.sim.sendMo({ from: '77011234567', text: code as string });
    await h.sim.waitFor(() => h.sim.textsTo('77011234567').includes('Объект 1234 снят с охраны.'), 5_000, 'disarmed reply');
    expect((await fx.core.getObject('1234')).status).toBe('disarmed');
    expect(h.sim.deliverResps.every((r) => r.status === 0)).toBe(true);
    expect(h.sim.deliverResps.length).toBeGreaterThanOrEqual(3);
    const executed = (await fx.core.searchJournal({ action: 'disarm', outcome: 'executed' }))[0];
    expect(executed).toMatchObject({ channel: 'sms', auth: 'otp', phone: '+77011234567' });
  });

  it('СНЯТЬ inside the confirmation window: the code is answered "we will call", and the outcome comes by SMS', async () => {
    const fx = fixture();
    const h = await harness(fx);
    await seedClient(fx);
    await fx.core.operatorRequest({ action: 'arm', objectCode: '1234', operator: 'op' });
    await fx.core.setCompanyRules({ rules: { callback: { windows: [{ from: '00:00', to: '00:00' }] } }, operator: 'admin' });
    await h.sim.waitFor(() => h.sim.boundCount === 1, 5_000, 'bind');
    h.sim.sendMo({ from: '77011234567', text: 'СНЯТЬ 1234' });
    const code = await h.sim.waitFor(() => h.sim.textsTo('77011234567').map((t) => /^Код (\d{6})/.exec(t)?.[1]).find(Boolean), 5_000, 'code SMS');
    h.sim.sendMo({ from: '77011234567', text: code as string });
    await h.sim.waitFor(() => h.sim.textsTo('77011234567').includes('Запрос принят. Для подтверждения позвоним на ваш доверенный номер.'), 5_000, 'held reply');
    expect((await fx.core.getObject('1234')).status).toBe('armed');
    const [hold] = await fx.core.listHolds({ open: true });
    await fx.core.decideHold(hold?.id as number, { decision: 'confirm', operator: 'Operator Dias' });
    await h.sim.waitFor(() => h.sim.textsTo('77011234567').includes('Подтверждено и выполнено: снятие с охраны объекта 1234.'), 5_000, 'outcome SMS');
    expect((await fx.core.getObject('1234')).status).toBe('disarmed');
  });

  it('a number confirmed by SMS, or a sign-in in the app, then СНЯТЬ within 5 s: the disarm gets its code', async () => {
    const fx = fixture();
    // the dispatcher keeps the core's clock: the codes are queued at the advanced time
    const h = await harness(fx, { dispatcher: { clock: fx.clock } });
    const { clientId } = await seedClient(fx, { phone: '+77021234567', codes: ['1234', '5678'] });
    await fx.core.operatorRequest({ action: 'arm', objectCode: '1234', operator: 'op' });
    await fx.core.operatorRequest({ action: 'arm', objectCode: '5678', operator: 'op' });
    await h.sim.waitFor(() => h.sim.boundCount === 1, 5_000, 'bind');
    const codeFor = (what: RegExp) => async (): Promise<string> => h.sim.waitFor(
      () => h.sim.textsTo('77011234567').map((t) => (what.test(t) ? /^Код (\d{6})/.exec(t)?.[1] : undefined)).find(Boolean), 5_000, `code SMS ${String(what)}`,
    ) as Promise<string>;
    await fx.core.addNumber({ clientId, phone: '87011234567', operator: 'op' });
    h.sim.sendMo({ from: '77011234567', text: await codeFor(/номера/)() });
    await h.sim.waitFor(() => h.sim.textsTo('77011234567').some((t) => t.startsWith('Номер подтверждён')), 5_000, 'confirmed');
    fx.clock.advance(4_000);
    h.sim.sendMo({ from: '77011234567', text: 'СНЯТЬ 1234' });
    h.sim.sendMo({ from: '77011234567', text: await codeFor(/объекта 1234/)() });
    await h.sim.waitFor(() => h.sim.textsTo('77011234567').includes('Объект 1234 снят с охраны.'), 5_000, 'disarmed 1234');
    expect((await fx.core.requestSignIn({ channel: 'app', phone: '87011234567' })).kind).toBe('sent');
    fx.clock.advance(4_000);
    h.sim.sendMo({ from: '77011234567', text: 'СНЯТЬ 5678' });
    h.sim.sendMo({ from: '77011234567', text: await codeFor(/объекта 5678/)() });
    await h.sim.waitFor(() => h.sim.textsTo('77011234567').includes('Объект 5678 снят с охраны.'), 5_000, 'disarmed 5678');
    expect(h.sim.textsTo('77011234567').some((t) => t.startsWith('Код уже отправлен'))).toBe(false);
  });

  it('after twenty sign-in requests by anyone, the number\'s SMS disarm still gets its code', async () => {
    const fx = fixture();
    // the dispatcher keeps the core's clock: the codes are queued at the advanced time
    const h = await harness(fx, { dispatcher: { clock: fx.clock } });
    await seedClient(fx, { lang: 'kk' });
    await fx.core.operatorRequest({ action: 'arm', objectCode: '1234', operator: 'op' });
    await h.sim.waitFor(() => h.sim.boundCount === 1, 5_000, 'bind');
    for (let i = 0; i < 20; i++) {
      await fx.core.requestSignIn({ channel: i % 2 ? 'chat' : 'app', phone: '+77011234567', ref: `ip:203.0.113.${i}` });
      fx.clock.advance(61_000);
    }
    h.sim.sendMo({ from: '77011234567', text: 'АЛУ 1234' });
    const code = await h.sim.waitFor(() => h.sim.textsTo('77011234567').map((t) => (t.includes('күзеттен алу') ? /^Код (\d{6})/.exec(t)?.[1] : undefined)).find(Boolean), 5_000, 'disarm code');
    h.sim.sendMo({ from: '77011234567', text: code as string });
    await h.sim.waitFor(() => h.sim.textsTo('77011234567').includes('1234 нысаны күзеттен алынды.'), 5_000, 'disarmed');
    expect((await fx.core.getObject('1234')).status).toBe('disarmed');
    // three sign-in codes were queued (those not sent within their five minutes expired), then the budget closed; one flood alert
    expect(await fx.core.searchJournal({ action: 'sign-in', outcome: 'challenged' })).toHaveLength(3);
    expect(await fx.core.searchJournal({ action: 'disarm', outcome: 'refused' })).toHaveLength(0);
    expect((await fx.core.listAlerts()).filter((a) => a.kind === 'code-flood')).toHaveLength(1);
  });

  it('a forged or unknown sender gets nothing back and is journalled as refused', async () => {
    const fx = fixture();
    const h = await harness(fx);
    await seedClient(fx);
    await fx.core.blockNumber({ phone: '87011234567', reason: 'stolen', operator: 'op' });
    await h.sim.waitFor(() => h.sim.boundCount === 1, 5_000, 'bind');
    h.sim.sendMo({ from: '77011234567', text: 'СНЯТЬ 1234' });
    h.sim.sendMo({ from: '77019999999', text: 'СТАТУС' });
    h.sim.sendMo({ from: '4915112345678', text: 'HELP' });
    await h.sim.waitFor(() => h.sim.deliverResps.length === 3, 5_000, 'three answers');
    await new Promise((r) => setTimeout(r, 300));
    // no answer to any of them; the client is told once that the blocked number was used
    expect(h.sim.textsTo('77011234567')).toEqual([expect.stringContaining('подозрительные попытки')]);
    expect((await fx.core.searchJournal({ outcome: 'refused' })).map((r) => r.reason)).toEqual(['unknown', 'unknown', 'blocked']);
  });

  it('a flood from a short code and a foreign number is journalled as one record with its count; a client is still answered', async () => {
    const fx = fixture();
    const h = await harness(fx, { inbound: { strangerLimit: { count: 20, perSender: 3, windowMs: 2_000 } } });
    await seedClient(fx);
    await fx.core.operatorRequest({ action: 'arm', objectCode: '1234', operator: 'op' });
    await h.sim.waitFor(() => h.sim.boundCount === 1, 5_000, 'bind');
    for (let i = 0; i < 100; i++) {
      h.sim.sendMo({ from: '7777', text: `PRIZE ${i}` });
      h.sim.sendMo({ from: '4915112345678', text: 'HELP' });
      if (i === 50) h.sim.sendMo({ from: '77011234567', text: 'СТАТУС' });
    }
    await h.sim.waitFor(() => h.sim.deliverResps.length === 201, 30_000, 'every message answered by the SMPP layer');
    expect(h.sim.deliverResps.every((r) => r.status === 0)).toBe(true);
    // the client's command, sent in the middle of the flood, is carried out
    const status = await h.sim.waitFor(() => h.sim.textsTo('77011234567')[0], 10_000, 'status reply');
    expect(status).toMatch(/^1234: под охраной с /);
    const strangers = (): Array<{ action: string; detail: string | null }> => fx.db.prepare(
      "SELECT action, detail FROM journal WHERE channel = 'sms' AND (phone IS NULL OR phone <> '+77011234567')",
    ).all() as Array<{ action: string; detail: string | null }>;
    const accounted = (): number => strangers().reduce((n, r) => n + (r.action === 'inbound-flood' ? Number(/count=(\d+)/.exec(r.detail ?? '')?.[1]) : 1), 0);
    // the rest is journalled as one record per window, with its count
    await until(() => accounted() === 200, 20_000, 'the flood journalled with its count');
    const rows = strangers();
    const floods = rows.filter((r) => r.action === 'inbound-flood');
    expect(floods.length).toBeGreaterThanOrEqual(1);
    expect(floods[0]?.detail).toMatch(/^count=\d+ senders=2 since=/);
    expect(rows.length).toBeLessThan(30);
    expect((await fx.core.verifyJournal()).ok).toBe(true);
    expect(h.sim.textsTo('7777')).toEqual([]);
  });

  it('joins multi-part commands sent with UDH or SAR in any order; binary and garbage get help or nothing', async () => {
    const fx = fixture();
    const h = await harness(fx);
    await seedClient(fx, { lang: 'kk' });
    await h.sim.waitFor(() => h.sim.boundCount === 1, 5_000, 'bind');
    h.sim.sendLongMo({ from: '77011234567', text: 'күзетке қою 1234', partChars: 6, order: [3, 1, 2] });
    await h.sim.waitFor(() => h.sim.textsTo('77011234567').includes('1234 нысаны күзетке қойылды.'), 5_000, 'arm reply');
    h.sim.sendLongMo({ from: '77011234567', text: 'КҮЙ 1234', partChars: 4, sar: true, ref: 300 });
    await h.sim.waitFor(() => h.sim.textsTo('77011234567').some((t) => t.startsWith('1234: күзетте')), 5_000, 'status reply');
    h.sim.sendMo({ from: '77011234567', bytes: Buffer.from([0xde, 0xad, 0xbe, 0xef]), dataCoding: 4 });
    h.sim.sendMo({ from: '77011234567', text: 'x'.repeat(150) });
    await h.sim.waitFor(() => h.sim.textsTo('77011234567').filter((t) => t.startsWith('Командалар')).length === 2, 5_000, 'two help replies');
    expect((await fx.core.getObject('1234')).status).toBe('armed');
  });

  it('matches receipts whose ids come back in another base, from the text form or the TLVs', async () => {
    const fx = fixture();
    const h = await harness(fx, { sim: { behaviour: { idFormat: 'hex', receiptIdOtherBase: true, receiptTlvs: false } } });
    const { clientId } = await seedClient(fx);
    await fx.core.queueSms({ priority: 'info', kind: 'notice', phone: '+77011234567', clientId, text: 'hello', secret: false, expiresAt: null });
    await fx.core.queueSms({ priority: 'info', kind: 'notice', phone: '+77011234567', clientId, text: 'world', secret: false, expiresAt: null });
    h.dispatcher.wake();
    const [a, b] = await h.sim.waitFor(() => {
      const s = h.sim.submitsTo('77011234567');
      return s.length === 2 && s.every((x) => x.messageId) ? s : null;
    }, 5_000, 'two submits');
    await until(() => outboxRow(fx, 2).state === 'submitted', 3_000, 'submitted');
    h.sim.sendReceipt(a?.messageId as string, 'DELIVRD');
    h.sim.behave({ receiptTlvs: true, receiptText: false, receiptIdOtherBase: false });
    h.sim.sendReceipt(b?.messageId as string, 'UNDELIV', '001');
    await until(() => outboxRow(fx, 1).state === 'delivered' && outboxRow(fx, 2).state === 'undeliverable', 3_000, 'receipts applied');
    expect(h.dispatcher.stats.unmatchedReceipts).toBe(0);
  });

  it('receipts arriving together are written in one transaction; one that could not be written is refused, and applied when it comes again', async () => {
    const fx = fixture();
    const batches: number[] = [];
    let failNext = false;
    class CountingOutbox extends OutboxStore {
      override async applyReceipts(list: ReceiptUpdate[], at: string): Promise<Array<ReceiptApplied | null>> {
        batches.push(list.length);
        if (failNext) {
          failNext = false;
          throw new Error('disk I/O error');
        }
        return super.applyReceipts(list, at);
      }
    }
    const h = await harness(fx, { dispatcher: { store: new CountingOutbox(fx.db) } });
    const { clientId } = await seedClient(fx);
    for (let i = 0; i < 40; i++) await fx.core.queueSms({ priority: 'info', kind: 'notice', phone: '+77011234567', clientId, text: `notice ${i}`, secret: false, expiresAt: null });
    h.dispatcher.wake();
    await until(() => (fx.db.prepare("SELECT COUNT(*) AS n FROM outbox WHERE state = 'submitted'").get() as { n: number }).n === 40, 5_000, 'all submitted');
    const seqs = h.sim.submitsTo('77011234567').map((x) => h.sim.sendReceipt(x.messageId as string, 'DELIVRD'));
    await until(() => (fx.db.prepare("SELECT COUNT(*) AS n FROM outbox WHERE state = 'delivered'").get() as { n: number }).n === 40, 5_000, 'all delivered');
    expect(batches.reduce((a, b) => a + b, 0)).toBe(40);
    expect(batches.length).toBeLessThan(10);
    await until(() => seqs.every((q) => h.sim.deliverResps.some((r) => r.sequence === q)), 3_000, 'every deliver_sm answered');
    expect(h.sim.deliverResps.filter((r) => seqs.includes(r.sequence)).map((r) => r.status)).toEqual(seqs.map(() => 0));

    await fx.core.queueSms({ priority: 'info', kind: 'notice', phone: '+77011234567', clientId, text: 'one more', secret: false, expiresAt: null });
    h.dispatcher.wake();
    await until(() => outboxRow(fx, 41).state === 'submitted', 5_000, 'submitted');
    const last = h.sim.submitsTo('77011234567').at(-1)?.messageId as string;
    failNext = true;
    const refused = h.sim.sendReceipt(last, 'DELIVRD');
    const answer = await until(() => h.sim.deliverResps.find((r) => r.sequence === refused), 3_000, 'the refused receipt answered');
    expect(answer.status).not.toBe(0);
    expect(outboxRow(fx, 41).state).toBe('submitted');
    h.sim.sendReceipt(last, 'DELIVRD');
    await until(() => outboxRow(fx, 41).state === 'delivered', 3_000, 'delivered when it came again');
  });

  it('rides out throttling, a full queue, nacks and a permanent refusal', async () => {
    const fx = fixture();
    const h = await harness(fx, { sim: { behaviour: { throttleNext: 2 } }, session: { throttlePauseMs: 1_000, queueFullPauseMs: 1_500 } });
    const { clientId } = await seedClient(fx);
    await h.sim.waitFor(() => h.sim.boundCount === 1, 5_000, 'bind');
    const t0 = Date.now();
    await fx.core.queueSms({ priority: 'info', kind: 'n', phone: '+77011234567', clientId, text: 'throttled', secret: false, expiresAt: null });
    h.dispatcher.wake();
    await until(() => outboxRow(fx, 1).state === 'submitted', 8_000, 'sent after throttling');
    const throttledAt = h.sim.submits.filter((s) => s.answered === 0x58).map((s) => s.at);
    const okAt = h.sim.submits.find((s) => s.answered === 0)?.at ?? 0;
    expect(throttledAt).toHaveLength(2);
    expect(okAt - (throttledAt[0] as number)).toBeGreaterThanOrEqual(1_000);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1_000);

    h.sim.behave({ queueFullNext: 1 });
    await fx.core.queueSms({ priority: 'info', kind: 'n', phone: '+77011234567', clientId, text: 'queue full', secret: false, expiresAt: null });
    h.dispatcher.wake();
    await until(() => outboxRow(fx, 2).state === 'submitted', 8_000, 'sent after queue full');
    const qf = h.sim.submits.filter((s) => s.text === 'queue full');
    expect((qf[1]?.at ?? 0) - (qf[0]?.at ?? 0)).toBeGreaterThanOrEqual(1_400);

    h.sim.behave({ nackNext: 1 });
    await fx.core.queueSms({ priority: 'info', kind: 'n', phone: '+77011234567', clientId, text: 'nacked', secret: false, expiresAt: null });
    h.dispatcher.wake();
    await until(() => outboxRow(fx, 3).state === 'submitted', 8_000, 'sent after a nack');

    h.sim.behave({ errorNext: 1, errorStatus: 0x0b });
    await fx.core.queueSms({ priority: 'info', kind: 'n', phone: '+77011234567', clientId, text: 'bad dest', secret: false, expiresAt: null });
    h.dispatcher.wake();
    await until(() => outboxRow(fx, 4).state === 'failed', 5_000, 'failed at once');
    expect(outboxRow(fx, 4)).toMatchObject({ error: 'smsc:0x0b', attempts: 1 });
  });

  it('never has more submits in flight than the window, and keeps to the throughput limit', async () => {
    const fx = fixture();
    const h = await harness(fx, { sim: { behaviour: { responseDelayMs: 40 } }, session: { window: 4, tps: 40 } });
    const { clientId } = await seedClient(fx);
    await h.sim.waitFor(() => h.sim.boundCount === 1, 5_000, 'bind');
    for (let i = 0; i < 60; i++) await fx.core.queueSms({ priority: 'info', kind: 'n', phone: '+77011234567', clientId, text: `m${i}`, secret: false, expiresAt: null });
    h.dispatcher.wake();
    await until(() => (fx.db.prepare("SELECT COUNT(*) AS n FROM outbox WHERE state = 'submitted'").get() as { n: number }).n === 60, 10_000, 'all sent');
    expect(h.sim.maxOutstanding).toBeLessThanOrEqual(4);
    expect(h.sim.maxOutstanding).toBeGreaterThanOrEqual(2);
    // 60 parts at 40 per second (bucket of 2): never faster than the limit allows
    const at = h.sim.submits.map((s) => s.at);
    expect((at[59] as number) - (at[0] as number)).toBeGreaterThanOrEqual(((60 - 2) / 40) * 1000 - 50);
    for (let i = 0; i + 42 < at.length; i++) expect((at[i + 42] as number) - (at[i] as number)).toBeGreaterThanOrEqual(950);
  });

  it('a submit never answered is retried and marked as a possible duplicate', async () => {
    const fx = fixture();
    const h = await harness(fx, { sim: { behaviour: { swallowSubmits: true } }, session: { responseTimeoutMs: 300 } });
    const { clientId } = await seedClient(fx);
    await fx.core.queueSms({ priority: 'alarm', kind: 'alarm', phone: '+77011234567', clientId, text: 'ALARM', secret: false, expiresAt: null });
    h.dispatcher.wake();
    await h.sim.waitFor(() => h.sim.submits.length >= 1, 5_000, 'first try');
    await until(() => outboxRow(fx, 1).duplicate_risk === 1, 3_000, 'duplicate risk recorded');
    h.sim.behave({ swallowSubmits: false });
    await until(() => outboxRow(fx, 1).state === 'submitted', 5_000, 'sent on retry');
    expect(h.sim.submits.length).toBeGreaterThanOrEqual(2);
    expect(outboxRow(fx, 1)).toMatchObject({ duplicate_risk: 1, error: null });
  });

  it('the link dropped mid-window loses nothing: every message ends submitted, once where acknowledged', async () => {
    const fx = fixture();
    const h = await harness(fx, { sim: { behaviour: { dropAfterSubmits: 7, responseDelayMs: 30 } }, session: { window: 10 } });
    const { clientId } = await seedClient(fx);
    for (let i = 0; i < 30; i++) await fx.core.queueSms({ priority: 'info', kind: 'n', phone: '+77011234567', clientId, text: `msg ${i}`, secret: false, expiresAt: null });
    h.dispatcher.wake();
    await until(() => (fx.db.prepare("SELECT COUNT(*) AS n FROM outbox WHERE state = 'submitted'").get() as { n: number }).n === 30, 15_000, 'all submitted');
    expect(h.sim.binds).toBeGreaterThanOrEqual(2);
    const acked = new Map<string, number>();
    for (const s of h.sim.submits) if (s.answered === 0) acked.set(s.text ?? '', (acked.get(s.text ?? '') ?? 0) + 1);
    // what the SMSC acknowledged was never sent again
    expect([...acked.values()].every((n) => n === 1)).toBe(true);
    expect(acked.size).toBe(30);
  });

  it('reconnects after the SMSC goes away and sends what was queued meanwhile', async () => {
    const fx = fixture();
    const h = await harness(fx);
    const { clientId } = await seedClient(fx);
    await h.sim.waitFor(() => h.sim.boundCount === 1, 5_000, 'bind');
    await h.sim.stop();
    await until(() => !h.session.isBound(), 3_000, 'unbound');
    await fx.core.queueSms({ priority: 'info', kind: 'n', phone: '+77011234567', clientId, text: 'while away', secret: false, expiresAt: null });
    h.dispatcher.wake();
    await new Promise((r) => setTimeout(r, 300));
    expect(outboxRow(fx, 1).state).toBe('queued');
    await h.sim.restart();
    await h.sim.waitFor(() => h.sim.textsTo('77011234567').includes('while away'), 8_000, 'sent after reconnect');
  });

  it('refused binds are retried; an unanswered enquire_link drops and re-binds; the SMSC\'s unbind is answered', async () => {
    const fx = fixture();
    const h = await harness(fx, { sim: { behaviour: { refuseBind: 0x0d } }, session: { enquireLinkMs: 200, responseTimeoutMs: 300 } });
    await h.sim.waitFor(() => h.sim.pdusIn.filter((p) => p.commandId === 0x09).length >= 2, 5_000, 'bind retried');
    expect(h.session.isBound()).toBe(false);
    h.sim.behave({ refuseBind: 0 });
    await h.sim.waitFor(() => h.sim.boundCount === 1, 5_000, 'bound');
    await h.sim.waitFor(() => h.sim.pdusIn.some((p) => p.commandId === 0x15), 3_000, 'enquire_link sent');
    h.sim.behave({ ignoreEnquireLink: true });
    const binds = h.sim.binds;
    await h.sim.waitFor(() => h.sim.binds > binds, 5_000, 're-bind after silence');
    h.sim.behave({ ignoreEnquireLink: false });
    await until(() => h.session.isBound(), 3_000, 'bound again');
    h.sim.enquireLink();
    await h.sim.waitFor(() => h.sim.enquireLinksAnswered.length >= 1, 3_000, 'our enquire_link_resp');
    const before = h.sim.binds;
    h.sim.unbindAll();
    await h.sim.waitFor(() => h.sim.pdusIn.some((p) => p.commandId === 0x80000006), 3_000, 'unbind_resp');
    await h.sim.waitFor(() => h.sim.binds > before, 5_000, 'bound again after unbind');
  });

  it('copes with PDUs split across TCP segments', async () => {
    const fx = fixture();
    const h = await harness(fx, { sim: { behaviour: { fragmentBytes: 3 } } });
    await seedClient(fx);
    // every PDU comes in 3-byte pieces, each on a timer of its own: on a loaded machine the
    // exchange takes seconds, so the waits are generous
    await h.sim.waitFor(() => h.sim.boundCount === 1, 15_000, 'bind');
    h.sim.sendMo({ from: '77011234567', text: 'STATUS' });
    await h.sim.waitFor(() => h.sim.textsTo('77011234567').some((t) => t.startsWith('1234:')), 15_000, 'reply');
  });

  it('a code that outlived its five minutes is never sent late', async () => {
    const fx = fixture();
    const c = await fx.core.addClient({ name: 'A', operator: 'op' });
    await fx.core.addNumber({ clientId: c.id, phone: '87011234567', operator: 'op' });
    // the SMSC was away while the code expired
    fx.db.prepare("UPDATE outbox SET expires_at = ? WHERE id = 1").run(new Date(Date.now() - 1000).toISOString());
    const h = await harness(fx);
    await h.sim.waitFor(() => h.sim.boundCount === 1, 5_000, 'bind');
    await until(() => outboxRow(fx, 1).state === 'expired', 3_000, 'expired');
    expect(outboxRow(fx, 1).body_enc).toBeNull();
    expect(h.sim.submits).toHaveLength(0);
  });

  it('a restart with messages in every state sends what was queued and never what was accepted', async () => {
    const fx = fixture();
    const { clientId } = await seedClient(fx);
    const q = async (text: string): Promise<number> => await fx.core.queueSms({ priority: 'info', kind: 'n', phone: '+77011234567', clientId, text, secret: false, expiresAt: null });
    const long = 'Ж'.repeat(150); // three parts
    const queued = await q('queued one');
    const midSend = await q(long);
    const submitted = await q('already submitted');
    const failed = await q('already failed');
    const now = new Date().toISOString();
    // as the process left them when it was killed: one message caught after its first part was accepted
    fx.db.prepare("UPDATE outbox SET state = 'sending', attempts = 1, concat_ref = 9 WHERE id = ?").run(midSend);
    fx.db.prepare("INSERT INTO outbox_parts (outbox_id, seq, total, message_id, submitted_at) VALUES (?, 1, 3, 'abc1', ?)").run(midSend, now);
    fx.db.prepare("UPDATE outbox SET state = 'submitted', parts_total = 1, attempts = 1 WHERE id = ?").run(submitted);
    fx.db.prepare("UPDATE outbox SET state = 'failed', attempts = 1, error = 'smsc:0x0b' WHERE id = ?").run(failed);
    const h = await harness(fx);
    await until(() => outboxRow(fx, midSend).state === 'submitted' && outboxRow(fx, queued).state === 'submitted', 5_000, 'sent after restart');
    expect(h.sim.submits.map((s) => s.text)).toEqual(expect.arrayContaining(['queued one']));
    const parts = h.sim.submits.filter((s) => s.concat);
    expect(parts.map((p) => p.concat)).toEqual([{ ref: 9, total: 3, seq: 2 }, { ref: 9, total: 3, seq: 3 }]);
    expect(h.sim.submits.some((s) => s.text === 'already submitted' || s.text === 'already failed')).toBe(false);
    expect(outboxRow(fx, midSend)).toMatchObject({ duplicate_risk: 1, parts_total: 3 });
    expect(outboxRow(fx, failed).state).toBe('failed');
  });

  it('ssmpp:// verifies the SMSC certificate unless told not to', async () => {
    const cert = readFileSync('test/fixtures/smsc-test.crt', 'utf8');
    const key = readFileSync('test/fixtures/smsc-test.key', 'utf8');
    const sim = await SmscSim.start({ systemId: 'zhedel', password: 'secret', tls: { cert, key } });
    cleanups.push(() => sim.close());
    expect(sim.url).toMatch(/^ssmpp:/);
    const strict = await harness(fixture(), { existingSim: sim });
    await new Promise((r) => setTimeout(r, 700));
    expect(strict.session.isBound()).toBe(false);
    expect(sim.binds).toBe(0);
    await strict.stopOurs();
    const withCa = await harness(fixture(), { existingSim: sim, session: { tlsCa: cert } });
    await until(() => withCa.session.isBound(), 5_000, 'bound with the CA given');
    await withCa.stopOurs();
    const insecure = await harness(fixture(), { existingSim: sim, session: { tlsRejectUnauthorized: false } });
    await until(() => insecure.session.isBound(), 5_000, 'bound when told not to verify');
  });
});
