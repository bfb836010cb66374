import { randomBytes } from 'node:crypto';
import type { TelephonyCore } from '../core/channels.ts';
import type { CallStart } from '../core/calls.ts';
import type { Clock } from '../core/ports.ts';
import type { Lang } from '../domain/types.ts';
import type { ReadinessCheck } from '../core/ports.ts';
import type { Logger } from '../logger.ts';
import type { AriEvent } from './ari-link.ts';
import { AriLink } from './ari-link.ts';
import { CallIo } from './call-io.ts';
import { CallRecord } from './call-history.ts';
import type { CallTimings } from './call-io.ts';
import { Robot, media } from './robot.ts';
import { sayDigits, sayWhen } from './speech.ts';

export type CalloutResult = 'acknowledged' | 'confirmed' | 'refused' | 'no-answer' | 'busy' | 'rejected' | 'no-key' | 'failed';

export interface CalloutRequest {
  phone: string;
  lang: Lang;
  objectCode: string;
  /** Alarm kind prompt id suffix: burglary, fire, panic, flood, tamper. */
  kind: string;
  zone?: number | null;
  /** How long the phone may ring. */
  ringSec?: number;
  /**
   * A confirmation call-back instead of an alarm: the held request is told (action, object,
   * channel, when) and key 1 confirms it, key 2 refuses it.
   */
  confirm?: { action: string; channel: string; requestedAt: string };
  /** What the call is for, in the call history ('alarm' unless said). */
  purpose?: string;
  /** What the call-out belongs to, for the call history: an alarm's event and round, the client. */
  ref?: { eventId?: number; round?: number; clientId?: number };
}

export interface TelephonyOptions {
  url: string;
  user: string;
  password: string;
  app: string;
  calloutEndpoint: string;
  core: TelephonyCore;
  clock: Clock;
  timeZone: string;
  logger: Logger;
  timings?: Partial<CallTimings>;
  retryDelaysMs?: number[];
  /** After the link comes up, how long calls get to announce themselves before the unknown ones left in the application are hung up (2 s). */
  leftoverGraceMs?: number;
}

interface ActiveCall {
  io: CallIo;
  kind: 'incoming' | 'callout';
  startedAt: number;
  record: CallRecord;
  /** Why the call was cut from our side (the ARI link dropped, shutdown): its outcome in the history. */
  cut?: string;
}

interface PendingCallout {
  req: CalloutRequest;
  resolve: (r: CalloutResult) => void;
  answered: boolean;
  timer: NodeJS.Timeout;
  record: CallRecord;
}

/** Hang-up causes (Q.850) Asterisk reports for a call-out that was never answered. */
function causeResult(cause: number | undefined): CalloutResult {
  switch (cause) {
    case 17: return 'busy';
    case 18:
    case 19: return 'no-answer';
    case 21: return 'rejected';
    default: return 'failed';
  }
}

/**
 * The phone channel: incoming calls handed to the Stasis application, and alarm call-outs.
 * Per-call state lives in one map and leaves it when the call ends, whatever way it ends.
 */
export class Telephony {
  readonly link: AriLink;
  private readonly o: TelephonyOptions;
  private readonly robot: Robot;
  private readonly calls = new Map<string, ActiveCall>();
  private readonly callouts = new Map<string, PendingCallout>();
  private accepting = true;
  readonly stats = { incoming: 0, callouts: 0, active: 0, outcomes: {} as Record<string, number> };

