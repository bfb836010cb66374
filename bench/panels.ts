import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { loadConfig } from '../src/config.ts';
import { createLogger } from '../src/logger.ts';
import { startService } from '../src/main.ts';
import { buildFrame } from '../src/panels/dc09.ts';
import { SmscSim } from '../test/sim/smsc.ts';
import { figure, fmt, summary } from './stats.ts';

/**
 * The DC-09 receiver in the running service (SQLite on disk, durable commits): 1,000 panels on
 * TCP connections of their own, half of them encrypted, each sending its next frame when the
 * last was acknowledged, as communicators do; then panels' burglaries timed until their SMS
 * reaches the SMSC. The first load runs the panels flat out (the receiver's capacity); the
 * second offers a set rate (the latency a panel sees). The panels and the SMSC run in this process beside the service, so the
 * figures include their CPU time too.
 */

const PANELS = 1_000;
const KEY = '2b7e151628aed2a6abf7158809cf4f3c';
const LOAD_MS = 10_000;
const ALARMS = 200;
const ALARMS_PER_S = 20;

/** One panel's TCP connection: a frame out, the answer (up to CR) back. */
class PanelLink {
  private buf = '';
  private waiting: ((answer: string) => void) | null = null;
  private seq = 0;
  private constructor(private readonly socket: net.Socket, readonly account: string, readonly key: string | undefined) {
    socket.setNoDelay(true);
    socket.on('data', (d) => {
      this.buf += d.toString('latin1');
      const cr = this.buf.indexOf('\r');
      if (cr < 0) return;
      const answer = this.buf.slice(0, cr + 1);
      this.buf = this.buf.slice(cr + 1);
      const w = this.waiting;
      this.waiting = null;
      w?.(answer);
    });
  }

  static open(port: number, account: string, key?: string): Promise<PanelLink> {
    return new Promise((resolve, reject) => {
      const s = net.connect(port, '127.0.0.1', () => resolve(new PanelLink(s, account, key)));
      s.once('error', reject);
    });
  }

  /** Sends one frame; resolves with the answer's token and how long it took (ms). */
  async send(token: 'NULL' | 'ADM-CID', data?: string): Promise<{ answer: string; ms: number }> {
    this.seq = (this.seq % 9999) + 1;
    const bytes = buildFrame({ token, seq: this.seq, line: '1', account: this.account, data: data ?? '', timestamp: new Date(), ...(this.key ? { key: this.key } : {}) });
    const t0 = performance.now();
    const answer = await new Promise<string>((resolve) => {
      this.waiting = resolve;
      this.socket.write(bytes);
    });
    const ms = performance.now() - t0;
    const token2 = /"\*?(ACK|NAK|DUH)"/.exec(answer)?.[1] ?? '?';
    return { answer: token2, ms };
  }

  close(): void {
    this.socket.destroy();
  }
}

const accountOf = (i: number): string => String(10_000 + i);
const phoneOf = (i: number): string => `+7702${String(i).padStart(7, '0')}`;

