/**
 * Alarm panels into the core: runs the DC-09 receiver with the accounts' keys held in memory,
 * hands event reports to the core (acknowledged once kept), keeps the times of link tests and
 * writes them in batches, and tells the operators about accounts no object has.
 */
import type { PanelKey, PanelMessage, PanelMessageResult } from '../core/panels.ts';
import { frameId } from '../core/panels.ts';
import type { Logger } from '../logger.ts';
import { Dc09Receiver } from './receiver.ts';
import type { Dc09Message, Dc09ReceiverStats } from './receiver.ts';

/** What the gateway needs of the core. */
export interface PanelCore {
  panelKeys(): Promise<PanelKey[]>;
  panelKey(account: string): Promise<PanelKey | null>;
  recordPanelMessage(m: PanelMessage): Promise<PanelMessageResult>;
  panelsSeen(list: Array<{ account: string; atMs: number }>): Promise<string[]>;
  unknownPanel(a: { account: string | null; remote: string; summary: string }): Promise<void>;
}

export interface PanelGatewayOptions {
  core: PanelCore;
  logger: Logger;
  host: string;
  port: number;
  windowMs: number;
  maxConnections?: number;
  maxConnectionsPerAddress?: number;
  /** The receiver's clock (default the system clock). */
  now?: () => Date;
  /** How often the accounts and keys are read again (default 10 s): accounts added elsewhere work within this. */
  refreshMs?: number;
  /** How often the times of link tests are written (default 2 s). */
  flushMs?: number;
  /** Alerts about unknown accounts: one per account per this long (default 10 min) … */
  unknownEveryMs?: number;
  /** … and at most this many an hour in all (default 60); the rest are logged. */
  unknownPerHour?: number;
}

/** Stands for a key that cannot be opened: no frame decrypts with it, and a clear frame is refused as from a keyed account. */
const UNREADABLE = 'unreadable';

export class PanelGateway {
  private readonly receiver: Dc09Receiver;
  private keys = new Map<string, PanelKey>();
  private readonly seen = new Map<string, number>();
  private refreshTimer: NodeJS.Timeout | null = null;
  private flushTimer: NodeJS.Timeout | null = null;
  /** Accounts looked up and not found: account → when (a sender making up accounts costs one read per account every few seconds). */
  private readonly missing = new Map<string, number>();
  /** The accounts whose keys could not be opened, as last logged. */
  private unreadableSaid = '';
  private refreshing: Promise<void> | null = null;
  private flushing: Promise<void> = Promise.resolve();
  private readonly unknownAt = new Map<string, number>();
  private unknownHour: number[] = [];
  private readonly now: () => Date;
  private readonly o: Required<Pick<PanelGatewayOptions, 'refreshMs' | 'flushMs' | 'unknownEveryMs' | 'unknownPerHour'>>;
  /** Unknown-account messages logged without an alert (the alert limits were reached). */
  unknownSuppressed = 0;

  constructor(private readonly opts: PanelGatewayOptions) {
    this.now = opts.now ?? (() => new Date());
    this.o = {
      refreshMs: opts.refreshMs ?? 10_000, flushMs: opts.flushMs ?? 2_000,
      unknownEveryMs: opts.unknownEveryMs ?? 600_000, unknownPerHour: opts.unknownPerHour ?? 60,
    };
    this.receiver = new Dc09Receiver({
      host: opts.host, port: opts.port, windowMs: opts.windowMs, logger: opts.logger, now: this.now,
      ...(opts.maxConnections !== undefined ? { maxConnections: opts.maxConnections } : {}),
      ...(opts.maxConnectionsPerAddress !== undefined ? { maxConnectionsPerAddress: opts.maxConnectionsPerAddress } : {}),
      keyFor: (account) => {
        const k = this.keys.get(account.toUpperCase());
        // a key that cannot be opened refuses the account's frames, clear or encrypted, rather than accept them unchecked
        return k?.unreadable ? UNREADABLE : k?.key ?? null;
      },
      learn: (account) => this.learn(account),
      handle: (msg) => this.handle(msg),
    });
  }

  get stats(): Dc09ReceiverStats & { connections: number; accounts: number; unknownSuppressed: number } {
    return { ...this.receiver.stats, connections: this.receiver.connections, accounts: this.keys.size, unknownSuppressed: this.unknownSuppressed };
  }

  address(): { host: string; port: number } {
    return this.receiver.address();
  }

  /** Reads the accounts, then listens; keeps reading them every `refreshMs`. */
  async start(): Promise<void> {
    await this.refresh();
    await this.receiver.start();
    this.refreshTimer = setInterval(() => void this.refresh().catch((err: unknown) => this.opts.logger.error({ err }, 'panel accounts could not be read')), this.o.refreshMs);
    this.refreshTimer.unref();
    this.flushTimer = setInterval(() => void this.flush(), this.o.flushMs);
    this.flushTimer.unref();
  }

  /** Stops listening, lets frames being handled finish, and writes the last link-test times. */
  async stop(graceMs = 5_000): Promise<void> {
    if (this.refreshTimer) clearInterval(this.refreshTimer);
    if (this.flushTimer) clearInterval(this.flushTimer);
    this.refreshTimer = null;
    this.flushTimer = null;
    await this.receiver.stop(graceMs);
    await this.flush();
  }