  constructor(opts: TelephonyOptions) {
    this.o = opts;
    this.robot = new Robot({ core: opts.core, clock: opts.clock, timeZone: opts.timeZone, logger: opts.logger });
    this.link = new AriLink({
      url: opts.url, user: opts.user, password: opts.password, app: opts.app, logger: opts.logger,
      ...(opts.retryDelaysMs ? { retryDelaysMs: opts.retryDelaysMs } : {}),
    });
    this.link.on('event', (e: AriEvent) => this.onEvent(e));
    this.link.on('disconnected', () => {
      if (this.sweepTimer) clearTimeout(this.sweepTimer);
      this.sweepTimer = null;
      this.dropAll('ari-disconnected');
    });
    this.link.on('connected', () => {
      // Calls left in our Stasis application by a link that dropped (or by this process before a
      // crash) stay up in Asterisk, silent, until the caller gives up: they are hung up. Calls
      // that entered Stasis since the link came up are announced by their StasisStart within
      // moments, so only what is still unknown after a grace period is left over.
      if (this.sweepTimer) clearTimeout(this.sweepTimer);
      this.sweepTimer = setTimeout(() => {
        this.sweepTimer = null;
        void this.sweepLeftovers();
      }, this.o.leftoverGraceMs ?? 2_000);
      this.sweepTimer.unref();
    });
  }

  private sweepTimer: NodeJS.Timeout | null = null;

  /** Hangs up the channels in our application that no call of this process knows. Never rejects. */
  private async sweepLeftovers(): Promise<void> {
    let ids: string[];
    try {
      ids = await this.link.appChannels();
    } catch (e) {
      this.o.logger.warn({ error: (e as Error).message }, 'channels left in the ARI application could not be listed');
      return;
    }
    const left = ids.filter((id) => !this.calls.has(id) && !this.callouts.has(id));
    for (const id of left) {
      this.o.logger.warn({ channel: id }, 'a call left in the ARI application by a dropped link is hung up');
      await this.link.hangup(id, 'normal').catch(() => undefined);
    }
  }

  start(): void {
    this.link.start();
  }

  readiness(): ReadinessCheck {
    return {
      name: 'ari',
      required: false,
      check: () => ({ ok: this.link.isConnected(), detail: this.link.isConnected() ? 'connected' : (this.link.lastError ?? 'not connected') }),
    };
  }

  get activeCalls(): number {
    return this.calls.size;
  }

