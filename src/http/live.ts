import type { FastifyReply, FastifyRequest } from 'fastify';
import type { LiveEvent } from '../core/ports.ts';
import { AppError } from '../domain/errors.ts';
import type { LiveHub, MetricsSource, RevocationMarker } from './common.ts';

/**
 * Status changes made by another process (the CLI, a second service instance) do not pass
 * through this process's event hub. While anyone listens, the watcher compares the objects'
 * statuses with what it saw last and emits what changed.
 */
export class StatusWatcher {
  private timer: NodeJS.Timeout | null = null;
  private listeners = 0;
  private seen = new Map<string, string>();
  /** A snapshot under way: the next tick waits for the one after. */
  private reading = false;

  constructor(private readonly source: MetricsSource, private readonly hub: LiveHub, private readonly everyMs: number) {}

  acquire(): () => void {
    this.listeners++;
    if (!this.timer) {
      void this.snapshot(false);
      this.timer = setInterval(() => void this.snapshot(true), this.everyMs);
      this.timer.unref();
    }
    return () => {
      this.listeners--;
      if (this.listeners <= 0) this.stop();
    };
  }

  /** Events emitted in this process are already known: remember them so they are not sent twice. */
  note(e: LiveEvent): void {
    if (e.type === 'object-status') this.seen.set(e.objectCode, `${e.status}|${e.since}`);
  }

  private async snapshot(emit: boolean): Promise<void> {
    if (this.reading) return;
    this.reading = true;
    let statuses: Awaited<ReturnType<MetricsSource['objectStatuses']>>;
    try {
      statuses = await this.source.objectStatuses();
    } catch {
      return; // the database is closing; the streams end with the service
    } finally {
      this.reading = false;
    }
    for (const o of statuses) {
      const key = `${o.status}|${o.since}`;
      const before = this.seen.get(o.code);
      this.seen.set(o.code, key);
      if (emit && before !== undefined && before !== key) {
        // every instance's watcher sees the change itself: not sent on to the others
        const e: LiveEvent = { type: 'object-status', clientId: o.clientId, objectCode: o.code, status: o.status as 'armed', since: o.since, cause: 'elsewhere' };
        if (this.hub.emitLocal) this.hub.emitLocal(e);
        else this.hub.emit(e);
      }
    }
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.listeners = 0;
  }
}

interface OpenStream {
  key: string;
  address: string;
  /** Re-checked whenever the revocation marker moves; false ends the stream. */
  alive: () => boolean | Promise<boolean>;
  revoke(): void;
  /** Ends the stream because the service stops (the client reconnects, e.g. to another instance). */
  shutdown(): void;
}

/**
 * The open event streams of this process: caps per session (or operator) and per address, and
 * revocation made by another process (the CLI blocking a number or disabling an operator).
 * While a stream is open, the marker is read every `everyMs`; when it moved, every such stream's
 * session is checked again and the dead ones end with a `revoked` event.
 */
export class StreamRegistry {
  private readonly open = new Set<OpenStream>();
  private timer: NodeJS.Timeout | null = null;
  private last: number | string | null = null;
  /** A read of the marker (and its recheck) under way: ticks meanwhile are skipped. */
  private polling = false;

  constructor(private readonly o: { marker: RevocationMarker | null; everyMs: number; perKey: number; perAddress: number }) {}

  /** Throws 429 when the session or the address already holds its share of streams. */
  admit(key: string, address: string): void {
    let byKey = 0;
    let byAddress = 0;
    for (const s of this.open) {
      if (s.key === key) byKey++;
      if (s.address === address) byAddress++;
    }
    if (byKey >= this.o.perKey) throw new AppError('RATE_LIMITED', `at most ${this.o.perKey} event streams per session; close one first`);
    if (byAddress >= this.o.perAddress) throw new AppError('RATE_LIMITED', `at most ${this.o.perAddress} event streams per address; close one first`);
  }

