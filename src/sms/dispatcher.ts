import type { ClaimedSms, Clock, MessageOutcome, Outbox, PartAccepted, PartState, ReceiptApplied } from '../core/ports.ts';
import type { Logger } from '../logger.ts';
import { destAddress, encodeSms, messageIdKey, receiptLookupKeys, sourceAddress, validityPeriod } from './codec.ts';
import type { SubmitOutcome, SubmitParams } from './session.ts';

/** What the dispatcher needs from the SMPP link. */
export interface SmsLink {
  isBound(): boolean;
  /** Resolves with the SMSC's answer or a typed failure; never rejects, never waits forever. */
  submit(p: SubmitParams): Promise<SubmitOutcome>;
}

export interface DispatcherOptions {
  store: Outbox;
  link: SmsLink;
  clock: Clock;
  logger: Logger;
  /** Opens a sealed (code-bearing) body. */
  openText: (m: ClaimedSms) => string | Promise<string>;
  sender: string;
  /** Messages claimed and not yet settled, at most. */
  maxInFlight?: number;
  /** Delays between attempts after transient failures. */
  retryDelaysMs?: number[];
  maxAttempts?: number;
  /** How often to look for messages queued by other processes (the CLI) or falling due. */
  pollMs?: number;
  /**
   * State changes are written at most this long after they happen, in one transaction (so a
   * busy link costs few fsyncs). A crash inside this window can make an accepted part be
   * sent again; such messages are marked as possible duplicates.
   */
  flushMs?: number;
  onSettled?: (state: string, kind: string) => void;
  /**
   * This instance's name among those sending from the outbox (`ZHEDEL_INSTANCE`): the holder
   * of its claims. Default 'local' (one instance).
   */
  holder?: string;
  /**
   * How long a claim holds without renewal. The dispatcher renews the claims of the messages
   * it has in flight every third of this, until their outcome is written; a message can wait
   * in flight for as long as the SMSC link is down, so no fixed lease would do.
   */
  leaseMs?: number;
}

export interface Receipt {
  messageId: string;
  state: PartState | 'enroute';
  err?: string | null;
}

const DEFAULT_RETRY = [1_000, 5_000, 15_000, 30_000, 60_000, 120_000, 300_000];

/**
 * Drains the SMS outbox to the SMSC: most urgent first (codes, then alarms, then notices),
 * each part tracked with the SMSC's message_id, state changes written in batches (one
 * transaction per event-loop turn). Survives restarts at any moment: what was queued is sent,
 * what the SMSC accepted is never sent again, a part whose answer never came is sent again
 * and the message marked as a possible duplicate.
 *
 * Several instances may drain one outbox: each message is claimed by one dispatcher under a
 * lease (`leaseMs`, 60 s) that it renews every third of the lease for as long as the message
 * is in flight (a submit may wait for the link to come back, so no fixed lease would cover
 * it). If an instance dies, its messages are taken back by any instance once their lease ran
 * out, as possible duplicates; a restart of the same instance takes its own back at once.
 */
export class Dispatcher {
  private readonly o: Required<Omit<DispatcherOptions, 'onSettled'>> & Pick<DispatcherOptions, 'onSettled'>;
  private readonly source: { ton: number; npi: number; addr: string };
  private running = false;
  /** Messages caught mid-send at the last stop were queued again: claiming may begin. */
  private recovered = false;
  private inFlight = 0;
  private pumping = false;
  /** The pump under way, if any (stop waits for its claim before waiting for the sends). */
  private pumpRun: Promise<void> | null = null;
  /** Writes of outcomes and receipts, one after the other. */
  private writes: Promise<void> = Promise.resolve();
  private pumpAgain = false;
  private drained = true;
  private timer: NodeJS.Timeout | null = null;
  private flushScheduled = false;
  private parts: PartAccepted[] = [];
  private outcomes: MessageOutcome[] = [];
  private unmatched: Array<{ r: Receipt; at: number }> = [];
  /** Receipts waiting for the next write, each with the answer its deliver_sm waits for. */
  private receipts: Array<{ r: Receipt; resolve: () => void; reject: (e: unknown) => void }> = [];
  private idle: Array<() => void> = [];
  /** Messages claimed by this dispatcher whose outcome is not written yet: their claims are renewed. */
  private readonly held = new Set<number>();
  private renewTimer: NodeJS.Timeout | null = null;
  private renewing = false;
  readonly stats = { submittedParts: 0, settled: 0, retries: 0, failed: 0, expired: 0, receipts: 0, unmatchedReceipts: 0 };