  /** Stops taking calls; lets calls in progress go on for at most `graceMs`, then hangs up. */
  async stop(graceMs = 10_000): Promise<void> {
    this.accepting = false;
    if (this.sweepTimer) clearTimeout(this.sweepTimer);
    this.sweepTimer = null;
    const deadline = Date.now() + graceMs;
    while (this.calls.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    for (const [id, c] of this.calls) {
      c.cut ??= 'shutdown';
      void this.historyWrite(c.record.end(c.cut));
      await c.io.hangup();
      this.calls.delete(id);
    }
    for (const [, p] of this.callouts) {
      clearTimeout(p.timer);
      void this.historyWrite(p.record.end('shutdown'));
      p.resolve('failed');
    }
    this.callouts.clear();
    // the history's last writes go through before the core may close
    await Promise.all([...this.historyWrites]);
    await this.link.stop();
  }

  private dropAll(reason: string): void {
    for (const [id, c] of this.calls) {
      this.o.logger.warn({ channel: id, reason }, 'call dropped');
      c.cut ??= reason;
      c.io.end();
    }
  }

  private onEvent(e: AriEvent): void {
    const channelId = e.channel?.id;
    if (e.type === 'StasisStart' && channelId) {
      this.onStasisStart(e, channelId);
      return;
    }
    if (e.type.startsWith('Playback') && e.playback) {
      // Our playback ids start with the channel id; target_uri says the same where present.
      const target = e.playback.target_uri?.startsWith('channel:') ? e.playback.target_uri.slice(8) : e.playback.id.replace(/-pb\d+$/, '');
      this.calls.get(target)?.io.onEvent(e);
      return;
    }
    if (!channelId) return;
    const call = this.calls.get(channelId);
    if (call) call.io.onEvent(e);
    if (e.type === 'ChannelDestroyed' || e.type === 'StasisEnd') {
      const pending = this.callouts.get(channelId);
      if (pending && !pending.answered && e.type === 'ChannelDestroyed') {
        clearTimeout(pending.timer);
        this.callouts.delete(channelId);
        pending.resolve(causeResult(e.cause));
      }
    }
  }

  private onStasisStart(e: AriEvent, channelId: string): void {
    const log = this.o.logger.child({ call: channelId });
    const io = new CallIo({ channelId, ari: this.link, logger: log, ...(this.o.timings ? { timings: this.o.timings } : {}) });
    const args = e.args ?? [];
    const pending = this.callouts.get(channelId);
    if (pending) {
      pending.answered = true;
      pending.record.answered();
      this.track(channelId, io, 'callout', pending.record);
      void this.runCallout(io, pending, log);
      return;
    }
    if (!this.accepting || args[0] === 'callout') {
      // shutting down, or a call-out this process no longer waits for
      void io.hangup();
      return;
    }
    this.stats.incoming++;
    const caller = e.channel?.caller?.number;
    const record = this.record({ id: channelId, direction: 'in', purpose: 'client', phone: caller ?? null });
    this.track(channelId, io, 'incoming', record);
    log.info({ caller: caller ? `${caller.slice(0, 5)}…${caller.slice(-2)}` : 'none' }, 'incoming call');
    void (async () => {
      try {
        await this.link.answer(channelId);
        record.answered();
      } catch (err) {
        log.warn({ err }, 'answer failed');
        io.end();
      }
      const outcome = io.hungUp ? 'caller-hung-up' : await this.robot.handleCall(io, caller, record);
      this.finish(channelId, outcome, log);
    })();
  }

  private track(channelId: string, io: CallIo, kind: ActiveCall['kind'], record: CallRecord): void {
    this.calls.set(channelId, { io, kind, startedAt: Date.now(), record });
    this.stats.active = this.calls.size;
  }

  /** The call's row in the history, started now. */
  private record(start: CallStart): CallRecord {
    return new CallRecord({ core: this.o.core, clock: this.o.clock, logger: this.o.logger }, start);
  }

  /** History writes under way, awaited by `stop`. */
  private readonly historyWrites = new Set<Promise<void>>();

  private historyWrite(p: Promise<void>): Promise<void> {
    this.historyWrites.add(p);
    void p.finally(() => this.historyWrites.delete(p));
    return p;
  }

  /** `recorded`: the outcome in the call history, when it differs from the one counted. */
  private finish(channelId: string, outcome: string, log: Logger, recorded = outcome): void {
    const call = this.calls.get(channelId);
    if (call) void this.historyWrite(call.record.end(call.cut ?? recorded));
    this.calls.delete(channelId);
    this.stats.active = this.calls.size;
    this.stats.outcomes[outcome] = (this.stats.outcomes[outcome] ?? 0) + 1;
    log.info({ outcome }, 'call ended');
  }

  /**
   * Calls a trusted number about an alarm and asks for key 1. Resolves with what happened;
   * only key 1 counts as an acknowledgement (voicemail or silence never does).
   */
  callOut(req: CalloutRequest): Promise<CalloutResult> {
    const channelId = `zhedel-co-${randomBytes(8).toString('hex')}`;
    const record = this.record({
      id: channelId, direction: 'out', purpose: req.purpose ?? 'alarm', phone: req.phone, objectCode: req.objectCode,
      clientId: req.ref?.clientId ?? null, eventId: req.ref?.eventId ?? null, round: req.ref?.round ?? null,
    });
    if (!this.link.isConnected()) {
      record.action('not placed: no ARI link');
      void this.historyWrite(record.end('failed'));
      return Promise.resolve('failed');
    }
    const ringSec = req.ringSec ?? 30;
    this.stats.callouts++;
    return new Promise<CalloutResult>((settle) => {
      // whatever settles the call-out ends its row (the first end counts)
      const resolve = (r: CalloutResult): void => {
        void this.historyWrite(record.end(r));
        settle(r);
      };
      const timer = setTimeout(() => {
        const p = this.callouts.get(channelId);
        if (p && !p.answered) {
          this.callouts.delete(channelId);
          this.link.hangup(channelId).catch(() => undefined);
          resolve('no-answer');
        }
      }, (ringSec + 10) * 1000);
      this.callouts.set(channelId, { req, resolve, answered: false, timer, record });
      const endpoint = this.o.calloutEndpoint.replace('{number}', req.phone.replace(/^\+/, ''));
      this.link.originate({ endpoint, channelId, timeoutSec: ringSec, appArgs: ['callout'] }).catch((err: unknown) => {
        const p = this.callouts.get(channelId);
        if (!p) return;
        clearTimeout(p.timer);
        this.callouts.delete(channelId);
        this.o.logger.warn({ err }, 'call-out could not be placed');
        resolve('failed');
      });
    });
  }

  /**
   * A confirmation call-back: "a request to disarm object 4 7 1 1 by SMS today at 3 12: press
   * 1 to confirm, 2 to refuse", asked up to three times. Only key 1 confirms; voicemail or
   * silence never does. Hangs up at the end.
   */
  private async confirmFlow(io: CallIo, req: CalloutRequest, c: NonNullable<CalloutRequest['confirm']>, did: (a: string) => void): Promise<CalloutResult> {
    const message = [
      'confirm-intro', `confirm-action-${c.action}`, 'object', ...sayDigits(req.objectCode), `confirm-via-${c.channel}`,
      ...sayWhen(new Date(c.requestedAt), this.o.clock.now(), this.o.timeZone),
    ];
    let result: CalloutResult = 'no-key';
    for (let round = 0; round < 3 && !io.hungUp; round++) {
      if (round > 0) io.discardKeys();
      const r = await io.ask(media(req.lang, [...message, 'confirm-press']), { maxDigits: 1 });
      if (r.kind === 'hangup') break;
      if (r.kind === 'digits' && r.digits !== '1' && r.digits !== '2') did(`key ${r.digits}: neither 1 nor 2`);
      if (r.kind === 'digits' && (r.digits === '1' || r.digits === '2')) {
        result = r.digits === '1' ? 'confirmed' : 'refused';
        did(`key ${r.digits}: ${c.action} of ${req.objectCode} ${result}`);
        await io.play(media(req.lang, [result === 'confirmed' ? 'confirm-done' : 'confirm-refused']), false);
        break;
      }
    }
    await io.hangup();
    return result;
  }

  private async runCallout(io: CallIo, p: PendingCallout, log: Logger): Promise<void> {
    clearTimeout(p.timer);
    let result: CalloutResult = 'no-key';
    try {
      const { req } = p;
      if (req.confirm) {
        result = await this.confirmFlow(io, req, req.confirm, (a) => p.record.action(a));
        return;
      }
      const message = [
        'alarm-callout-intro', 'object', ...sayDigits(req.objectCode), `alarm-${req.kind}`,
        ...(req.zone ? ['alarm-zone', ...sayDigits(String(req.zone))] : []),
      ];
      for (let round = 0; round < 3 && !io.hungUp; round++) {
        if (round > 0) io.discardKeys(); // a wrong key: the message again, from scratch
        const r = await io.ask(media(req.lang, [...message, 'alarm-press-1']), { maxDigits: 1 });
        if (r.kind === 'hangup') break;
        if (r.kind === 'digits' && r.digits !== '1') p.record.action(`key ${r.digits}: not 1`);
        if (r.kind === 'digits' && r.digits === '1') {
          result = 'acknowledged';
          p.record.action('key 1: acknowledged');
          await io.play(media(req.lang, ['alarm-acknowledged']), false);
          break;
        }
      }
      await io.hangup();
    } catch (e) {
      log.error({ err: e }, 'call-out flow failed');
      result = 'failed';
    } finally {
      this.callouts.delete(io.channelId);
      this.finish(io.channelId, `callout:${result}`, log, result);
      p.resolve(result);
    }
  }
}
