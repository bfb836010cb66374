import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { Core } from '../src/core/core.ts';
import { cryptoRandom, systemClock } from '../src/core/system.ts';
import { deriveKeys } from '../src/domain/crypto.ts';
import { Dispatcher } from '../src/sms/dispatcher.ts';
import { SmppSession } from '../src/sms/session.ts';
import { openDb } from '../src/store/db.ts';
import { OutboxStore } from '../src/store/outbox-store.ts';
import { SqliteStore } from '../src/store/sqlite-store.ts';
import { SmscSim } from '../test/sim/smsc.ts';
import { figure, fmt, seed, summary } from './stats.ts';

const silent = pino({ level: 'silent' });

function rig(dir: string, name: string, url: string) {
  const db = openDb(join(dir, `${name}.db`));
  let wake: () => void = () => undefined;
  const core = new Core({
    store: new SqliteStore(db), clock: systemClock, random: cryptoRandom, keys: deriveKeys('bench-secret-'.repeat(4)), timeZone: 'Asia/Almaty',
    outboxSignal: { queued: () => wake() }, alarmGroupMs: 0,
  });
  const outbox = new OutboxStore(db);
  const session = new SmppSession({ url, systemId: 'zhedel', password: 'secret', logger: silent, window: 50, tps: 0 });
  const dispatcher = new Dispatcher({ store: outbox, link: session, clock: systemClock, logger: silent, sender: 'ZHEDEL', openText: () => '' });
  session.on('bound', () => dispatcher.wake());
  wake = () => dispatcher.wake();
  return {
    db, core, outbox,
    start: async () => {
      session.start();
      await dispatcher.start();
    },
    close: async () => {
      await dispatcher.stop(5_000);
      await session.stop(1_000);
      db.close();
    },
  };
}

const phone = (i: number): string => `+7701${String(i).padStart(7, '0')}`;

/** Alarms from intake to the SMSC: latency for objects with five numbers, and a city-wide burst. */
export async function benchAlarms(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'zhedel-bench-alarms-'));
  const sim = await SmscSim.start({ systemId: 'zhedel', password: 'secret' });
  try {
    {
      const r = rig(dir, 'latency', sim.url);
      const N = 1_000;
      await seed(r.db, async () => {
        for (let i = 0; i < N; i++) {
          const c = await r.core.addClient({ name: `C${i}`, lang: 'ru', services: [], operator: 'bench' });
          await r.core.addObject({ clientId: c.id, code: String(100000 + i), address: `Улица ${i}`, operator: 'bench' });
          for (let k = 0; k < 5; k++) await r.core.addNumber({ clientId: c.id, phone: phone(i * 5 + k), signed: true, operator: 'bench' });
        }
      });
      await r.start();
      await new Promise((res) => setTimeout(res, 300));
      const before = sim.submits.length;
      const sentAt = new Map<string, number>();
      for (let i = 0; i < N; i++) {
        const code = String(100000 + i);
        sentAt.set(code, Date.now());
        await r.core.recordMonitoringEvent({ sourceId: `lat-${i}`, objectCode: code, type: 'alarm', kind: 'burglary', zone: 1, eventAt: null });
        if (i % 10 === 9) await new Promise((res) => setTimeout(res, 10)); // about 100 alarms/s
      }
      while (sim.submits.length - before < N * 5) await new Promise((res) => setTimeout(res, 20));
      const last = new Map<string, number>();
      for (const s of sim.submits.slice(before)) {
        const code = /ТРЕВОГА (\d+)/.exec(s.text ?? '')?.[1];
        if (code) last.set(code, Math.max(last.get(code) ?? 0, s.at));
      }
      const lat = [...last.entries()].map(([code, t]) => t - (sentAt.get(code) ?? t));
      const st = summary(lat);
      figure('alarm with 5 numbers, intake → last submit_sm_resp, p50 / p99 over 1,000 alarms', `${fmt(st.p50, 1)} / ${fmt(st.p99, 1)}`, 'ms');
      await r.close();
    }
    {
      const r = rig(dir, 'burst', sim.url);
      const N = 10_000;
      await seed(r.db, async () => {
        for (let i = 0; i < N; i++) {
          const c = await r.core.addClient({ name: `C${i}`, lang: 'kk', services: [], operator: 'bench' });
          await r.core.addObject({ clientId: c.id, code: String(200000 + i), address: `Көше ${i}`, operator: 'bench' });
          await r.core.addNumber({ clientId: c.id, phone: phone(100_000 + i), signed: true, operator: 'bench' });
        }
        // notices already waiting when the power cut comes
        for (let i = 0; i < N; i++) await r.core.queueSms({ priority: 'info', kind: 'notice', phone: phone(100_000 + i), clientId: null, text: `Notice ${i}`, secret: false, expiresAt: null });
      });
      const before = sim.submits.length;
      const t0 = Date.now();
      // the burst as one batch: one durable transaction for all of it
      const events = Array.from({ length: N }, (_, i) => ({ sourceId: `cut-${i}`, objectCode: String(200000 + i), type: 'alarm', kind: 'tamper', zone: null, eventAt: null }));
      await r.core.recordMonitoringEvents(events);
      const intake = Date.now() - t0;
      await r.start();
      while (sim.submits.length - before < 2 * N) await new Promise((res) => setTimeout(res, 50));
      const drained = Date.now() - t0;
      const sub = sim.submits.slice(before);
      const lastAlarm = sub.map((s, i) => (/^ДАБЫЛ/.test(s.text ?? '') ? i : -1)).reduce((a, b) => Math.max(a, b), -1);
      const firstInfo = sub.findIndex((s) => /^Notice/.test(s.text ?? ''));
      figure('city-wide burst: 10,000 alarms on 10,000 objects, intake (one batch)', fmt(intake / 1000, 2), 's');
      figure('city-wide burst: all 10,000 alarm SMS and 10,000 waiting notices at the SMSC', fmt(drained / 1000, 2), 's');
      figure('city-wide burst: notices sent before the last alarm SMS', firstInfo >= 0 && firstInfo < lastAlarm ? 'SOME (wrong order)' : 'none');
      await r.close();
    }
  } finally {
    await sim.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
