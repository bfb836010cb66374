/**
 * The delay before reconnect attempt `attempt` (0 for the first after a loss): the step of
 * `delaysMs` for that attempt (the last one repeats), spread by ±`jitter` so that many
 * clients do not come back at the same instant. Pure: the caller passes the random source
 * (uniform in [0, 1)).
 */
export function backoffDelay(
  attempt: number,
  delaysMs: readonly number[],
  random: () => number,
  o: { jitter?: number; fallbackMs?: number } = {},
): number {
  const jitter = o.jitter ?? 0.2;
  const base = delaysMs[Math.min(Math.max(attempt, 0), delaysMs.length - 1)] ?? o.fallbackMs ?? 30_000;
  return Math.round(base * (1 - jitter + random() * 2 * jitter));
}
