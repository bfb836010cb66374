/** Small helpers shared by the benchmarks. */
export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i] as number;
}

export function summary(samples: number[]): { p50: number; p99: number; p999: number; max: number } {
  const s = [...samples].sort((a, b) => a - b);
  return { p50: percentile(s, 50), p99: percentile(s, 99), p999: percentile(s, 99.9), max: s[s.length - 1] ?? NaN };
}

export function fmt(n: number, digits = 2): string {
  return Number.isFinite(n) ? n.toFixed(digits) : 'n/a';
}

/** One line per figure: "name: value unit". */
export function figure(name: string, value: string | number, unit = ''): void {
  process.stdout.write(`${name}: ${value}${unit ? ' ' + unit : ''}\n`);
}

/**
 * Seeds a benchmark's database: what is seeded is not what is measured, so its commits need
 * not wait for the disk. Durable commits (synchronous=FULL) again afterwards.
 */
export async function seed(db: { pragma(source: string): unknown }, fn: () => Promise<void>): Promise<void> {
  db.pragma('synchronous = OFF');
  try {
    await fn();
  } finally {
    db.pragma('synchronous = FULL');
  }
}
