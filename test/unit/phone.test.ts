import { describe, expect, it } from 'vitest';
import { maskPhone, parseMobile, parsePhone, tryParsePhone } from '../../src/domain/phone.ts';

describe('parsePhone', () => {
  it.each([
    ['+7 701 123 45 67', '+77011234567', 'mobile'],
    ['87011234567', '+77011234567', 'mobile'],
    ['77011234567', '+77011234567', 'mobile'],
    ['(701) 123-45-67', '+77011234567', 'mobile'],
    ['8 (701) 123-45-67', '+77011234567', 'mobile'],
    ['+7-777-000-11-22', '+77770001122', 'mobile'],
    ['7011234567', '+77011234567', 'mobile'],
    ['  +77471234567 ', '+77471234567', 'mobile'],
    ['8 727 250 00 00', '+77272500000', 'fixed'],
    ['+7 7172 55 55 55', '+77172555555', 'fixed'],
  ])('accepts %s', (input, e164, kind) => {
    expect(parsePhone(input)).toEqual({ e164, kind });
  });

  it.each([
    ['', 'empty'],
    ['123', 'not a Kazakhstan number'],
    ['+7 916 123 45 67', 'not a Kazakhstan number'], // Russia
    ['+44 20 7946 0958', 'not a Kazakhstan number'],
    ['89161234567', 'not a Kazakhstan number'],
    ['+7 790 123 45 67', 'not a Kazakhstan mobile or fixed'],
    ['+7701123456', 'not a Kazakhstan number'],
    ['+770112345678', 'not a Kazakhstan number'],
    ['7701abc4567', 'not a phone number'],
    ['++77011234567', 'not a phone number'],
    ['+7701+1234567', 'not a phone number'],
  ])('rejects %j', (input, msg) => {
    expect(() => parsePhone(input)).toThrow(msg);
  });

  it('errors carry the BAD_PHONE code', () => {
    try {
      parsePhone('12');
      expect.unreachable();
    } catch (e) {
      expect((e as { code: string }).code).toBe('BAD_PHONE');
    }
  });

  it('trusted numbers must be mobile', () => {
    expect(parseMobile('87011234567')).toBe('+77011234567');
    expect(() => parseMobile('87272500000')).toThrow('not a mobile number');
  });

  it('tryParsePhone never throws', () => {
    expect(tryParsePhone(undefined)).toBeNull();
    expect(tryParsePhone('anonymous')).toBeNull();
    expect(tryParsePhone('7701 123 4567')?.e164).toBe('+77011234567');
  });

  it('masks numbers for logs', () => {
    expect(maskPhone('+77011234567')).toBe('+7701*****67');
  });
});