  add(s: OpenStream): () => void {
    this.open.add(s);
    if (this.o.marker && !this.timer) {
      void this.first();
      this.timer = setInterval(() => void this.poll(), this.o.everyMs);
      this.timer.unref();
    }
    return () => {
      this.open.delete(s);
      if (this.open.size === 0) this.stopTimer();
    };
  }

  get size(): number {
    return this.open.size;
  }

  private async read(): Promise<number | string | null> {
    try {
      return (await this.o.marker?.()) ?? null;
    } catch {
      return null; // the database is closing; the streams end with the service
    }
  }

  /** The marker as the first stream opened. */
  private async first(): Promise<void> {
    this.polling = true;
    try {
      this.last = await this.read();
    } finally {
      this.polling = false;
    }
  }

  private async poll(): Promise<void> {
    if (this.polling) return;
    this.polling = true;
    try {
      const now = await this.read();
      if (now === null || now === this.last) return;
      this.last = now;
      await this.recheck();
    } finally {
      this.polling = false;
    }
  }

  /**
   * Ends every stream whose session or operator credentials are no longer valid. Called when
   * the marker moved, and by routes that revoked something in this process.
   */
  async recheck(): Promise<void> {
    for (const s of [...this.open]) {
      let ok = true;
      try {
        ok = await s.alive();
      } catch {
        ok = false;
      }
      if (!ok) s.revoke();
    }
  }

  private stopTimer(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  stop(): void {
    this.stopTimer();
  }

  /**
   * The service stops: every open stream ends with a `closing` event (clients reconnect, to
   * this instance after its restart or to another one), so that the HTTP server can close.
   */
  closeAll(): void {
    for (const s of [...this.open]) s.shutdown();
    this.stopTimer();
  }
}

/**
 * Opens a Server-Sent Events stream. `filter` picks the events for this listener and may
 * return 'close' to end the stream (a revoked session). Heartbeats every 15 s keep proxies
 * from closing an idle stream; `alive` is checked with each heartbeat, and also whenever the registry rechecks its streams (a revocation in this process or
 * another one).
 */
export function openStream(req: FastifyRequest, reply: FastifyReply, o: {
  hub: LiveHub; watcher: StatusWatcher | null; filter: (e: LiveEvent) => Record<string, unknown> | null | 'close'; alive: () => boolean | Promise<boolean>;
  hello: Record<string, unknown>;
  /** The caps and revocation; `key` names the session or operator. */
  streams: StreamRegistry; key: string;
}): void {
  o.streams.admit(o.key, req.ip);
  reply.hijack();
  const res = reply.raw;
  res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-accel-buffering': 'no' });
  const write = (event: string, data: unknown): void => {
    res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  };
  write('hello', o.hello);
  let closed = false;
  const release = o.watcher?.acquire() ?? (() => undefined);
  const close = (): void => {
    if (closed) return;
    closed = true;
    unsubscribe();
    clearInterval(beat);
    release();
    unregister();
    res.end();
  };
  const unregister = o.streams.add({
    key: o.key, address: req.ip, alive: o.alive,
    revoke: () => {
      if (closed) return;
      write('revoked', { reason: 'the session ended' });
      close();
    },
    shutdown: () => {
      if (closed) return;
      write('closing', { reason: 'the service is stopping; reconnect' });
      close();
    },
  });
  const unsubscribe = o.hub.subscribe((e) => {
    if (closed) return;
    o.watcher?.note(e);
    const out = o.filter(e);
    if (out === 'close') {
      write('revoked', { reason: 'the session ended' });
      close();
    } else if (out) {
      write(e.type, out);
    }
  });
  let beating = false;
  const heartbeat = async (): Promise<void> => {
    if (beating) return;
    beating = true;
    let ok: boolean;
    try {
      ok = await o.alive();
    } catch {
      ok = false;
    } finally {
      beating = false;
    }
    if (closed) return;
    if (!ok) {
      write('revoked', { reason: 'the session ended' });
      close();
      return;
    }
    res.write(': keep-alive\n\n');
  };
  const beat = setInterval(() => void heartbeat(), 15_000);
  beat.unref();
  req.raw.on('close', close);
}
