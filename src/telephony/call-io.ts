import type { Logger } from '../logger.ts';
import type { AriEvent, AriOps } from './ari-link.ts';

/**
 * One call's input and output: play prompts, collect keys. Every wait ends — on a key, a
 * timeout, the end of the call, or a safety limit for a playback that never finishes — and
 * resolves with a typed result; nothing here rejects. Asterisk does not stop a playback when
 * a key is pressed: this module stops it.
 *
 * Keys typed ahead: every key goes into a per-call buffer, whenever it is pressed. A key
 * pressed while a prompt plays stops that prompt, and every later prompt of the turn is
 * skipped while the buffer holds keys; the next question reads its answer from the buffer
 * first. Only an error prompt (`error`) empties the buffer: keys typed before it and while it
 * plays are dropped, it cannot be interrupted, and the question after it starts afresh.
 */

export type PlayResult = 'finished' | 'interrupted' | 'hangup' | 'failed';

export type AskResult =
  | { kind: 'digits'; digits: string; terminator: '#' | null }
  | { kind: 'star' }
  | { kind: 'timeout' }
  | { kind: 'hangup' };

export interface AskOptions {
  /** Keys to collect at most; `#` ends earlier. 1 for a menu choice. */
  maxDigits: number;
  /** Wait for the first key after the prompt ends. */
  firstDigitMs?: number;
  /** Wait between keys. */
  interDigitMs?: number;
}

export interface CallTimings {
  firstDigitMs: number;
  interDigitMs: number;
  /** A playback that has not finished after this long is stopped and treated as finished. */
  playbackLimitMs: number;
}

export const DEFAULT_TIMINGS: CallTimings = { firstDigitMs: 10_000, interDigitMs: 3_000, playbackLimitMs: 60_000 };

let playbackSeq = 0;

export class CallIo {
  readonly channelId: string;
  private readonly ari: AriOps;
  private readonly log: Logger;
  private readonly timings: CallTimings;
  private ended = false;
  private buffer: string[] = [];
  /** An error prompt is playing: keys are dropped. */
  private dropping = false;
  private digitWaiter: (() => void) | null = null;
  private current: { id: string; done: (r: PlayResult) => void } | null = null;
  private readonly endWaiters = new Set<() => void>();
  /** Media played, in order (for logs and tests). */
  readonly played: string[] = [];

  constructor(a: { channelId: string; ari: AriOps; logger: Logger; timings?: Partial<CallTimings> }) {
    this.channelId = a.channelId;
    this.ari = a.ari;
    this.log = a.logger;
    this.timings = { ...DEFAULT_TIMINGS, ...a.timings };
  }

  get hungUp(): boolean {
    return this.ended;
  }

  /** Feeds an ARI event that concerns this channel or one of its playbacks. */
  onEvent(e: AriEvent): void {
    switch (e.type) {
      case 'ChannelDtmfReceived':
        if (typeof e.digit === 'string') this.onDigit(e.digit);
        break;
      case 'PlaybackFinished':
        if (this.current && e.playback?.id === this.current.id) {
          this.current.done(e.playback.state === 'failed' ? 'failed' : 'finished');
        }
        break;
      case 'ChannelHangupRequest':
      case 'StasisEnd':
      case 'ChannelDestroyed':
        this.end();
        break;
    }
  }

  /** The call is over: every wait resolves now. */
  end(): void {
    if (this.ended) return;
    this.ended = true;
    this.current?.done('hangup');
    this.digitWaiter?.();
    for (const w of this.endWaiters) w();
    this.endWaiters.clear();
  }

