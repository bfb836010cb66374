import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.ts';
import { createLogger } from '../../src/logger.ts';
import { startService } from '../../src/main.ts';
import type { RunningService } from '../../src/main.ts';
import { TEST_SECRET, tempDir } from '../support/core-fixture.ts';
import { zhedel } from '../support/cli.ts';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()?.();
});

describe('event stream revocation across processes', () => {
  it('a number blocked by the command line ends its open event stream within a second', async () => {
    const dir = tempDir();
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const env = {
      ZHEDEL_DB: join(dir, 'zhedel.db'), ZHEDEL_SECRET: TEST_SECRET, ZHEDEL_HTTP_PORT: '0',
      // nothing listens on these: the service runs without them
      ZHEDEL_SMPP_URL: 'smpp://127.0.0.1:1', ZHEDEL_ARI_URL: 'http://127.0.0.1:1', ZHEDEL_AMI_PORT: '1',
    };
    const sink = new Writable({ write(_chunk, _e, cb) { cb(); } });
    const svc: RunningService = await startService(loadConfig(env), createLogger('warn', sink));
    cleanups.push(() => svc.stop('test'));
    const { core, access } = svc.ctx;
    const client = await core.addClient({ name: 'Test Client', balance: 0, operator: 'op' });
    await core.addObject({ clientId: client.id, code: '4021', address: 'Almaty', calloutEnabled: false, operator: 'op' });
    await core.addNumber({ clientId: client.id, phone: '+77015551234', objectCodes: null, signed: true, operator: 'op' });
    await core.requestSignIn({ channel: 'app', phone: '+77015551234' });
    const sms = (await core.listOutbox({ limit: 10, reveal: true })).find((m) => m.kind === 'otp');
    const code = /(\d{6})/.exec(sms?.text ?? '')?.[1] ?? '';
    const signed = await access.verifySignIn({ channel: 'app', phone: '+77015551234', code });
    if (signed.kind !== 'session') throw new Error(`sign-in refused: ${signed.reason}`);

    const ctl = new AbortController();
    cleanups.push(() => ctl.abort());
    const res = await fetch(`${svc.address}/v1/events`, { headers: { authorization: `Bearer ${signed.token}` }, signal: ctl.signal });
    expect(res.status).toBe(200);
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    let text = '';
    let ended = false;
    const readUntil = async (needle: string, ms: number): Promise<number> => {
      const start = Date.now();
      while (!text.includes(needle) && !ended) {
        const left = ms - (Date.now() - start);
        if (left <= 0) throw new Error(`no "${needle}" within ${ms} ms: ${text}`);
        const chunk = await Promise.race([reader.read(), new Promise<null>((resolve) => setTimeout(() => resolve(null), left))]);
        if (chunk === null) continue;
        if (chunk.done) ended = true;
        else text += new TextDecoder().decode(chunk.value);
      }
      if (!text.includes(needle)) throw new Error(`the stream ended without "${needle}": ${text}`);
      return Date.now() - start;
    };
    await readUntil('event: hello', 10_000);

    // the block is made by another process, on the same database
    const blocked = await zhedel(['number', 'block', '--phone', '87015551234', '--reason', 'stolen'], env, 60_000);
    expect(blocked.code).toBe(0);
    // the CLI has committed when it exits: the stream must end within about a second of that
    const took = await readUntil('event: revoked', 10_000);
    expect(took).toBeLessThan(5_000); // checked every 250 ms; the 15 s heartbeat would miss this bound, a busy machine would not
    // and it really ends
    while (!ended) {
      const chunk = await reader.read();
      if (chunk.done) ended = true;
    }
    expect(ended).toBe(true);
    expect((await fetch(`${svc.address}/v1/objects`, { headers: { authorization: `Bearer ${signed.token}` } })).status).toBe(401);
  }, 90_000);
});