  /** Reads the accounts and their keys again (one read at a time). */
  refresh(): Promise<void> {
    this.refreshing ??= (async () => {
      try {
        const list = await this.opts.core.panelKeys();
        this.keys = new Map(list.map((k) => [k.account, k]));
        const unreadable = list.filter((k) => k.unreadable).map((k) => k.account);
        const said = unreadable.join(',');
        if (said !== this.unreadableSaid) this.unreadableSaid = said;
        else return;
        if (unreadable.length) this.opts.logger.error({ accounts: unreadable.slice(0, 20), count: unreadable.length }, 'panel keys cannot be opened with this ZHEDEL_SECRET: their frames are refused until the keys are set again');
      } finally {
        this.refreshing = null;
      }
    })();
    return this.refreshing;
  }

  /** Writes the times of the link tests heard since the last write; kept for the next one on failure. */
  flush(): Promise<void> {
    // chained: a write waits for the one under way, so a caller knows its link tests are written when it resolves
    const next = this.flushing.then(() => this.write());
    this.flushing = next;
    return next;
  }

  private async write(): Promise<void> {
    if (this.seen.size === 0) return;
    const batch = [...this.seen].map(([account, atMs]) => ({ account, atMs }));
    this.seen.clear();
    try {
      await this.opts.core.panelsSeen(batch);
    } catch (err) {
      for (const s of batch) if ((this.seen.get(s.account) ?? 0) < s.atMs) this.seen.set(s.account, s.atMs);
      this.opts.logger.error({ err, panels: batch.length }, 'link tests could not be recorded; kept for the next write');
    }
  }

  /** An account not in memory: registered a moment ago on another instance or from the command line? */
  private async learn(account: string): Promise<void> {
    if (this.keys.has(account)) return;
    const now = Date.now();
    const missed = this.missing.get(account);
    if (missed !== undefined && now - missed < 5_000) return;
    const found = await this.opts.core.panelKey(account);
    if (found) {
      this.keys.set(found.account, found);
      this.missing.delete(account);
      return;
    }
    this.missing.delete(account);
    this.missing.set(account, now);
    if (this.missing.size > 10_000) this.missing.delete(this.missing.keys().next().value as string);
  }

  private async handle(msg: Dc09Message): Promise<void> {
    const account = msg.account?.toUpperCase() ?? null;
    if (!account || !this.keys.has(account)) return this.unknown(msg);
    const at = this.now().getTime();
    if (msg.token === 'NULL') {
      // a link test: only its time matters, written with the others in a moment
      if ((this.seen.get(account) ?? 0) < at) this.seen.set(account, at);
      return;
    }
    const r = await this.opts.core.recordPanelMessage({
      account, encrypted: msg.encrypted,
      frameId: frameId([msg.receiver ?? '', msg.line, msg.seq, msg.token, ...msg.events.map((e) => `${e.code}/${e.zone ?? ''}/${e.partition ?? ''}/${e.user ?? ''}/${e.raw}`)]),
      events: msg.events.map((e) => ({ type: e.type, kind: e.kind, zone: e.zone, partition: e.partition, user: e.user, code: e.code })),
    });
    if (!r.known) return this.unknown(msg);
    if (r.repeat) this.opts.logger.debug({ account, seq: msg.seq }, 'panel report sent again: acknowledged, already kept');
    for (const e of r.events) {
      if (!e.duplicate) this.opts.logger.info({ account, object: r.objectCode, type: e.row.type, kind: e.row.kind, zone: e.row.zone, result: e.row.result }, 'panel event');
    }
  }

  /**
   * A message from an account no object has: acknowledged (the panel would otherwise repeat it
   * for ever), logged, and put before the operators — once per account per `unknownEveryMs`
   * and `unknownPerHour` in all, so that a sender making up accounts cannot flood the console.
   */
  private async unknown(msg: Dc09Message): Promise<void> {
    const now = Date.now();
    const key = msg.account ?? '';
    const summary = msg.token === 'NULL' ? 'link test' : msg.events.map((e) => `${e.type}${e.kind ? `/${e.kind}` : ''} ${e.code}${e.zone ? ` zone ${e.zone}` : ''}`).join('; ');
    this.unknownHour = this.unknownHour.filter((t) => now - t < 3_600_000);
    const last = this.unknownAt.get(key);
    if ((last !== undefined && now - last < this.o.unknownEveryMs) || this.unknownHour.length >= this.o.unknownPerHour) {
      this.unknownSuppressed++;
      this.opts.logger.warn({ account: msg.account, remote: msg.remote, summary }, 'message from an unknown panel account (alert already raised)');
      return;
    }
    this.unknownAt.set(key, now);
    if (this.unknownAt.size > 10_000) this.unknownAt.delete(this.unknownAt.keys().next().value as string);
    this.unknownHour.push(now);
    this.opts.logger.warn({ account: msg.account, remote: msg.remote, summary }, 'message from an unknown panel account');
    await this.opts.core.unknownPanel({ account: msg.account, remote: msg.remote, summary });
  }
}
