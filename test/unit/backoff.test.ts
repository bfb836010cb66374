import { describe, expect, it } from 'vitest';
import { backoffDelay } from '../../src/domain/backoff.ts';

const STEPS = [1_000, 5_000, 15_000, 30_000];

describe('reconnect backoff', () => {
  it.each([
    // attempt, random, delay
    [0, 0.5, 1_000],
    [1, 0.5, 5_000],
    [2, 0.5, 15_000],
    [3, 0.5, 30_000],
    [9, 0.5, 30_000],
    [0, 0, 800],
    [0, 0.999_999, 1_200],
    [1, 0, 4_000],
    [3, 0.25, 27_000],
  ])('attempt %i with random %d waits %i ms', (attempt, r, ms) => {
    expect(backoffDelay(attempt, STEPS, () => r)).toBe(ms);
  });

  it('stays within ±20 % of the step', () => {
    for (let i = 0; i < 200; i++) {
      const d = backoffDelay(2, STEPS, Math.random);
      expect(d).toBeGreaterThanOrEqual(12_000);
      expect(d).toBeLessThanOrEqual(18_000);
    }
  });

  it.each([
    [{ jitter: 0 }, 0.9, 15_000],
    [{ jitter: 0.5 }, 0, 7_500],
    [{ jitter: 0.5 }, 0.999_999, 22_500],
  ])('jitter %j with random %d', (o, r, ms) => {
    expect(backoffDelay(2, STEPS, () => r, o)).toBe(ms);
  });

  it('waits the fallback with no steps', () => {
    expect(backoffDelay(0, [], () => 0.5)).toBe(30_000);
    expect(backoffDelay(4, [], () => 0.5, { fallbackMs: 2_000 })).toBe(2_000);
  });
});
