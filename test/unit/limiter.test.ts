import { describe, expect, it } from 'vitest';
import { SlidingWindowLimiter } from '../../src/domain/limiter.ts';

/** Hits as [key, time]; the expected answers in order. */
type Case = [string, { max: number; windowMs: number }, Array<[string, number]>, boolean[]];

const cases: Case[] = [
  ['allows up to max in a window', { max: 3, windowMs: 1_000 }, [['a', 0], ['a', 10], ['a', 20], ['a', 30]], [true, true, true, false]],
  ['keys are counted apart', { max: 1, windowMs: 1_000 }, [['a', 0], ['b', 0], ['a', 1], ['b', 1]], [true, true, false, false]],
  ['the window slides from each hit', { max: 2, windowMs: 1_000 }, [['a', 0], ['a', 500], ['a', 999], ['a', 1_000], ['a', 1_200], ['a', 1_500]], [true, true, false, true, false, true]],
  ['refused hits do not count', { max: 1, windowMs: 100 }, [['a', 0], ['a', 50], ['a', 99], ['a', 100]], [true, false, false, true]],
  ['a hit exactly windowMs later is outside', { max: 1, windowMs: 100 }, [['a', 0], ['a', 100], ['a', 199], ['a', 200]], [true, true, false, true]],
];

describe('sliding window limiter', () => {
  it.each(cases)('%s', (_name, o, hits, expected) => {
    const l = new SlidingWindowLimiter({ ...o, maxKeys: 1_000, overflow: 'clear' });
    expect(hits.map(([k, t]) => l.take(k, t))).toEqual(expected);
  });

  it('forgets every key past maxKeys with clear', () => {
    const l = new SlidingWindowLimiter({ max: 1, windowMs: 1_000, maxKeys: 2, overflow: 'clear' });
    expect([l.take('a', 0), l.take('b', 0), l.take('c', 0)]).toEqual([true, true, true]);
    expect(l.size).toBe(0);
    expect(l.take('a', 1)).toBe(true);
  });

  it('forgets only idle keys past maxKeys with drop-idle', () => {
    const l = new SlidingWindowLimiter({ max: 1, windowMs: 100, maxKeys: 2, overflow: 'drop-idle' });
    expect([l.take('a', 0), l.take('b', 50), l.take('c', 120)]).toEqual([true, true, true]);
    expect(l.size).toBe(2);
    expect(l.take('b', 140)).toBe(false);
    expect(l.take('a', 140)).toBe(true);
  });
});
