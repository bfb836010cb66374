import AsteriskManager from 'asterisk-manager';
import type { ReadinessCheck } from '../core/ports.ts';
import type { Logger } from '../logger.ts';
import { backoffDelay } from '../domain/backoff.ts';

/**
 * Asterisk Manager Interface, for health only: is Asterisk there, and is the SIP trunk
 * registered. Connects, logs in, reconnects with backoff, and asks for the outbound
 * registrations every `pollMs`.
 */
export interface AmiOptions {
  host: string;
  port: number;
  user: string;
  secret: string;
  logger: Logger;
  pollMs?: number;
  retryDelaysMs?: number[];
}

interface Manager {
  on(event: string, fn: (...a: unknown[]) => void): void;
  removeAllListeners(): void;
  connect(port: number, host: string, cb?: (err?: unknown) => void): void;
  login(cb?: (err?: unknown) => void): void;
  action(a: Record<string, string>, cb?: (err: unknown, res: unknown) => void): string;
  disconnect(): void;
  isConnected(): boolean;
}

type Factory = (port: number, host: string, user: string, secret: string, events: boolean) => Manager;

export class AmiMonitor {
  private readonly o: Required<AmiOptions>;
  private manager: Manager | null = null;
  private loggedIn = false;
  private stopped = false;
  private attempt = 0;
  private retryTimer: NodeJS.Timeout | null = null;
  private pollTimer: NodeJS.Timeout | null = null;
  /** Outbound registration states by registration name, as Asterisk last told them. */
  readonly registrations = new Map<string, string>();
  lastError: string | null = null;

  constructor(opts: AmiOptions) {
    this.o = { pollMs: 30_000, retryDelaysMs: [1_000, 5_000, 15_000, 30_000], ...opts };
  }

  start(): void {
    this.stopped = false;
    this.connect();
  }

  isConnected(): boolean {
    return this.loggedIn;
  }

  readiness(): ReadinessCheck {
    return {
      name: 'ami',
      required: false,
      check: () => {
        if (!this.loggedIn) return { ok: false, detail: this.lastError ?? 'not connected' };
        const regs = [...this.registrations.entries()];
        if (regs.length === 0) return { ok: true, detail: 'connected; no outbound registrations reported' };
        const bad = regs.filter(([, s]) => s.toLowerCase() !== 'registered');
        return { ok: bad.length === 0, detail: regs.map(([n, s]) => `${n}: ${s}`).join(', ') };
      },
    };
  }

  stop(): void {
    this.stopped = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    if (this.pollTimer) clearInterval(this.pollTimer);
    this.retryTimer = null;
    this.pollTimer = null;
    const m = this.manager;
    this.manager = null;
    this.loggedIn = false;
    if (m) {
      try {
        m.removeAllListeners();
        m.on('error', () => undefined);
        m.disconnect();
      } catch {
        // already closed
      }
    }
  }

  private connect(): void {
    if (this.stopped) return;
    const m = (AsteriskManager as unknown as Factory)(0, this.o.host, this.o.user, this.o.secret, true);
    this.manager = m;
    m.on('error', (e: unknown) => {
      this.lastError = e instanceof Error ? e.message : String(e);
    });
    m.on('close', () => this.onClose(m));
    m.on('outboundregistrationdetail', (ev: unknown) => {
      const e = ev as Record<string, string>;
      if (e.objectname) this.registrations.set(e.objectname, e.status ?? 'unknown');
    });
    m.on('registry', (ev: unknown) => {
      const e = ev as Record<string, string>;
      const name = e.username ?? e.domain ?? 'trunk';
      if (e.status) this.registrations.set(name, e.status);
    });
    m.connect(this.o.port, this.o.host, () => {
      m.login((err?: unknown) => {
        if (err) {
          this.lastError = 'login refused';
          this.o.logger.warn('AMI login refused');
          m.disconnect();
          return;
        }
        this.loggedIn = true;
        this.attempt = 0;
        this.lastError = null;
        this.o.logger.info('AMI connected');
        this.poll();
        this.pollTimer = setInterval(() => this.poll(), this.o.pollMs);
        this.pollTimer.unref();
      });
    });
  }

  private poll(): void {
    const m = this.manager;
    if (!m || !this.loggedIn) return;
    try {
      m.action({ action: 'PJSIPShowRegistrationsOutbound' }, () => undefined);
    } catch (e) {
      this.lastError = e instanceof Error ? e.message : String(e);
    }
  }

  private onClose(m: Manager): void {
    if (m !== this.manager) return;
    const was = this.loggedIn;
    this.loggedIn = false;
    if (this.pollTimer) clearInterval(this.pollTimer);
    this.pollTimer = null;
    if (was) this.o.logger.warn('AMI connection lost; reconnecting');
    try {
      m.removeAllListeners();
      m.on('error', () => undefined);
    } catch {
      // nothing to clean
    }
    this.manager = null;
    if (this.stopped) return;
    const delay = backoffDelay(this.attempt, this.o.retryDelaysMs, Math.random, { jitter: 0.2, fallbackMs: 30_000 });
    this.attempt++;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.connect();
    }, delay);
    this.retryTimer.unref();
  }
}
