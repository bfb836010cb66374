import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../support/core-fixture.ts';
import { PanelSimulator } from '../sim/panel.ts';

describe('zhedel serve', () => {
  it('starts on the defaults with no Asterisk or SMSC, answers /health, stops on SIGTERM', async () => {
    const dir = tempDir();
    const child = spawn(process.execPath, ['bin/zhedel.js', 'serve'], {
      env: {
        PATH: process.env.PATH ?? '', ZHEDEL_DB: join(dir, 'zhedel.db'), ZHEDEL_HTTP_PORT: '0',
        // nothing listens on these: the service must start anyway
        ZHEDEL_SMPP_URL: 'smpp://127.0.0.1:1', ZHEDEL_ARI_URL: 'http://127.0.0.1:1',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    const address = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no listening line in: ${out}`)), 15_000);
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        const m = /"address":"(http:\/\/[^"]+)"/.exec(out);
        if (m) {
          clearTimeout(timer);
          resolve(m[1] as string);
        }
      });
      child.on('exit', (code) => reject(new Error(`exited early with ${code}: ${out}`)));
    });
    expect(address).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const health = await fetch(`${address}/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: 'ok' });
    const ready = await fetch(`${address}/ready`);
    const body = (await ready.json()) as { checks: Record<string, { ok: boolean }> };
    expect(body.checks.database?.ok).toBe(true);
    const code = await new Promise<number | null>((resolve) => {
      child.on('exit', (c) => resolve(c));
      child.kill('SIGTERM');
    });
    expect(code).toBe(0);
    expect(out).toContain('"msg":"stopped"');
  });

  it('with ZHEDEL_DC09_PORT it also listens for alarm panels, and answers their frames', async () => {
    const dir = tempDir();
    const child = spawn(process.execPath, ['bin/zhedel.js', 'serve'], {
      env: {
        PATH: process.env.PATH ?? '', ZHEDEL_DB: join(dir, 'zhedel.db'), ZHEDEL_HTTP_PORT: '0', ZHEDEL_DC09_PORT: '0', ZHEDEL_DC09_HOST: '127.0.0.1',
        ZHEDEL_SMPP_URL: 'smpp://127.0.0.1:1', ZHEDEL_ARI_URL: 'http://127.0.0.1:1',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    const port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no DC-09 listening line in: ${out}`)), 15_000);
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        const m = /"port":(\d+),"msg":"DC-09 receiver listening/.exec(out);
        if (m) {
          clearTimeout(timer);
          resolve(Number(m[1]));
        }
      });
      child.on('exit', (code) => reject(new Error(`exited early with ${code}: ${out}`)));
    });
    for (const transport of ['tcp', 'udp'] as const) {
      const panel = new PanelSimulator({ host: '127.0.0.1', port, transport, account: '1234' });
      expect((await panel.send({ token: 'NULL' })).token).toBe('ACK');
      await panel.close();
    }
    const code = await new Promise<number | null>((resolve) => {
      child.on('exit', (c) => resolve(c));
      child.kill('SIGTERM');
    });
    expect(code).toBe(0);
    expect(out).toContain('"msg":"DC-09 receiver stopped"');
  });
});
