import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { answerText } from '../../src/core/conversation.ts';
import { makeFixture, seedClient } from '../support/core-fixture.ts';
import type { Fixture } from '../support/core-fixture.ts';

let fx: Fixture;
beforeEach(() => {
  fx = makeFixture();
});
afterEach(() => fx.close());

const sms = async (phone: string, text: string) => await answerText(fx.core, { channel: 'sms', phone, text });

describe('text commands (SMS and chat)', () => {
  it('status, arm, and a disarm confirmed by a code reply, in Russian', async () => {
    await seedClient(fx, { codes: ['1234'] });
    expect((await sms('77011234567', 'СТАТУС')).reply).toMatch(/^1234: снят с охраны с \d\d\.\d\d \d\d:\d\d$/);
    expect((await sms('77011234567', 'охрана')).reply).toBe('Объект 1234 поставлен под охрану.');
    expect((await sms('77011234567', 'ОХРАНА 1234')).reply).toBe('Объект 1234 уже под охраной.');
    const ch = await sms('77011234567', 'СНЯТЬ 1234');
    expect(ch.reply).toContain('Код подтверждения отправлен');
    expect((await fx.core.getObject('1234')).status).toBe('armed');
    const code = await fx.lastCode('+77011234567');
    expect((await sms('77011234567', code)).reply).toBe('Объект 1234 снят с охраны.');
    expect((await fx.core.getObject('1234')).status).toBe('disarmed');
    expect((await sms('77011234567', code)).reply).toBe('Нет операции, ожидающей кода.');
  });

  it('chat: sign-in then a disarm at once; a repeat says when a new code can come; a used-up budget says when, in ru and kk', async () => {
    await seedClient(fx, { codes: ['1234'] });
    await fx.core.operatorRequest({ action: 'arm', objectCode: '1234', operator: 'op' });
    const chat = async (text: string, challengeId?: string) => await answerText(fx.core, { channel: 'chat', phone: '77011234567', text, ...(challengeId ? { challengeId } : {}) });
    const s = await fx.core.requestSignIn({ channel: 'chat', phone: '77011234567' });
    if (s.kind !== 'sent') throw new Error('expected a sign-in code');
    expect(await fx.core.confirm({ channel: 'chat', phone: '77011234567', code: await fx.lastCode('+77011234567'), challengeId: s.challengeId })).toMatchObject({ kind: 'done' });
    fx.clock.advance(3_000);
    const ch = await chat('СНЯТЬ 1234');
    expect(ch.reply).toContain('Код подтверждения отправлен');
    fx.clock.advance(15_000);
    expect((await chat('СНЯТЬ 1234')).reply).toBe('Код уже отправлен и действует. Новый — через 45 с.');
    expect((await chat(await fx.lastCode('+77011234567'), ch.challengeId)).reply).toBe('Объект 1234 снят с охраны.');
    // the action budget (7 an hour at the default ceiling): each code used at once, the 8th waits
    // until the first leaves the hour (sent at 3 s, asked at 378 s: 3,225 s, told as 54 min)
    for (let i = 0; i < 6; i++) {
      const r = await chat('СНЯТЬ 1234');
      expect(r.reply).toContain('Код подтверждения отправлен');
      await chat(await fx.lastCode('+77011234567'), r.challengeId);
      fx.clock.advance(60_000);
    }
    expect((await chat('СНЯТЬ 1234')).reply).toBe('Слишком много кодов за час. Повторите через 54 мин.');
    await fx.core.setLanguage(1, 'kk', 'chat', '+77011234567');
    expect((await chat('АЛУ 1234')).reply).toBe('Бір сағатта кодтар тым көп. 54 минуттан кейін қайталаңыз.');
  });

  it('answers in Kazakh for a Kazakh-speaking client', async () => {
    await seedClient(fx, { lang: 'kk' });
    expect((await sms('87011234567', 'КҮЙ')).reply).toMatch(/^1234: күзеттен алынған, .* бастап$/);
    expect((await sms('87011234567', 'күзетке қою')).reply).toBe('1234 нысаны күзетке қойылды.');
    expect((await sms('87011234567', 'КӨМЕК')).reply).toContain('Командалар');
    expect((await sms('87011234567', 'баланс')).reply).toBe('Баланс: 0 тг.');
  });

  it('wrong codes count down', async () => {
    await seedClient(fx);
    await fx.core.operatorRequest({ action: 'arm', objectCode: '1234', operator: 'op' });
    await sms('87011234567', 'снять');
    const code = await fx.lastCode('+77011234567');
    const wrong = code === '000000' ? '111111' : '000000';
    expect((await sms('87011234567', wrong)).reply).toBe('Неверный код. Осталось попыток: 2.');
    expect((await sms('87011234567', wrong)).reply).toBe('Неверный код. Осталось попыток: 1.');
    expect((await sms('87011234567', wrong)).reply).toBe('Код больше не действует. Запросите новый.');
    expect((await fx.core.getObject('1234')).status).toBe('armed');
  });

  it('unknown and blocked senders get no SMS reply but are journalled; the chat says refused', async () => {
    await seedClient(fx);
    await fx.core.blockNumber({ phone: '87011234567', reason: 'stolen', operator: 'op' });
    expect((await sms('87019990000', 'СТАТУС')).reply).toBeNull();
    expect((await sms('87011234567', 'СНЯТЬ 1234')).reply).toBeNull();
    expect((await sms('87011234567', '123456')).reply).toBeNull();
    expect((await sms('+4412345', 'HELP')).reply).toBeNull();
    expect((await answerText(fx.core, { channel: 'chat', phone: '87011234567', text: 'статус' })).reply).toBe('Запрос отклонён.');
    const refused = await fx.core.searchJournal({ outcome: 'refused', limit: 10 });
    expect(refused.map((r) => r.reason)).toEqual(['blocked', 'unknown', 'blocked', 'blocked', 'unknown']);
    // no reply to anyone; the one message queued is the access alert to the client (5.9)
    expect((await fx.core.listOutbox({ limit: 10 })).map((m) => m.kind)).toEqual(['access-alert']);
  });

  it('garbage gets the short help; several objects ask which one', async () => {
    await seedClient(fx, { codes: ['1111', '2222'] });
    expect((await sms('87011234567', 'что-то непонятное')).reply).toContain('Команды: СТАТУС');
    expect((await sms('87011234567', 'снять')).reply).toBe('Укажите код объекта: 1111, 2222.');
    expect((await sms('87011234567', 'снять 9999')).reply).toBe('Такого объекта нет среди ваших.');
    expect((await sms('87011234567', 'x'.repeat(1000))).reply).toContain('Команды');
  });

  it('a pending number confirms itself by replying with the code', async () => {
    const c = await fx.core.addClient({ name: 'A', operator: 'op' });
    await fx.core.addNumber({ clientId: c.id, phone: '87011234567', operator: 'op' });
    expect((await sms('87011234567', 'статус')).reply).toContain('не подтверждён');
    expect((await sms('87011234567', await fx.lastCode('+77011234567'))).reply).toBe('Номер подтверждён. Добро пожаловать в ZHEDEL ONLINE!');
    expect((await fx.core.identify('87011234567')).ok).toBe(true);
  });
});
