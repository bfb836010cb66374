import type { Config } from '../config.ts';
import type { Core } from '../core/core.ts';
import type { Clock, Outbox, ReadinessCheck } from '../core/ports.ts';
import type { Logger } from '../logger.ts';
import { Dispatcher } from './dispatcher.ts';
import { SmsInbound } from './inbound.ts';
import { SmppSession } from './session.ts';

export interface SmsChannel {
  session: SmppSession;
  dispatcher: Dispatcher;
  inbound: SmsInbound;
  outbox: Outbox;
  readiness: ReadinessCheck;
  /** Tell the dispatcher that something was queued. */
  wake(): void;
  stop(): Promise<void>;
}

/**
 * The SMS channel: an SMPP session to the SMSC (reconnecting until it appears), the outbox
 * dispatcher and the inbound handler. Starting never fails because the SMSC is away.
 */
export async function startSms(a: { config: Config; outbox: Outbox; core: Core; clock: Clock; logger: Logger }): Promise<SmsChannel> {
  const logger = a.logger.child({ channel: 'sms' });
  const outbox = a.outbox;
  const s = a.config.smpp;
  const session = new SmppSession({
    url: s.url, systemId: s.systemId, password: s.password, systemType: s.systemType, window: s.window, tps: s.tps,
    tlsRejectUnauthorized: !s.tlsInsecure, logger,
  });
  const dispatcher = new Dispatcher({
    store: outbox, link: session, clock: a.clock, logger, sender: s.sender, holder: a.config.instance, leaseMs: a.config.leaseMs,
    // about one second of sending claimed at a time: a new code never waits behind a long
    // queue of notices already handed to the session
    maxInFlight: s.tps > 0 ? Math.max(s.window * 2, Math.ceil(s.tps)) : 2_000,
    openText: async (m) => (await a.core.outboxText({ body: m.body, bodyEnc: m.bodyEnc, secret: m.secret, phone: m.phone }, true)) ?? '',
  });
  const inbound = new SmsInbound({ core: a.core, clock: a.clock, logger, onReceipt: (r) => dispatcher.onReceipt(r) });
  session.onDeliver((d) => inbound.handle(d));
  session.on('bound', () => dispatcher.wake());
  session.start();
  // messages caught mid-send at the last stop are queued again before anything is claimed
  await dispatcher.start();
  return {
    session, dispatcher, inbound, outbox,
    readiness: { name: 'smpp', required: false, check: () => ({ ok: session.isBound(), detail: session.isBound() ? 'bound' : 'not bound' }) },
    wake: () => dispatcher.wake(),
    async stop() {
      // what waits unsent goes back to the queue; what is in flight gets its answer; then unbind
      await Promise.all([dispatcher.stop(), session.stop()]);
      await inbound.flush();
    },
  };
}
