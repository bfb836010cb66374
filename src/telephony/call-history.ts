import type { TelephonyCore } from '../core/channels.ts';
import type { CallStart } from '../core/calls.ts';
import type { Clock } from '../core/ports.ts';
import type { Logger } from '../logger.ts';

/** The longest a call's actions wait before they are written. */
const PROGRESS_EVERY_MS = 1_000;

/** What the conversation on a call tells the call history. */
export interface CallReport {
  /** Something done on the call, in order ('status 4711', 'disarm 4711: code sent'). */
  action(text: string): void;
  /** Who the caller is, and the object the call is about, once known. */
  known(k: { clientId?: number; objectCode?: string }): void;
}

/** A report that goes nowhere (a conversation run outside the telephony service). */
export const NO_REPORT: CallReport = { action: () => undefined, known: () => undefined };

/**
 * One call's row in the history, written through the core: at the start, as the call goes on
 * (what piled up while a write was under way goes in the next one) and at the end (once).
 * The writes run one after the other in the background; a failed write is logged and never
 * reaches the call.
 */
export class CallRecord implements CallReport {
  private tail: Promise<unknown>;
  private actions: string[] = [];
  private facts: { clientId?: number; objectCode?: string; answeredAt?: string } = {};
  private flushQueued = false;
  private ended: Promise<void> | null = null;

  constructor(
    private readonly d: { core: TelephonyCore; clock: Clock; logger: Logger },
    readonly start: CallStart,
  ) {
    this.tail = this.guard('start', () => d.core.callStarted(start));
  }

  get id(): string {
    return this.start.id;
  }

  action(text: string): void {
    if (this.ended) return;
    this.actions.push(text);
    this.flush();
  }

  known(k: { clientId?: number; objectCode?: string }): void {
    if (this.ended) return;
    this.facts = { ...this.facts, ...k };
    this.flush();
  }

  /** The call was answered (now). */
  answered(): void {
    if (this.ended || this.facts.answeredAt) return;
    this.facts.answeredAt = this.d.clock.now().toISOString();
    this.flush();
  }

  /** Ends the row with its outcome; the first end counts. Resolves once written (or failed and logged). */
  end(outcome: string): Promise<void> {
    this.ended ??= this.chain('end', () => this.d.core.callEnded({ id: this.id, outcome, ...this.take() })).then(() => undefined);
    return this.ended;
  }

  /**
   * What happened goes in at most one write a second: a call's steps come in bursts (a key, an
   * answer, a prompt), and each write competes with the clients' requests for the database. A
   * crash loses at most the last second of a call's actions; the end writes all that is left.
   */
  private flush(): void {
    if (this.flushQueued) return;
    this.flushQueued = true;
    const timer = setTimeout(() => {
      void this.chain('progress', () => {
        this.flushQueued = false;
        if (this.ended) return Promise.resolve(true);
        return this.d.core.callProgress({ id: this.id, ...this.take() });
      });
    }, PROGRESS_EVERY_MS);
    timer.unref();
  }

  /** What is waiting to be written, taken. */
  private take(): { actions: string[]; clientId?: number; objectCode?: string; answeredAt?: string } {
    const facts = this.facts;
    this.facts = {};
    return { actions: this.actions.splice(0), ...facts };
  }

  private chain(what: string, write: () => Promise<unknown>): Promise<unknown> {
    this.tail = this.tail.then(() => this.guard(what, write));
    return this.tail;
  }

  private async guard(what: string, write: () => Promise<unknown>): Promise<unknown> {
    try {
      return await write();
    } catch (err) {
      this.d.logger.warn({ err, call: this.id, what }, 'the call history could not be written');
      return undefined;
    }
  }
}
