import type { SmsCore } from '../core/channels.ts';
import type { Clock } from '../core/ports.ts';
import { maskPhone, tryParsePhone } from '../domain/phone.ts';
import type { Logger } from '../logger.ts';
import { decodeInbound, parseReceipt } from './codec.ts';
import { ConcatAssembler } from './concat.ts';
import type { Receipt } from './dispatcher.ts';
import type { InboundDeliver } from './session.ts';

export interface InboundOptions {
  core: SmsCore;
  clock: Clock;
  logger: Logger;
  onReceipt: (r: Receipt) => void | Promise<void>;
  /**
   * Commands a trusted number may send per sliding window; more are dropped without an
   * answer. Counted in the database: the limit holds across every instance.
   */
  rateLimit?: { count: number; windowMs: number };
  /**
   * Senders that are not a client's number (unknown numbers, foreign numbers, short codes):
   * in any window at most `count` of their messages in all, and `perSender` from any one, are
   * handled and journalled one by one (counted in the database, across every instance); the
   * rest are dropped, and journalled by the instance that dropped them as one record with
   * their count, a window after the first of them (or when the channel stops).
   */
  strangerLimit?: { count: number; perSender: number; windowMs: number };
}

/** What this instance dropped from strangers since `start`, journalled as one record. */
interface DroppedWindow {
  start: number;
  dropped: number;
  droppedFrom: Set<string>;
  timer: NodeJS.Timeout | null;
}

/** SMPP command_status values we answer deliver_sm with. */
const ESME_ROK = 0;
const ESME_RSYSERR = 0x08;

/**
 * SMS that reach us (deliver_sm): delivery receipts go to the dispatcher; everything else is a
 * message from a phone. Multi-part messages are joined; the text becomes a command to the core
 * as channel `sms`; the answer goes back through the outbox in the client's language. Unknown
 * and blocked senders get no answer. Never throws: a broken message is answered ESME_ROK (so
 * the SMSC does not resend it forever) and logged; a receipt that could not be written is
 * answered ESME_RSYSERR, so that the SMSC sends it again.
 */
export class SmsInbound {
  private readonly o: InboundOptions;
  private readonly assembler: ConcatAssembler;
  private readonly perNumber: { count: number; windowMs: number };
  private readonly strangerRate: { count: number; perSender: number; windowMs: number };
  private strangers: DroppedWindow = { start: 0, dropped: 0, droppedFrom: new Set(), timer: null };
  /** Messages are handled one at a time, in the order they came (a code after its command). */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(opts: InboundOptions) {
    this.o = opts;
    this.assembler = new ConcatAssembler();
    this.perNumber = opts.rateLimit ?? { count: 10, windowMs: 10 * 60_000 };
    this.strangerRate = opts.strangerLimit ?? { count: 20, perSender: 3, windowMs: 10 * 60_000 };
  }

  /** Runs `fn` after every message before it was handled. */
  private inTurn<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  /**
   * Journals what the current window dropped (at the window's end, and when the channel stops),
   * after the messages that came before. Never rejects.
   */
  flush(): Promise<void> {
    return this.inTurn(() => this.flushNow());
  }

  private async flushNow(): Promise<void> {
    const w = this.strangers;
    if (w.timer) clearTimeout(w.timer);
    w.timer = null;
    if (w.dropped === 0) return;
    const count = w.dropped;
    const senders = w.droppedFrom.size;
    w.dropped = 0;
    w.droppedFrom = new Set();
    try {
      await this.o.core.noteInboundFlood({ channel: 'sms', count, senders, since: new Date(w.start).toISOString() });
    } catch (e) {
      this.o.logger.error({ err: e }, 'a flood of SMS from unknown senders could not be journalled');
    }
    this.o.logger.warn({ count, senders }, 'SMS from unknown senders beyond the limit dropped; journalled as one record');
  }

