/**
 * A child process playing one more instance on a database, for tests of several processes on
 * one file. Prints one line when done.
 * usage: instance-worker.ts DB HOLDER claim        claims SMS three at a time until the outbox
 *                                                  stays empty, settles each; prints the ids
 *        instance-worker.ts DB HOLDER hit KEY N    N hits of KEY (at most 25 per hour);
 *                                                  prints how many were allowed
 */
import { openStore } from '../../src/store/index.ts';

const [dbPath, holder, mode, key, count] = process.argv.slice(2);
if (!dbPath || !holder || (mode !== 'claim' && mode !== 'hit')) {
  process.stderr.write('usage: instance-worker.ts DB HOLDER claim | hit KEY N\n');
  process.exit(2);
}
const { store, outbox, admin, bus } = await openStore({ dbPath });
if (mode === 'claim') {
  const ids: number[] = [];
  for (let empty = 0; empty < 5;) {
    const now = new Date();
    const { claimed } = await outbox.claim(now.toISOString(), 3, holder, new Date(now.getTime() + 60_000).toISOString());
    if (claimed.length === 0) {
      empty++;
      await new Promise((r) => setTimeout(r, 5));
      continue;
    }
    empty = 0;
    ids.push(...claimed.map((m) => m.id));
    await outbox.record([], claimed.map((m) => ({ outboxId: m.id, state: 'submitted' as const, eraseBody: false, total: 1 })), new Date().toISOString(), holder);
  }
  process.stdout.write(`${ids.join(' ')}\n`);
} else {
  let allowed = 0;
  for (let i = 0; i < Number(count); i++) {
    if (await store.transaction((tx) => tx.rateHit([{ key: key as string, max: 25, windowMs: 3_600_000 }], new Date().toISOString()))) allowed++;
  }
  process.stdout.write(`${allowed}\n`);
}
await bus.close();
await admin.close();
