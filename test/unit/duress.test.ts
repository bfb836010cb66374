import { describe, expect, it } from 'vitest';
import { deriveKeys } from '../../src/domain/crypto.ts';
import { checkDuressCode, duressHash, duressMatches, normaliseDuress } from '../../src/domain/duress.ts';
import { isAppError } from '../../src/domain/errors.ts';

const keys = deriveKeys('test-secret-0123456789-abcdefghijklmnopqrstuvwxyz');

function refusal(input: unknown): string {
  try {
    checkDuressCode(input);
  } catch (e) {
    if (isAppError(e) && e.code === 'BAD_INPUT') return e.message;
    throw e;
  }
  throw new Error(`${String(input)} was accepted`);
}

describe('duress code', () => {
  it.each(['5827', '73915', '1357 9024', '20-46-13', '90817263'])('accepts %j', (code) => {
    expect(checkDuressCode(code)).toBe(code.replace(/[\s-]/g, ''));
  });

  it.each([
    ['123', /4 to 8 digits/], ['123456789', /4 to 8 digits/], ['12a4', /4 to 8 digits/], ['', /4 to 8 digits/], [5827, /4 to 8 digits/],
    ['0000', /same/], ['77777777', /same/], ['1234', /in a row/], ['98765', /in a row/], ['3456789', /in a row/],
  ])('refuses %j', (code, why) => {
    const message = refusal(code);
    expect(message).toMatch(why);
    if (typeof code === 'string' && code.length > 0) expect(message).not.toContain(code);
  });

  it('is stored as a keyed hash bound to the client: equal codes of two clients differ', () => {
    const a = duressHash(keys.duress, 1, '5827');
    expect(a).toHaveLength(32);
    expect(a.equals(duressHash(keys.duress, 2, '5827'))).toBe(false);
    expect(a.equals(duressHash(deriveKeys('another-secret-0123456789-abcdefghijklmnop').duress, 1, '5827'))).toBe(false);
    expect(keys.duress.equals(keys.otp)).toBe(false);
    expect(duressMatches(keys.duress, 1, '58 27', a)).toBe(true);
    expect(duressMatches(keys.duress, 2, '5827', a)).toBe(false);
    expect(duressMatches(keys.duress, 1, '5828', a)).toBe(false);
    expect(duressMatches(keys.duress, 1, '5827', null)).toBe(false);
    expect(normaliseDuress('123')).toBeNull();
  });
});