  constructor(opts: DispatcherOptions) {
    this.o = {
      maxInFlight: 2_000, retryDelaysMs: DEFAULT_RETRY, maxAttempts: 8, pollMs: 1_000, flushMs: 10, holder: 'local', leaseMs: 60_000, ...opts,
    };
    this.source = sourceAddress(opts.sender);
  }

  /**
   * Queues again what the last stop caught mid-send, then starts claiming. Resolves once
   * claiming may begin; rejects (and stays stopped) when the outbox cannot be recovered.
   */
  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    let recovered: number;
    try {
      recovered = await this.o.store.recoverSending(this.now().toISOString(), this.o.holder);
    } catch (e) {
      this.running = false;
      throw e;
    }
    if (recovered > 0) this.o.logger.warn({ recovered }, 'messages caught mid-send at last stop are queued again (possible duplicates)');
    this.recovered = true;
    this.renewTimer = setInterval(() => void this.renew(), Math.max(10, Math.floor(this.o.leaseMs / 3)));
    this.renewTimer.unref();
    this.wake();
  }

  /**
   * Renews the claims on the messages in flight. A claim found lost (its lease ran out and
   * another instance took the message back) is logged; that message's outcome will not be
   * recorded by this dispatcher. Never rejects.
   */
  private async renew(): Promise<void> {
    if (this.renewing || this.held.size === 0) return;
    this.renewing = true;
    const ids = [...this.held];
    try {
      const still = new Set(await this.o.store.renewClaims(ids, this.o.holder, this.leaseUntil()));
      const lost = ids.filter((id) => !still.has(id) && this.held.has(id));
      if (lost.length > 0) this.o.logger.warn({ outbox: lost }, 'claims on SMS in flight were lost to another instance (possible duplicates)');
    } catch (e) {
      this.o.logger.error({ err: e }, 'claims on SMS in flight could not be renewed');
    } finally {
      this.renewing = false;
    }
  }

  private leaseUntil(): string {
    return new Date(this.now().getTime() + this.o.leaseMs).toISOString();
  }

  /** Something was queued, or the link came up: look for work now. */
  wake(): void {
    if (!this.running) return;
    this.schedulePump();
  }

  /** Stops claiming; waits (at most `timeoutMs`) for messages in flight, writes their outcome. */
  async stop(timeoutMs = 10_000): Promise<void> {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    // a claim under way still hands its messages over: they count as in flight
    if (this.pumpRun) await this.pumpRun;
    if (this.inFlight > 0) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, timeoutMs);
        this.idle.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    try {
      await this.flush();
    } finally {
      // what is still in flight stays claimed until its lease ends (or this instance starts again)
      if (this.renewTimer) clearInterval(this.renewTimer);
      this.renewTimer = null;
    }
  }

  get inFlightCount(): number {
    return this.inFlight;
  }

  private now(): Date {
    return this.o.clock.now();
  }

  /**
   * Claims what is due, as long as there is room, and hands it to the link. One pump at a
   * time: a wake while a claim is under way makes the running pump go round once more, so
   * no second claim ever starts beside the first. Never rejects.
   */
  private pump(): Promise<void> {
    if (!this.running || !this.recovered) return Promise.resolve();
    if (this.pumping) {
      this.pumpAgain = true;
      return Promise.resolve();
    }
    this.pumping = true;
    const run = this.pumpLoop().finally(() => {
      this.pumping = false;
      this.pumpRun = null;
      if (this.pumpAgain && this.running) this.schedulePump();
    });
    this.pumpRun = run;
    return run;
  }

  private async pumpLoop(): Promise<void> {
    try {
      do {
        this.pumpAgain = false;
        if (!this.o.link.isBound()) break;
        const room = this.o.maxInFlight - this.inFlight;
        if (room <= 0) break;
        const { claimed, expired, takenOver } = await this.o.store.claim(this.now().toISOString(), room, this.o.holder, this.leaseUntil());
        if (expired > 0) {
          this.stats.expired += expired;
          this.o.logger.info({ expired }, 'messages expired before they could be sent');
        }
        if (takenOver > 0) this.o.logger.warn({ takenOver }, 'messages whose sender stopped renewing its claim are queued again (possible duplicates)');
        this.inFlight += claimed.length;
        for (const m of claimed) this.held.add(m.id);
        // sealed texts are opened first, so that the parts go to the link in the claimed order
        // (most urgent first), each message's submits one after the other as before
        const texts = claimed.some((m) => m.secret) ? await Promise.all(claimed.map((m) => this.textOf(m))) : null;
        claimed.forEach((m, i) => {
          const text = texts ? texts[i] as { text: string } | { error: unknown } : { text: m.body ?? '' };
          const sent = 'text' in text ? this.send(m, text.text) : Promise.reject(text.error);
          void sent.then(
            (outcome) => this.settle(outcome),
            (e: unknown) => {
              this.o.logger.error({ err: e, outbox: m.id }, 'sending failed unexpectedly');
              this.settle({ outboxId: m.id, state: 'retry', notBefore: this.later(m.attempts), error: 'internal', duplicateRisk: true });
            },
          );
        });
        this.drained = claimed.length < room;
        if (!this.drained) this.pumpAgain = true;
      } while (this.pumpAgain && this.running);
    } catch (e) {
      // the outbox could not be read: the next poll tries again
      this.o.logger.error({ err: e }, 'SMS could not be claimed from the outbox');
    }
    await this.arm();
  }

  /** The text to send: the body, or the sealed body opened; a failure is kept for that message alone. */
  private async textOf(m: ClaimedSms): Promise<{ text: string } | { error: unknown }> {
    try {
      return { text: m.secret ? await this.o.openText(m) : (m.body ?? '') };
    } catch (e) {
      return { error: e };
    }
  }

  /** Polls for due work: queued by another process, or a retry falling due. Never rejects. */
  private async arm(): Promise<void> {
    if (!this.running) return;
    let delay = this.o.pollMs;
    // while messages are in flight, their settling pumps again; look at the clock only when idle
    if (this.drained && this.inFlight === 0) {
      try {
        const next = await this.o.store.nextDue();
        if (next) delay = Math.max(10, Math.min(delay, Date.parse(next) - this.now().getTime()));
      } catch (e) {
        this.o.logger.error({ err: e }, 'the next due SMS could not be read');
      }
    }
    if (!this.running) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      // a receipt may come to this instance for a part another instance has yet to write down:
      // looked for again while idle too, not only after this instance's own writes
      if (this.unmatched.length > 0) {
        this.inTurn(() => this.retryUnmatched()).catch((e: unknown) => this.o.logger.error({ err: e }, 'delivery receipts could not be applied'));
      }
      void this.pump();
    }, delay);
    this.timer.unref();
  }

  private settle(outcome: MessageOutcome): void {
    this.outcomes.push(outcome);
    this.inFlight--;
    if (outcome.state === 'retry') this.stats.retries++;
    else {
      this.stats.settled++;
      if (outcome.state === 'failed') this.stats.failed++;
      if (outcome.state === 'expired') this.stats.expired++;
    }
    this.scheduleFlush();
    if (this.inFlight === 0) {
      const waiters = this.idle;
      this.idle = [];
      for (const w of waiters) w();
    }
    // Claim in chunks: refill when half the room is free, so each claim transaction moves many rows.
    if (this.running && this.inFlight <= this.o.maxInFlight / 2) this.schedulePump();
  }

  private pumpScheduled = false;

  private schedulePump(): void {
    if (this.pumpScheduled) return;
    this.pumpScheduled = true;
    setImmediate(() => {
      this.pumpScheduled = false;
      void this.pump();
    });
  }

  private later(attempts: number): string {
    const d = this.o.retryDelaysMs[Math.min(attempts - 1, this.o.retryDelaysMs.length - 1)] ?? 60_000;
    return new Date(this.now().getTime() + d).toISOString();
  }

  private async send(m: ClaimedSms, text: string): Promise<MessageOutcome> {
    // the clock is read only for messages with a lifetime (codes): no Date per notice
    const now = m.expiresAt ? this.now().getTime() : 0;
    if (m.expiresAt && now >= Date.parse(m.expiresAt)) return { outboxId: m.id, state: 'expired' };
    const enc = encodeSms(text, { reference: m.concatRef });
    const total = enc.parts.length;
    const dest = destAddress(m.phone);
    const validity = m.expiresAt ? validityPeriod(Date.parse(m.expiresAt) - now) : undefined;
    const submit = (bytes: Buffer, i: number): Promise<SubmitOutcome | null> => {
      if (m.acceptedParts.includes(i + 1)) return Promise.resolve(null);
      const p: SubmitParams = {
        source: this.source,
        destination: dest,
        dataCoding: enc.dataCoding,
        esmClass: enc.esmClass,
        shortMessage: bytes,
        registeredDelivery: 1,
        priority: m.priority === 0 ? 1 : 0,
      };
      if (validity) p.validityPeriod = validity;
      return this.o.link.submit(p);
    };
    // most messages have one part: no list of promises for them
    const results = total === 1 ? [await submit(enc.parts[0] as Buffer, 0)] : await Promise.all(enc.parts.map(submit));

    let permanent: string | null = null;
    let transient: string | null = null;
    let duplicateRisk = false;
    let accepted = m.acceptedParts.length;
    results.forEach((r, i) => {
      if (r === null) return;
      switch (r.status) {
        case 'accepted':
          accepted++;
          this.stats.submittedParts++;
          this.parts.push({ outboxId: m.id, seq: i + 1, total, messageId: r.messageId, key: messageIdKey(r.messageId) });
          break;
        case 'rejected':
          if (r.permanent) permanent ??= `smsc:0x${r.commandStatus.toString(16).padStart(2, '0')}`;
          else transient ??= `smsc:0x${r.commandStatus.toString(16).padStart(2, '0')}`;
          break;
        case 'timeout':
          transient ??= 'timeout';
          duplicateRisk = true;
          break;
        case 'unknown':
          transient ??= 'link-lost';
          duplicateRisk = true;
          break;
        case 'not-sent':
          transient ??= 'not-sent';
          break;
      }
    });
    this.scheduleFlush();
    if (accepted === total) return { outboxId: m.id, state: 'submitted', eraseBody: m.secret, total };
    const log = { outbox: m.id, kind: m.kind, parts: total, attempt: m.attempts };
    if (permanent) {
      this.o.logger.warn({ ...log, error: permanent }, 'sms refused by the SMSC');
      return { outboxId: m.id, state: 'failed', error: permanent, duplicateRisk, eraseBody: true };
    }
    const error = transient ?? 'unknown';
    if (m.attempts >= this.o.maxAttempts) {
      this.o.logger.warn({ ...log, error }, 'sms given up after retries');
      return { outboxId: m.id, state: 'failed', error, duplicateRisk, eraseBody: true };
    }
    const notBefore = this.later(m.attempts);
    if (m.expiresAt && Date.parse(notBefore) >= Date.parse(m.expiresAt)) return { outboxId: m.id, state: 'expired' };
    this.o.logger.info({ ...log, error, retryAt: notBefore }, 'sms will be retried');
    return { outboxId: m.id, state: 'retry', notBefore, error, duplicateRisk };
  }

  private flushTimer: NodeJS.Timeout | null = null;

  private scheduleFlush(): void {
    if (this.parts.length + this.outcomes.length + this.receipts.length >= 1_000) {
      this.flushLogged();
      return;
    }
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    this.flushTimer = setTimeout(() => this.flushLogged(), this.o.flushMs);
  }

  private flushLogged(): void {
    this.flush().catch((e: unknown) => this.o.logger.error({ err: e }, 'SMS outcomes could not be recorded'));
  }

  /**
   * Writes what happened since the last flush in one transaction. Writes go one after the
   * other: a flush asked for while one is under way takes everything gathered meanwhile
   * once the first is done. Rejects when the write failed.
   */
  flush(): Promise<void> {
    this.flushScheduled = false;
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushTimer = null;
    return this.inTurn(() => this.write());
  }

  /** Runs `fn` after the writes before it. */
  private inTurn<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.writes.then(fn);
    this.writes = run.then(() => undefined, () => undefined);
    return run;
  }

  private async write(): Promise<void> {
    if (this.parts.length === 0 && this.outcomes.length === 0 && this.receipts.length === 0) return;
    const parts = this.parts;
    const outcomes = this.outcomes;
    const receipts = this.receipts;
    this.parts = [];
    this.outcomes = [];
    this.receipts = [];
    let ignored: number[] = [];
    try {
      if (parts.length > 0 || outcomes.length > 0) ignored = await this.o.store.record(parts, outcomes, this.now().toISOString(), this.o.holder);
    } catch (e) {
      // their deliver_sm is answered with an error: the SMSC delivers them again
      for (const x of receipts) x.reject(e);
      throw e;
    } finally {
      // written, or lost with a failed write: either way no longer renewed here (an unwritten
      // message is taken back by any instance once its lease ends)
      for (const o of outcomes) this.held.delete(o.outboxId);
    }
    if (ignored.length > 0) this.o.logger.warn({ outbox: ignored }, 'outcomes of SMS whose claim was lost to another instance were not recorded');
    const skip = new Set(ignored);
    for (const o of outcomes) if (o.state !== 'retry' && !skip.has(o.outboxId)) this.o.onSettled?.(o.state, 'sms');
    // the receipts after the parts they may name, with those that found no part before
    if (receipts.length > 0 || this.unmatched.length > 0) {
      let applied: Array<ReceiptApplied | null>;
      const unmatched = this.unmatched;
      this.unmatched = [];
      try {
        applied = await this.applyReceipts([...receipts.map((x) => x.r), ...unmatched.map((u) => u.r)]);
      } catch (e) {
        this.unmatched = unmatched;
        for (const x of receipts) x.reject(e);
        throw e;
      }
      const now = this.now().getTime();
      receipts.forEach((x, i) => {
        if (!applied[i]) {
          this.unmatched.push({ r: x.r, at: now });
          this.stats.unmatchedReceipts++;
        }
        x.resolve();
      });
      this.keepUnmatched(unmatched, applied.slice(receipts.length), now);
    }
  }

  /** A delivery receipt from the SMSC; resolves once it is applied (or kept for a retry), rejects when it could not be written. */
  onReceipt(r: Receipt): Promise<void> {
    this.stats.receipts++;
    if (r.state === 'enroute') return Promise.resolve();
    // the part it names may still be waiting to be written: written first, then the receipt, in one turn
    return new Promise((resolve, reject) => {
      this.receipts.push({ r, resolve, reject });
      this.scheduleFlush();
    });
  }

  private async applyReceipts(list: Receipt[]): Promise<Array<ReceiptApplied | null>> {
    const applied = await this.o.store.applyReceipts(list.map((r) => ({ keys: receiptLookupKeys(r.messageId), state: r.state as PartState, error: r.err ?? null })), this.now().toISOString());
    for (const res of applied) if (res?.messageState) this.o.onSettled?.(res.messageState, 'receipt');
    return applied;
  }

  /** Receipts that found no part yet are kept for a minute (their part may be written by another instance), then given up. */
  private keepUnmatched(list: Array<{ r: Receipt; at: number }>, applied: Array<ReceiptApplied | null>, now: number): void {
    list.forEach((u, i) => {
      if (applied[i]) return;
      if (now - u.at < 60_000) this.unmatched.push(u);
      else this.o.logger.warn({ messageId: u.r.messageId }, 'delivery receipt for an unknown message');
    });
  }

  private async retryUnmatched(): Promise<void> {
    const list = this.unmatched;
    if (list.length === 0) return;
    this.unmatched = [];
    try {
      this.keepUnmatched(list, await this.applyReceipts(list.map((u) => u.r)), this.now().getTime());
    } catch (e) {
      this.unmatched = [...list, ...this.unmatched];
      throw e;
    }
  }
}
