import { describe, expect, it } from 'vitest';
import { parseCommand } from '../../src/domain/commands.ts';

describe('SMS and chat commands', () => {
  it.each([
    ['СТАТУС', { cmd: 'status', objectCode: null }],
    ['статус', { cmd: 'status', objectCode: null }],
    ['  Статус   1234 ', { cmd: 'status', objectCode: '1234' }],
    ['status', { cmd: 'status', objectCode: null }],
    ['КҮЙ', { cmd: 'status', objectCode: null }],
    ['күй 1234', { cmd: 'status', objectCode: '1234' }],
    ['ОХРАНА 1234', { cmd: 'arm', objectCode: '1234' }],
    ['поставить 1234', { cmd: 'arm', objectCode: '1234' }],
    ['Поставить на охрану 1234', { cmd: 'arm', objectCode: '1234' }],
    ['ARM 1234', { cmd: 'arm', objectCode: '1234' }],
    ['arm', { cmd: 'arm', objectCode: null }],
    ['КҮЗЕТ 1234', { cmd: 'arm', objectCode: '1234' }],
    ['күзетке қою 1234', { cmd: 'arm', objectCode: '1234' }],
    ['СНЯТЬ 1234', { cmd: 'disarm', objectCode: '1234' }],
    ['снять', { cmd: 'disarm', objectCode: null }],
    ['Снять с охраны 1234.', { cmd: 'disarm', objectCode: '1234' }],
    ['DISARM 1234', { cmd: 'disarm', objectCode: '1234' }],
    ['АЛУ 1234', { cmd: 'disarm', objectCode: '1234' }],
    ['күзеттен алу', { cmd: 'disarm', objectCode: null }],
    ['БАЛАНС', { cmd: 'balance' }],
    ['balance', { cmd: 'balance' }],
    ['Счёт', { cmd: 'balance' }],
    ['ҚАЛДЫҚ', { cmd: 'balance' }],
    ['ПОМОЩЬ', { cmd: 'help' }],
    ['help', { cmd: 'help' }],
    ['КӨМЕК', { cmd: 'help' }],
    ['?', { cmd: 'help' }],
    ['123456', { cmd: 'code', code: '123456' }],
    [' 123 456 ', { cmd: 'code', code: '123456' }],
    ['код 123456', { cmd: 'code', code: '123456' }],
    ['1234', { cmd: 'code', code: '1234' }],
    ['12345', { cmd: 'code', code: '12345' }],
    ['1234 5678', { cmd: 'code', code: '12345678' }],
    ['код 12345', { cmd: 'code', code: '12345' }],
    ['Состояние, 1234!', { cmd: 'status', objectCode: '1234' }],
  ])('%j', (text, expected) => {
    expect(parseCommand(text)).toEqual(expected);
  });

  it.each([
    '', '   ', 'привет', 'СНЯТЬ все', 'СНЯТЬ 12', 'СНЯТЬ 123456789', 'ОХРАНА 1234 5678', 'БАЛАНС 5',
    'код 123', '123', '123456789', '1 2 3 4 5 6 7 8 9', 'x'.repeat(500), '\u0000\u0001', 'DROP TABLE objects;',
  ])('unknown: %j', (text) => {
    expect(parseCommand(text)).toEqual({ cmd: 'unknown' });
  });
});

describe('code SMS texts', () => {
  it('fit one UCS-2 SMS in both languages, for every purpose, with the longest object code', async () => {
    const { otpText } = await import('../../src/domain/texts.ts');
    for (const lang of ['ru', 'kk'] as const) {
      for (const purpose of ['disarm', 'arm', 'sign-in', 'confirm-number', 'duress-set', 'duress-clear']) {
        const t = otpText(lang, '123456', purpose, purpose.endsWith('arm') ? '12345678' : null);
        expect(t.length).toBeLessThanOrEqual(70);
        expect(t).toContain('123456');
        if (purpose.endsWith('arm')) expect(t).toContain('12345678');
      }
    }
  });
});

describe('short replies', () => {
  it('every fixed reply fits one UCS-2 SMS', async () => {
    const { T } = await import('../../src/domain/texts.ts');
    for (const [key, texts] of Object.entries(T)) {
      if (key === 'help' || key === 'suspended' || key === 'numberPending') continue; // two parts allowed
      for (const text of Object.values(texts)) expect({ key, len: text.replace(/\{\w+\}/g, '12345678').length <= 70 }).toEqual({ key, len: true });
    }
  });
});