  /**
   * Resolves with the deliver_sm_resp status once the message was handled; never rejects.
   * Delivery receipts go to the dispatcher at once, beside the messages from phones (which
   * take their turn), so that receipts arriving together are written together; one that could
   * not be written is answered ESME_RSYSERR, and the SMSC delivers it again.
   */
  handle(d: InboundDeliver): Promise<number> {
    let receipt: ReturnType<typeof parseReceipt>;
    try {
      receipt = parseReceipt(d);
    } catch {
      receipt = null;
    }
    if (receipt) {
      const r = { messageId: receipt.messageId, state: receipt.state, err: receipt.err ?? null };
      return Promise.resolve()
        .then(() => this.o.onReceipt(r))
        .then(() => ESME_ROK, (e: unknown) => {
          this.o.logger.error({ err: e }, 'a delivery receipt could not be written; the SMSC will deliver it again');
          return ESME_RSYSERR;
        });
    }
    return this.inTurn(async () => {
      try {
        await this.handleUnsafe(d);
      } catch (e) {
        this.o.logger.error({ err: e }, 'inbound SMS could not be handled');
      }
      return ESME_ROK;
    });
  }

  private async handleUnsafe(d: InboundDeliver): Promise<void> {
    const now = this.o.clock.now().getTime();
    for (const dropped of this.assembler.expire(now)) {
      this.o.logger.info({ from: maskPhone(dropped.sender), parts: dropped.received, of: dropped.total }, 'incomplete multi-part SMS dropped');
    }
    const sender = tryParsePhone(d.sourceAddr)?.e164 ?? null;
    const log = this.o.logger.child({ from: sender ? maskPhone(sender) : 'not-kz' });
    const decoded = decodeInbound(d.dataCoding, d.shortMessage, d.esmClass);
    const concat = decoded.concat ?? d.sar ?? null;
    let text: string | null = decoded.text;
    if (concat && text !== null) {
      const joined = this.assembler.add({ sender: d.sourceAddr, ref: concat.ref, total: concat.total, seq: concat.seq, text, now });
      if (joined === null) {
        log.debug({ part: concat.seq, of: concat.total }, 'part of a multi-part SMS held');
        return;
      }
      text = joined;
    }
    // Anyone can put any sender on an SMS: senders that are no client's number share one
    // limit of their own, so their flood never costs a client's command its turn.
    const who = sender ? await this.o.core.identify(sender) : null;
    if (!sender || (who && !who.ok && who.reason === 'unknown')) {
      if (!(await this.admitStranger(sender ?? d.sourceAddr.slice(0, 32), now))) return;
    } else if (!(await this.o.core.rateHit([{ key: `sms-commands:${sender}`, max: this.perNumber.count, windowMs: this.perNumber.windowMs }], new Date(now)))) {
      log.warn('SMS commands from this number are coming too fast; ignored');
      return;
    }
    if (!sender) {
      // Not a Kazakhstan number: never a trusted one. Journalled as refused, no answer.
      await this.o.core.inquiry({ channel: 'sms', phone: d.sourceAddr, action: 'unrecognised' });
      log.info('SMS from a number that is not a Kazakhstan number ignored');
      return;
    }
    // Binary or undecodable content is treated as an unrecognised command (a short help for
    // a trusted number, nothing for anyone else).
    // the command and its reply commit together
    const answer = await this.o.core.handleText({ channel: 'sms', phone: sender, text: text ?? '', ref: `sms:${d.dataCoding}` });
    log.info({ command: answer.command, answered: answer.reply !== null }, 'SMS command handled');
  }

  /** Whether a message from a sender that is no client's number is handled (and journalled) on its own. */
  private async admitStranger(source: string, now: number): Promise<boolean> {
    const r = this.strangerRate;
    const admitted = await this.o.core.rateHit([
      { key: 'sms-strangers', max: r.count, windowMs: r.windowMs },
      { key: `sms-stranger:${source}`, max: r.perSender, windowMs: r.windowMs },
    ], new Date(now));
    if (admitted) return true;
    const w = this.strangers;
    if (w.dropped === 0) w.start = now;
    w.dropped++;
    if (w.droppedFrom.size < 10_000) w.droppedFrom.add(source);
    if (!w.timer) {
      w.timer = setTimeout(() => void this.flush(), Math.max(0, w.start + r.windowMs - now));
      w.timer.unref();
    }
    return false;
  }
}
