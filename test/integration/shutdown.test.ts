import { spawn } from 'node:child_process';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openDb } from '../../src/store/db.ts';
import { AsteriskSim } from '../sim/asterisk.ts';
import { SmscSim } from '../sim/smsc.ts';
import { tempDir } from '../support/core-fixture.ts';
import { zhedel } from '../support/cli.ts';
import { findSecrets } from '../support/log-hygiene.ts';
import { until } from '../support/sms-harness.ts';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()?.();
});

function serve(env: Record<string, string>): { exit: Promise<number | null>; kill: (s: NodeJS.Signals) => void; out: () => string } {
  const child = spawn(process.execPath, ['bin/zhedel.js', 'serve'], { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
  child.stderr.on('data', (d: Buffer) => { out += d.toString(); });
  const exit = new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
  cleanups.push(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  return { exit, kill: (s) => child.kill(s), out: () => out };
}

describe('graceful shutdown', () => {
  it('SIGTERM under load: the call in progress ends, SMS in flight are answered, nothing confirmed is lost; a restart sends the rest', async () => {
    const dir = tempDir();
    const db = join(dir, 'zhedel.db');
    const smsc = await SmscSim.start({ systemId: 'zhedel', password: 'secret', behaviour: { responseDelayMs: 30 } });
    cleanups.push(() => smsc.close());
    const ast = await AsteriskSim.start({ user: 'zhedel', password: 'secret', playbackMs: 200 });
    cleanups.push(() => ast.close());
    const env = {
      ZHEDEL_DB: db, ZHEDEL_SECRET: 's'.repeat(40), ZHEDEL_HTTP_PORT: '0', ZHEDEL_SMPP_URL: smsc.url, ZHEDEL_SMPP_SYSTEM_ID: 'zhedel',
      ZHEDEL_SMPP_PASSWORD: 'secret', ZHEDEL_SMPP_TPS: '200', ZHEDEL_ARI_URL: ast.url, ZHEDEL_ARI_PASSWORD: 'secret', ZHEDEL_AMI_PORT: '1',
    };
    expect((await zhedel(['client', 'add', '--name', 'A', '--lang', 'ru'], env)).code).toBe(0);
    await zhedel(['object', 'add', '--client', '1', '--code', '1234', '--address', 'x'], env);
    await zhedel(['number', 'add', '--client', '1', '--phone', '87011234567', '--signed'], env);
    const seed = openDb(db);
    seed.transaction(() => {
      const ins = seed.prepare(`INSERT INTO outbox (priority, kind, phone, client_id, body, secret, state, created_at, not_before, updated_at)
        VALUES (2, 'notice', '+77011234567', 1, ?, 0, 'queued', ?, ?, ?)`);
      const now = new Date().toISOString();
      for (let i = 0; i < 600; i++) ins.run(`notice ${i}`, now, now, now);
    })();
    seed.close();

    const first = serve(env);
    await until(() => ast.connectedApps().includes('zhedel') && smsc.submits.length > 20, 20_000, 'service busy');
    const call = ast.call({ number: '87011234567' });
    await call.waitForPrompt('welcome', 5_000);
    first.kill('SIGTERM');
    expect(await first.exit).toBe(0);
    await call.waitForEnd(5_000);
    expect(first.out()).toContain('"msg":"stopped"');

    // what the SMSC acknowledged is recorded as submitted; nothing is left "sending"
    const after = openDb(db);
    const states = after.prepare('SELECT state, COUNT(*) AS n FROM outbox GROUP BY state').all() as Array<{ state: string; n: number }>;
    after.close();
    expect(states.find((s) => s.state === 'sending')).toBeUndefined();
    const acked = smsc.submits.filter((s) => s.answered === 0).length;
    const submitted = states.find((s) => s.state === 'submitted')?.n ?? 0;
    expect(submitted).toBe(acked);
    expect(submitted).toBeLessThan(600);

    const second = serve(env);
    await until(() => new Set(smsc.submits.filter((s) => s.answered === 0).map((s) => s.text)).size === 600, 30_000, 'the rest sent after restart');
    const count = new Map<string, number>();
    for (const s of smsc.submits) if (s.answered === 0) count.set(s.text ?? '', (count.get(s.text ?? '') ?? 0) + 1);
    expect([...count.values()].every((n) => n === 1)).toBe(true); // never sent twice
    second.kill('SIGTERM');
    expect(await second.exit).toBe(0);
    expect(findSecrets(first.out() + second.out())).toEqual([]);
    expect(first.out() + second.out()).not.toMatch(/"level":(50|60)/);
  }, 90_000);

  it('a second signal exits at once', async () => {
    const dir = tempDir();
    const p = serve({ ZHEDEL_DB: join(dir, 'z.db'), ZHEDEL_HTTP_PORT: '0', ZHEDEL_SMPP_URL: 'smpp://127.0.0.1:1', ZHEDEL_ARI_URL: 'http://127.0.0.1:1', ZHEDEL_AMI_PORT: '1' });
    await until(() => p.out().includes('http listening'), 15_000, 'started');
    p.kill('SIGTERM');
    p.kill('SIGINT');
    expect(await p.exit).not.toBeNull();
  });
});

describe('backup and restore', () => {
  it('backs up online, restores with checks, and refuses to restore under a running service', async () => {
    const dir = tempDir();
    const env = { ZHEDEL_DB: join(dir, 'live', 'zhedel.db'), ZHEDEL_SECRET: 's'.repeat(40) };
    await zhedel(['client', 'add', '--name', 'A'], env);
    await zhedel(['object', 'add', '--client', '1', '--code', '1234', '--address', 'x'], env);
    const b = await zhedel(['backup', '--to', join(dir, 'copy.db')], env);
    expect(b.stdout).toContain('integrity ok');
    // the data folder, the database and the copy are for the service's user only
    const mode = (p: string): string => (statSync(p).mode & 0o777).toString(8);
    expect([mode(join(dir, 'live')), mode(join(dir, 'live', 'zhedel.db')), mode(join(dir, 'copy.db'))]).toEqual(['700', '600', '600']);
    await zhedel(['arm', '--object', '1234'], env);
    const again = await zhedel(['backup', '--to', join(dir, 'copy.db')], env);
    expect(again.code).toBe(1); // never overwrites a file
    const r = await zhedel(['restore', '--from', join(dir, 'copy.db')], env);
    expect(r.stdout).toMatch(/integrity ok; journal intact \(\d+ records\); the previous database is kept as/);
    const kept = /kept as (\S+)/.exec(r.stdout)?.[1] as string;
    expect([mode(join(dir, 'live', 'zhedel.db')), mode(kept)]).toEqual(['600', '600']);
    expect((await zhedel(['status', '--object', '1234'], env)).stdout).toMatch(/1234\s+disarmed/);
    // a service runs on the data folder: restore refuses
    const svc = serve({ ...env, ZHEDEL_HTTP_PORT: '0', ZHEDEL_SMPP_URL: 'smpp://127.0.0.1:1', ZHEDEL_ARI_URL: 'http://127.0.0.1:1', ZHEDEL_AMI_PORT: '1' });
    await until(() => svc.out().includes('http listening'), 15_000, 'started');
    const refused = await zhedel(['restore', '--from', join(dir, 'copy.db')], env);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('stop it first');
    svc.kill('SIGTERM');
    await svc.exit;
  }, 60_000);
});