export async function benchPanels(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'zhedel-bench-panels-'));
  const smsc = await SmscSim.start({ systemId: 'zhedel', password: 'secret' });
  const config = loadConfig({
    ZHEDEL_DB: join(dir, 'zhedel.db'), ZHEDEL_SECRET: 'bench-secret-'.repeat(4), ZHEDEL_HTTP_PORT: '0',
    ZHEDEL_SMPP_URL: smsc.url, ZHEDEL_SMPP_SYSTEM_ID: 'zhedel', ZHEDEL_SMPP_PASSWORD: 'secret', ZHEDEL_SMPP_TPS: '0', ZHEDEL_SMPP_WINDOW: '50',
    ZHEDEL_ARI_URL: 'http://127.0.0.1:1', ZHEDEL_AMI_PORT: '1', ZHEDEL_ALARM_GROUP_S: '0',
    ZHEDEL_DC09_PORT: '0', ZHEDEL_DC09_HOST: '127.0.0.1', ZHEDEL_DC09_MAX_PER_ADDRESS: String(PANELS * 2),
  });
  const svc = await startService(config, createLogger('silent', new Writable({ write: (_c, _e, cb) => cb() })));
  const links: PanelLink[] = [];
  try {
    const { core } = svc.ctx;
    const t0 = Date.now();
    for (let i = 0; i < PANELS; i++) {
      const c = await core.addClient({ name: `Shop ${i}`, lang: 'ru', services: [], operator: 'bench' });
      await core.addObject({ clientId: c.id, code: String(300_000 + i), address: `Абая ${i}`, operator: 'bench', panel: { account: accountOf(i), key: i % 2 === 0 ? KEY : null } });
      await core.addNumber({ clientId: c.id, phone: phoneOf(i), signed: true, operator: 'bench' });
    }
    figure('seeded 1,000 objects with panel accounts (half encrypted) and a number each', fmt((Date.now() - t0) / 1000, 1), 's');
    await svc.panels!.refresh();
    const port = svc.panels!.address().port;
    for (let i = 0; i < PANELS; i++) links.push(await PanelLink.open(port, accountOf(i), i % 2 === 0 ? KEY : undefined));
    figure('panels connected over TCP at once', svc.panels!.stats.connections);

    // steady traffic: each panel sends its next frame once the last was acknowledged
    const acks: number[] = [];
    let refused = 0;
    const until = Date.now() + LOAD_MS;
    const heapBefore = process.memoryUsage().heapUsed;
    await Promise.all(links.map(async (l, i) => {
      for (let n = 0; Date.now() < until; n++) {
        const pick = (n + i) % 10;
        const r = pick < 6 ? await l.send('NULL')
          : pick < 8 ? await l.send('ADM-CID', `#${l.account}|1602 00 000`)
            : await l.send('ADM-CID', `#${l.account}|${pick === 8 ? '1' : '3'}401 01 002`);
        if (r.answer === 'ACK') acks.push(r.ms);
        else refused++;
      }
    }));
    const st = summary(acks);
    figure(`frames acknowledged in ${LOAD_MS / 1000} s by 1,000 panels (60% link tests, 20% periodic tests, 20% openings/closings)`, acks.length);
    figure('frames acknowledged per second', fmt(acks.length / (LOAD_MS / 1000), 0), 'frames/s');
    figure('ACK latency p50 / p99 / max', `${fmt(st.p50, 1)} / ${fmt(st.p99, 1)} / ${fmt(st.max, 1)}`, 'ms');
    figure('frames not acknowledged (NAK or DUH)', refused);
    figure('heap growth over the load (this process: service, panels and SMSC)', fmt((process.memoryUsage().heapUsed - heapBefore) / 1048576, 1), 'MiB');
    await svc.panels!.flush();

    // the same mix offered at a set rate: each panel one frame a second (1,000 frames/s in all)
    const paced: number[] = [];
    const pacedEnd = Date.now() + 5_000;
    await Promise.all(links.map(async (l, i) => {
      await new Promise((r) => setTimeout(r, (i * 997) % 1000));
      for (let n = 0; Date.now() < pacedEnd; n++) {
        const next = Date.now() + 1000;
        const r = (n + i) % 5 === 0 ? await l.send('ADM-CID', `#${l.account}|1602 00 000`) : await l.send('NULL');
        if (r.answer === 'ACK') paced.push(r.ms);
        await new Promise((res) => setTimeout(res, Math.max(0, next - Date.now())));
      }
    }));
    const ps = summary(paced);
    figure('1,000 frames/s offered (each panel one a second, 20% periodic tests): ACK p50 / p99 / max', `${fmt(ps.p50, 1)} / ${fmt(ps.p99, 1)} / ${fmt(ps.max, 1)}`, 'ms');
    await svc.panels!.flush();

    // alarms: a burglary from 200 panels at a steady rate, timed until its SMS is at the SMSC
    await new Promise<void>((resolve) => {
      const poll = (): void => {
        void core.listOutbox({ limit: 1000 }).then((rows) => (rows.every((m) => m.state !== 'queued' && m.state !== 'sending') ? resolve() : setTimeout(poll, 50)));
      };
      poll();
    });
    const sentAt = new Map<string, number>();
    const before = smsc.submits.length;
    const alarmAcks: Array<Promise<unknown>> = [];
    for (let k = 0; k < ALARMS; k++) {
      const i = k * Math.floor(PANELS / ALARMS);
      const l = links[i]!;
      sentAt.set(phoneOf(i).slice(1), Date.now());
      alarmAcks.push(l.send('ADM-CID', `#${l.account}|1130 01 003`));
      await new Promise((r) => setTimeout(r, 1000 / ALARMS_PER_S));
    }
    await Promise.all(alarmAcks);
    const deadline = Date.now() + 60_000;
    const alarmSubmits = (): number => smsc.submits.slice(before).filter((s) => (s.text ?? '').startsWith('ТРЕВОГА')).length;
    while (alarmSubmits() < ALARMS && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    const lat: number[] = [];
    for (const s of smsc.submits.slice(before)) {
      const at = sentAt.get(s.destination.addr);
      if (at !== undefined && (s.text ?? '').startsWith('ТРЕВОГА')) lat.push(s.at - at);
    }
    const al = summary(lat);
    figure(`panel burglary (encrypted and clear, ${ALARMS_PER_S}/s) → alarm SMS at the SMSC, over ${lat.length} of ${ALARMS} alarms, p50 / p99 / max`, `${fmt(al.p50, 1)} / ${fmt(al.p99, 1)} / ${fmt(al.max, 1)}`, 'ms');
    figure('target: panel → SMS at the SMSC p99 under 1 s', lat.length === ALARMS && al.p99 < 1000 ? 'met' : 'MISSED');
    figure('service memory after the run: rss / heap used', `${fmt(process.memoryUsage().rss / 1048576, 0)} / ${fmt(process.memoryUsage().heapUsed / 1048576, 0)}`, 'MiB');
  } finally {
    for (const l of links) l.close();
    await svc.stop('bench finished');
    await smsc.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
