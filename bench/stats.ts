import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';

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

/**
 * Starts a simulator in a process of its own (its CPU time is not the service's): `script`
 * sends `{ url }` over the IPC channel once it listens. Rejects when it exits first.
 */
export async function startSimulator(script: string, args: string[], what: string): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, ['bin/run-ts.js', script, ...args], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const url = await new Promise<string>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`the ${what} exited (${code})`)));
    child.once('message', (m) => resolve((m as { url: string }).url));
  });
  child.removeAllListeners('exit');
  return { child, url };
}
