import { afterEach, describe, expect, it } from 'vitest';
import { makeFixture, seedClient } from '../support/core-fixture.ts';
import type { Fixture } from '../support/core-fixture.ts';
import { smsHarness } from '../support/sms-harness.ts';
import type { SmsHarness } from '../support/sms-harness.ts';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()?.();
});

async function rig(): Promise<{ fx: Fixture; h: SmsHarness }> {
  const fx = makeFixture({ realClock: true });
  cleanups.push(() => fx.close());
  const h = await smsHarness(fx);
  cleanups.push(() => h.close());
  await h.sim.waitFor(() => h.sim.boundCount === 1, 5_000, 'bind');
  return { fx, h };
}

const EVERY_DAY = [1, 2, 3, 4, 5, 6, 7];

describe('schedules by SMS against the SMSC simulator', () => {
  it('ГРАФИК and КЕСТЕ are answered with the schedule in the client\'s language; another\'s object gets the no-object answer', async () => {
    const { fx, h } = await rig();
    const { clientId } = await seedClient(fx, { codes: ['4711'] });
    await seedClient(fx, { codes: ['5555'], phone: '+77017654321', name: 'Other' });
    await fx.core.setSchedule({ objectCode: '4711', days: [1, 2, 3, 4, 5].map((weekday) => ({ weekday, armBy: '20:00', openFrom: '07:00' })), operator: 'anna' });
    h.sim.sendMo({ from: '77011234567', text: 'ГРАФИК 4711' });
    expect(await h.sim.waitFor(() => h.sim.textsTo('77011234567')[0], 5_000, 'schedule reply'))
      .toBe('График объекта 4711:\nПн-Пт: снятие с 07:00, охрана до 20:00');
    h.sim.sendMo({ from: '77011234567', text: 'grafik 5555' });
    expect(await h.sim.waitFor(() => h.sim.textsTo('77011234567')[1], 5_000, 'no-object reply')).toBe('Такого объекта нет среди ваших.');
    await fx.core.setLanguage(clientId, 'kk', 'operator', null);
    h.sim.sendMo({ from: '77011234567', text: 'КЕСТЕ' });
    expect(await h.sim.waitFor(() => h.sim.textsTo('77011234567')[2], 5_000, 'Kazakh reply'))
      .toBe('4711 нысанының кестесі:\nДс-Жм: алу 07:00 бастап, күзет 20:00 дейін');
    expect((await fx.core.searchJournal({ action: 'schedule', limit: 5 })).map((d) => [d.channel, d.outcome])).toEqual([['sms', 'accepted'], ['sms', 'refused'], ['sms', 'accepted']]);
  });

  it('the not-armed SMS reaches the object\'s trusted number once', async () => {
    const { fx, h } = await rig();
    await seedClient(fx, { codes: ['4711'] });
    await fx.core.setSchedule({ objectCode: '4711', days: EVERY_DAY.map((weekday) => ({ weekday, armBy: '00:00', openFrom: null })), operator: 'anna' });
    const first = await fx.core.checkSchedules(fx.clock.now());
    expect(first.sms).toBe(1);
    expect((await fx.core.checkSchedules(fx.clock.now())).sms).toBe(0);
    h.dispatcher.wake();
    expect(await h.sim.waitFor(() => h.sim.textsTo('77011234567')[0], 5_000, 'not-armed SMS'))
      .toBe('ZHEDEL: объект 4711 не под охраной, по графику — до 00:00.');
    expect(h.sim.textsTo('77011234567')).toHaveLength(1);
  });
});