  private onDigit(d: string): void {
    if (!/^[0-9*#A-D]$/.test(d)) return;
    if (this.dropping) return;
    this.buffer.push(d);
    if (this.current) {
      const id = this.current.id;
      this.current.done('interrupted');
      this.ari.stopPlayback(id).catch(() => undefined); // already finished or channel gone: fine
    }
    this.digitWaiter?.();
  }

  /** Resolves after `ms`, or at once when the call ends. */
  private sleepOrEnd(ms: number): Promise<void> {
    if (this.ended) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(t);
        this.endWaiters.delete(done);
        resolve();
      };
      const t = setTimeout(done, ms);
      this.endWaiters.add(done);
    });
  }

  /**
   * Plays prompt media (`sound:…` URIs) as one playback. With `interruptible`, a key stops it
   * and stays in the buffer for the next `ask`, and while keys are waiting in the buffer the
   * prompt is not played at all (the caller is ahead of it). Without, it plays to its end; keys
   * pressed meanwhile still wait in the buffer.
   */
  async play(media: string[], interruptible = true): Promise<PlayResult> {
    if (this.ended) return 'hangup';
    if (media.length === 0) return 'finished';
    if (interruptible && this.buffer.length > 0) return 'interrupted';
    const id = `${this.channelId}-pb${++playbackSeq}`;
    let resolveDone!: (r: PlayResult) => void;
    const done = new Promise<PlayResult>((r) => {
      resolveDone = r;
    });
    let settled = false;
    const finish = (r: PlayResult): void => {
      if (settled) return;
      settled = true;
      if (this.current?.id === id) this.current = null;
      resolveDone(r);
    };
    this.current = { id, done: interruptible ? finish : (r) => { if (r !== 'interrupted') finish(r); } };
    this.played.push(...media);
    try {
      await this.ari.play(this.channelId, media, id);
    } catch (e) {
      const gone = (e as { gone?: boolean }).gone === true;
      finish(gone ? 'hangup' : 'failed');
      if (gone) this.end();
      else this.log.warn({ err: e }, 'playback could not start');
    }
    const limit = setTimeout(() => {
      if (settled) return;
      this.log.warn({ playback: id }, 'playback did not finish in time; stopped');
      this.ari.stopPlayback(id).catch(() => undefined);
      finish('finished');
    }, this.timings.playbackLimitMs);
    const r = await done;
    clearTimeout(limit);
    return r;
  }

  /** Keys typed so far and not yet read. */
  get keysWaiting(): number {
    return this.buffer.length;
  }

  /** Forgets the keys typed so far. */
  discardKeys(): void {
    this.buffer = [];
  }

  /**
   * Plays an error prompt ("invalid entry", "no entry", "attempts exhausted"…): the keys typed
   * before it are discarded, it plays to its end whatever is pressed, and the keys pressed while
   * it plays are dropped too — the caller answers the next question from scratch.
   */
  async error(media: string[]): Promise<PlayResult> {
    this.discardKeys();
    this.dropping = true;
    try {
      return await this.play(media, false);
    } finally {
      this.dropping = false;
      this.discardKeys();
    }
  }

  /**
   * Plays a question and collects the answer. Keys already typed (ahead, during earlier
   * prompts) answer it first, and then the question itself is not played; the first key
   * pressed during the question stops it. `*` alone means back.
   */
  async ask(media: string[], opts: AskOptions): Promise<AskResult> {
    const played = await this.play(media, true);
    if (played === 'hangup' || this.ended) return { kind: 'hangup' };
    const firstMs = opts.firstDigitMs ?? this.timings.firstDigitMs;
    const interMs = opts.interDigitMs ?? this.timings.interDigitMs;
    let digits = '';
    for (;;) {
      const key = await this.nextDigit(digits.length === 0 ? firstMs : interMs);
      if (key === 'hangup') return { kind: 'hangup' };
      if (key === 'timeout') {
        if (digits.length === 0) return { kind: 'timeout' };
        return { kind: 'digits', digits, terminator: null };
      }
      if (key === '*' && digits.length === 0) return { kind: 'star' };
      if (key === '#') {
        if (digits.length === 0 && opts.maxDigits === 1) return { kind: 'digits', digits: '#', terminator: null };
        return { kind: 'digits', digits, terminator: '#' };
      }
      if (key === '*') {
        digits = ''; // '*' in the middle of an entry starts it again
        continue;
      }
      digits += key;
      if (digits.length >= opts.maxDigits) return { kind: 'digits', digits, terminator: null };
    }
  }

  private async nextDigit(timeoutMs: number): Promise<string | 'timeout' | 'hangup'> {
    if (this.ended) return 'hangup';
    const ready = this.buffer.shift();
    if (ready !== undefined) return ready;
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.digitWaiter = null;
        resolve('timeout');
      }, timeoutMs);
      this.digitWaiter = () => {
        clearTimeout(t);
        this.digitWaiter = null;
        if (this.ended) resolve('hangup');
        else resolve(this.buffer.shift() ?? 'timeout');
      };
    });
  }

  async hangup(): Promise<void> {
    if (this.ended) return;
    try {
      await this.ari.hangup(this.channelId);
    } catch {
      // already gone
    }
    this.end();
  }

  /** Leaves Stasis to the dialplan (hand-over to an operator). */
  async transfer(context: string, extension = 's', priority = 1): Promise<boolean> {
    if (this.ended) return false;
    try {
      await this.ari.continueInDialplan(this.channelId, context, extension, priority);
      this.end();
      return true;
    } catch (e) {
      this.log.warn({ err: e }, 'hand-over to the dialplan failed');
      return false;
    }
  }

  /** Pauses for `ms` (or until the call ends). */
  pause(ms: number): Promise<void> {
    return this.sleepOrEnd(ms);
  }
}
