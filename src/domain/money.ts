import { AppError } from './errors.ts';

/** Money is kept in tiyn (1 KZT = 100 tiyn) as integers. */
export function parseKzt(input: string | number): number {
  const s = typeof input === 'number' ? String(input) : input.trim();
  if (!/^\d{1,12}(\.\d{1,2})?$/.test(s)) {
    throw new AppError('BAD_AMOUNT', `amount must be a positive number of tenge with at most 2 decimals: ${String(input).slice(0, 20)}`);
  }
  const [whole, frac = ''] = s.split('.');
  const tiyn = Number(whole) * 100 + Number(frac.padEnd(2, '0'));
  if (!Number.isSafeInteger(tiyn) || tiyn <= 0) {
    throw new AppError('BAD_AMOUNT', 'amount must be greater than zero');
  }
  return tiyn;
}

export function formatKzt(tiyn: number): string {
  const sign = tiyn < 0 ? '-' : '';
  const abs = Math.abs(tiyn);
  const whole = Math.floor(abs / 100);
  const frac = abs % 100;
  return `${sign}${whole}${frac ? '.' + String(frac).padStart(2, '0') : ''}`;
}
