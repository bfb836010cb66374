import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import type { Config } from '../src/config.ts';
import { loadConfig } from '../src/config.ts';
import { buildApp } from '../src/http/build-app.ts';
import { createLogger } from '../src/logger.ts';
import { openCore } from '../src/main.ts';
import { figure, fmt } from './stats.ts';

/** Authenticated GET /v1/objects under load, and SSE fan-out to 1,000 clients, on loopback. */
export async function benchHttp(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'zhedel-bench-http-'));
  const config: Config = loadConfig({ ZHEDEL_DB: join(dir, 'http.db'), ZHEDEL_SECRET: 'bench-secret-'.repeat(4) });
  const ctx = await openCore(config);
  const app = await buildApp({
    logger: createLogger('silent'), checks: [], core: ctx.core, access: ctx.access, hub: ctx.events, metrics: ctx.metrics, rateLimitPerMinute: 0,
  });
  try {
    const c = await ctx.core.addClient({ name: 'Bench', lang: 'ru', operator: 'bench' });
    for (const code of ['1001', '1002', '1003']) await ctx.core.addObject({ clientId: c.id, code, address: `Street ${code}`, operator: 'bench' });
    await ctx.core.addNumber({ clientId: c.id, phone: '+77011234567', signed: true, operator: 'bench' });
    await ctx.core.requestSignIn({ channel: 'app', phone: '+77011234567' });
    const code = /(\d{6})/.exec((await ctx.core.listOutbox({ limit: 1, reveal: true }))[0]?.text ?? '')?.[1] ?? '';
    const session = await ctx.access.verifySignIn({ channel: 'app', phone: '+77011234567', code });
    if (session.kind !== 'session') throw new Error('sign-in failed');
    const address = await app.listen({ host: '127.0.0.1', port: 0 });

    const result = await autocannon({ url: `${address}/v1/objects`, connections: 20, duration: 10, headers: { authorization: `Bearer ${session.token}` } });
    figure('HTTP authenticated GET /v1/objects', fmt(result.requests.average, 0), 'req/s');
    figure('HTTP authenticated GET /v1/objects latency p50 / p99', `${result.latency.p50} / ${result.latency.p99}`, 'ms');
    figure('HTTP non-2xx responses', result.non2xx);

    // SSE fan-out: 1,000 streams, one status change, time until the last stream has it.
    const url = new URL(`${address}/v1/events`);
    const N = 1_000;
    let connected = 0;
    let received = 0;
    let lastAt = 0;
    const reqs: Array<ReturnType<typeof request>> = [];
    await new Promise<void>((resolve, reject) => {
      for (let i = 0; i < N; i++) {
        const r = request({ host: url.hostname, port: url.port, path: url.pathname, headers: { authorization: `Bearer ${session.token}` }, agent: false }, (res) => {
          let buf = '';
          let got = false;
          res.on('data', (d: Buffer) => {
            buf += d.toString();
            if (buf.includes('event: hello') && !buf.includes('hello-counted')) {
              buf += 'hello-counted';
              connected++;
              if (connected === N) resolve();
            }
            if (!got && buf.includes('"status":"armed"')) {
              got = true;
              received++;
              lastAt = performance.now();
            }
          });
        });
        r.on('error', reject);
        r.end();
        reqs.push(r);
      }
    });
    const t0 = performance.now();
    await ctx.core.operatorRequest({ action: 'arm', objectCode: '1001', operator: 'bench' });
    const start = Date.now();
    while (received < N && Date.now() - start < 10_000) await new Promise((r) => setTimeout(r, 5));
    figure(`SSE fan-out of one status change to ${N} connected clients`, `${fmt(lastAt - t0, 1)} ms (${received}/${N} received)`);
    for (const r of reqs) r.destroy();
  } finally {
    await app.close();
    await ctx.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
