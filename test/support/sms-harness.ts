import pino from 'pino';
import { Dispatcher } from '../../src/sms/dispatcher.ts';
import type { DispatcherOptions } from '../../src/sms/dispatcher.ts';
import { SmsInbound } from '../../src/sms/inbound.ts';
import type { InboundOptions } from '../../src/sms/inbound.ts';
import { SmppSession } from '../../src/sms/session.ts';
import type { SessionOptions } from '../../src/sms/session.ts';
import { OutboxStore } from '../../src/store/outbox-store.ts';
import { SmscSim } from '../sim/smsc.ts';
import type { SmscOptions } from '../sim/smsc.ts';
import type { Fixture } from './core-fixture.ts';

export const quietLogger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });

export interface SmsHarness {
  sim: SmscSim;
  session: SmppSession;
  dispatcher: Dispatcher;
  inbound: SmsInbound;
  outbox: OutboxStore;
  /** Stops our side only (as a process exit would). */
  stopOurs(): Promise<void>;
  close(): Promise<void>;
}

/** The SMS channel of a fixture's core, wired to a fresh SMSC simulator over TCP. */
export async function smsHarness(fx: Fixture, o: {
  sim?: SmscOptions; session?: Partial<SessionOptions>; dispatcher?: Partial<DispatcherOptions>; existingSim?: SmscSim;
  inbound?: Pick<InboundOptions, 'rateLimit' | 'strangerLimit'>;
} = {}): Promise<SmsHarness> {
  const sim = o.existingSim ?? await SmscSim.start({ systemId: 'zhedel', password: 'secret', ...o.sim });
  const outbox = new OutboxStore(fx.db);
  const session = new SmppSession({
    url: sim.url, systemId: 'zhedel', password: 'secret', logger: quietLogger, responseTimeoutMs: 2_000,
    reconnectDelaysMs: [100, 200, 400], enquireLinkMs: 30_000, ...o.session,
  });
  const dispatcher = new Dispatcher({
    store: outbox, link: session, clock: { now: () => new Date() }, logger: quietLogger, sender: 'ZHEDEL',
    openText: (m) => fx.core.outboxText({ body: m.body, bodyEnc: m.bodyEnc, secret: m.secret, phone: m.phone }, true) ?? '',
    retryDelaysMs: [100, 200, 400], pollMs: 100, ...o.dispatcher,
  });
  const inbound = new SmsInbound({ core: fx.core, clock: { now: () => new Date() }, logger: quietLogger, onReceipt: (r) => dispatcher.onReceipt(r), ...o.inbound });
  session.onDeliver((d) => inbound.handle(d));
  session.on('bound', () => dispatcher.wake());
  session.start();
  dispatcher.start();
  let ours = true;
  const stopOurs = async (): Promise<void> => {
    if (!ours) return;
    ours = false;
    await dispatcher.stop(2_000);
    await session.stop(1_000);
    inbound.flush();
  };
  return {
    sim, session, dispatcher, inbound, outbox, stopOurs,
    async close() {
      await stopOurs();
      if (!o.existingSim) await sim.close();
    },
  };
}

export async function until<T>(fn: () => T | undefined | null | false | Promise<T | undefined | null | false>, timeoutMs = 5_000, what = 'condition'): Promise<T> {
  const start = Date.now();
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
