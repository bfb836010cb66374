/**
 * At most `max` hits per key in any sliding window of `windowMs`; a refused hit does not
 * count. Pure: the caller passes the time. The keys are bounded: past `maxKeys`, either
 * every key is forgotten (`clear`) or the keys with no hit left in the window are
 * (`drop-idle`).
 */
export class SlidingWindowLimiter {
  private readonly hits = new Map<string, number[]>();

  constructor(private readonly o: { max: number; windowMs: number; maxKeys: number; overflow: 'clear' | 'drop-idle' }) {}

  /** Counts a hit at `now` (ms) and says whether it is allowed. */
  take(key: string, now: number): boolean {
    const { max, windowMs } = this.o;
    const times = (this.hits.get(key) ?? []).filter((t) => now - t < windowMs);
    if (times.length >= max) {
      this.hits.set(key, times);
      return false;
    }
    times.push(now);
    this.hits.set(key, times);
    if (this.hits.size > this.o.maxKeys) {
      if (this.o.overflow === 'clear') {
        this.hits.clear();
      } else {
        for (const [k, v] of this.hits) if (v.every((t) => now - t >= windowMs)) this.hits.delete(k);
      }
    }
    return true;
  }

  /** How many keys are remembered. */
  get size(): number {
    return this.hits.size;
  }
}
