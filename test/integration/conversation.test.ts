import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { answerText } from '../../src/core/conversation.ts';
import { makeFixture, seedClient } from '../support/core-fixture.ts';
import type { Fixture } from '../support/core-fixture.ts';

let fx: Fixture;
beforeEach(() => {
  fx = makeFixture();
});
afterEach(() => fx.close());

const sms = (phone: string, text: string) => answerText(fx.core, { channel: 'sms', phone, text });

describe('text commands (SMS and chat)', () => {
  it('status, arm, and a disarm confirmed by a code reply, in Russian', () => {
    seedClient(fx, { codes: ['1234'] });
    expect(sms('77011234567', 'СТАТУС').reply).toMatch(/^1234: снят с охраны с \d\d\.\d\d \d\d:\d\d$/);
    expect(sms('77011234567', 'охрана').reply).toBe('Объект 1234 поставлен под охрану.');
    expect(sms('77011234567', 'ОХРАНА 1234').reply).toBe('Объект 1234 уже под охраной.');
    const ch = sms('77011234567', 'СНЯТЬ 1234');
    expect(ch.reply).toContain('Код подтверждения отправлен');
    expect(fx.core.getObject('1234').status).toBe('armed');
    const code = fx.lastCode('+77011234567');
    expect(sms('77011234567', code).reply).toBe('Объект 1234 снят с охраны.');
    expect(fx.core.getObject('1234').status).toBe('disarmed');
    expect(sms('77011234567', code).reply).toBe('Нет операции, ожидающей кода.');
  });

  it('chat: sign-in then a disarm at once; a repeat says when a new code can come; a used-up budget says when, in ru and kk', () => {
    seedClient(fx, { codes: ['1234'] });
    fx.core.operatorRequest({ action: 'arm', objectCode: '1234', operator: 'op' });
    const chat = (text: string, challengeId?: string) => answerText(fx.core, { channel: 'chat', phone: '77011234567', text, ...(challengeId ? { challengeId } : {}) });
    const s = fx.core.requestSignIn({ channel: 'chat', phone: '77011234567' });
    if (s.kind !== 'sent') throw new Error('expected a sign-in code');
    expect(fx.core.confirm({ channel: 'chat', phone: '77011234567', code: fx.lastCode('+77011234567'), challengeId: s.challengeId })).toMatchObject({ kind: 'done' });
    fx.clock.advance(3_000);
    const ch = chat('СНЯТЬ 1234');
    expect(ch.reply).toContain('Код подтверждения отправлен');
    fx.clock.advance(15_000);
    expect(chat('СНЯТЬ 1234').reply).toBe('Код уже отправлен и действует. Новый — через 45 с.');
    expect(chat(fx.lastCode('+77011234567'), ch.challengeId).reply).toBe('Объект 1234 снят с охраны.');
    // the action budget (7 an hour at the default ceiling): each code used at once, the 8th waits
    // until the first leaves the hour (sent at 3 s, asked at 378 s: 3,225 s, told as 54 min)
    for (let i = 0; i < 6; i++) {
      const r = chat('СНЯТЬ 1234');
      expect(r.reply).toContain('Код подтверждения отправлен');
      chat(fx.lastCode('+77011234567'), r.challengeId);
      fx.clock.advance(60_000);
    }
    expect(chat('СНЯТЬ 1234').reply).toBe('Слишком много кодов за час. Повторите через 54 мин.');
    fx.core.setLanguage(1, 'kk', 'chat', '+77011234567');
    expect(chat('АЛУ 1234').reply).toBe('Бір сағатта кодтар тым көп. 54 минуттан кейін қайталаңыз.');
  });

  it('answers in Kazakh for a Kazakh-speaking client', () => {
    seedClient(fx, { lang: 'kk' });
    expect(sms('87011234567', 'КҮЙ').reply).toMatch(/^1234: күзеттен алынған, .* бастап$/);
    expect(sms('87011234567', 'күзетке қою').reply).toBe('1234 нысаны күзетке қойылды.');
    expect(sms('87011234567', 'КӨМЕК').reply).toContain('Командалар');
    expect(sms('87011234567', 'баланс').reply).toBe('Баланс: 0 тг.');
  });

  it('wrong codes count down', () => {
    seedClient(fx);
    fx.core.operatorRequest({ action: 'arm', objectCode: '1234', operator: 'op' });
    sms('87011234567', 'снять');
    const code = fx.lastCode('+77011234567');
    const wrong = code === '000000' ? '111111' : '000000';
    expect(sms('87011234567', wrong).reply).toBe('Неверный код. Осталось попыток: 2.');
    expect(sms('87011234567', wrong).reply).toBe('Неверный код. Осталось попыток: 1.');
    expect(sms('87011234567', wrong).reply).toBe('Код больше не действует. Запросите новый.');
    expect(fx.core.getObject('1234').status).toBe('armed');
  });

  it('unknown and blocked senders get no SMS reply but are journalled; the chat says refused', () => {
    seedClient(fx);
    fx.core.blockNumber({ phone: '87011234567', reason: 'stolen', operator: 'op' });
    expect(sms('87019990000', 'СТАТУС').reply).toBeNull();
    expect(sms('87011234567', 'СНЯТЬ 1234').reply).toBeNull();
    expect(sms('87011234567', '123456').reply).toBeNull();
    expect(sms('+4412345', 'HELP').reply).toBeNull();
    expect(answerText(fx.core, { channel: 'chat', phone: '87011234567', text: 'статус' }).reply).toBe('Запрос отклонён.');
    const refused = fx.core.searchJournal({ outcome: 'refused', limit: 10 });
    expect(refused.map((r) => r.reason)).toEqual(['blocked', 'unknown', 'blocked', 'blocked', 'unknown']);
    // no reply to anyone; the one message queued is the access alert to the client (5.9)
    expect(fx.core.listOutbox({ limit: 10 }).map((m) => m.kind)).toEqual(['access-alert']);
  });

  it('garbage gets the short help; several objects ask which one', () => {
    seedClient(fx, { codes: ['1111', '2222'] });
    expect(sms('87011234567', 'что-то непонятное').reply).toContain('Команды: СТАТУС');
    expect(sms('87011234567', 'снять').reply).toBe('Укажите код объекта: 1111, 2222.');
    expect(sms('87011234567', 'снять 9999').reply).toBe('Такого объекта нет среди ваших.');
    expect(sms('87011234567', 'x'.repeat(1000)).reply).toContain('Команды');
  });

  it('a pending number confirms itself by replying with the code', () => {
    const c = fx.core.addClient({ name: 'A', operator: 'op' });
    fx.core.addNumber({ clientId: c.id, phone: '87011234567', operator: 'op' });
    expect(sms('87011234567', 'статус').reply).toContain('не подтверждён');
    expect(sms('87011234567', fx.lastCode('+77011234567')).reply).toBe('Номер подтверждён. Добро пожаловать в ZHEDEL ONLINE!');
    expect(fx.core.identify('87011234567').ok).toBe(true);
  });
});
