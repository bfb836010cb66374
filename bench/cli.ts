import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Core } from '../src/core/core.ts';
import { cryptoRandom, systemClock } from '../src/core/system.ts';
import { deriveKeys } from '../src/domain/crypto.ts';
import { openDb } from '../src/store/db.ts';
import { SqliteStore } from '../src/store/sqlite-store.ts';
import { ensureBuilt } from '../scripts/test-prereqs.mjs';
import { figure, fmt } from './stats.ts';

const SECRET = 'bench-secret-0123456789-abcdefghijklmnopqrstuvwxyz';
const RUNS = 10;
const TARGET = 2.5;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

/** Wall time of one process, start to exit, in ms. */
function wall(args: string[], env: NodeJS.ProcessEnv): number {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
  const ms = performance.now() - t0;
  if (r.status !== 0) throw new Error(`${args.join(' ')} exited ${r.status}: ${r.stderr.toString()}`);
  return ms;
}

/**
 * Start-up cost of the compiled command line: `zhedel status`, `zhedel --help` and
 * `zhedel journal --verify` on a 10,000-record journal, median wall time of 10 runs each,
 * against `node -e 0` measured in the same run (interleaved, so load on the machine hits all alike).
 */
export async function benchCli(): Promise<void> {
  await ensureBuilt();
  const dir = mkdtempSync(join(tmpdir(), 'zhedel-bench-cli-'));
  const dbPath = join(dir, 'zhedel.db');
  try {
    const db = openDb(dbPath);
    const core = new Core({ store: new SqliteStore(db), clock: systemClock, random: cryptoRandom, keys: deriveKeys(SECRET), timeZone: 'Asia/Almaty' });
    const client = await core.addClient({ name: 'Бенч Клиент', operator: 'bench' });
    await core.addObject({ clientId: client.id, code: '4711', address: 'Алматы', operator: 'bench' });
    await core.addNumber({ clientId: client.id, phone: '+77015550101', signed: true, operator: 'bench' });
    for (let i = 0; i < 10_000; i++) await core.request({ channel: 'sms', phone: '+77015550101', action: 'status' });
    const records = (await core.verifyJournal()).checked;
    db.close();

    const env = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ZHEDEL_DB: dbPath };
    const cases: Array<[string, string[]]> = [
      ['node -e 0', ['-e', '0']],
      ['zhedel status', ['bin/zhedel.js', 'status']],
      ['zhedel --help', ['bin/zhedel.js', '--help']],
      ['zhedel journal --verify', ['bin/zhedel.js', 'journal', '--verify']],
    ];
    const times = new Map<string, number[]>(cases.map(([n]) => [n, []]));
    for (const [, args] of cases) wall(args, env); // warm the file cache
    for (let i = 0; i < RUNS; i++) for (const [name, args] of cases) times.get(name)?.push(wall(args, env));
    const base = median(times.get('node -e 0') ?? []);
    figure('cli journal records', records);
    figure('cli node -e 0 median', fmt(base, 1), 'ms');
    for (const [name] of cases.slice(1)) {
      const m = median(times.get(name) ?? []);
      const ratio = m / base;
      figure(`cli ${name} median`, `${fmt(m, 1)} ms = ${fmt(ratio)}× node -e 0 (ceiling ${TARGET}×)${ratio <= TARGET ? '' : ' OVER'}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
