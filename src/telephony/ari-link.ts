import { EventEmitter } from 'node:events';
import ari from 'ari-client';
import { backoffDelay } from '../domain/backoff.ts';
import type { Logger } from '../logger.ts';

/**
 * The connection to Asterisk's REST Interface: the only module that talks to `ari-client`.
 * It connects (retrying with backoff until Asterisk appears), starts the Stasis application,
 * and turns ARI's WebSocket events into plain records routed by channel id. Every REST call
 * ends: it resolves, or rejects with an AriError whose `gone` is true when the channel or
 * playback no longer exists (Asterisk answers 404 for a hung-up channel).
 */

export interface AriEvent {
  type: string;
  timestamp?: string;
  application?: string;
  channel?: AriChannel;
  playback?: { id: string; state?: string; target_uri?: string; media_uri?: string };
  digit?: string;
  args?: string[];
  cause?: number;
  cause_txt?: string;
  [k: string]: unknown;
}

export interface AriChannel {
  id: string;
  name?: string;
  state?: string;
  caller?: { name?: string; number?: string };
  language?: string;
  dialplan?: { context?: string; exten?: string; priority?: number };
}

export class AriError extends Error {
  readonly gone: boolean;
  readonly status: number | null;
  constructor(message: string, status: number | null) {
    super(message);
    this.name = 'AriError';
    this.status = status;
    this.gone = status === 404;
  }
}

export interface AriLinkOptions {
  url: string;
  user: string;
  password: string;
  app: string;
  logger: Logger;
  /** Delays between connection attempts. */
  retryDelaysMs?: number[];
  /** Time limit for one REST request. */
  requestTimeoutMs?: number;
}

/** What the call flow and the call-outs need from ARI. */
export interface AriOps {
  answer(channelId: string): Promise<void>;
  play(channelId: string, media: string[], playbackId: string, lang?: string): Promise<void>;
  stopPlayback(playbackId: string): Promise<void>;
  hangup(channelId: string, reason?: string): Promise<void>;
  continueInDialplan(channelId: string, context: string, extension: string, priority: number): Promise<void>;
  originate(a: { endpoint: string; channelId: string; callerId?: string; timeoutSec: number; appArgs: string[] }): Promise<void>;
}

type Client = {
  on(event: string, fn: (...args: unknown[]) => void): void;
  removeAllListeners(event?: string): void;
  start(app: string): Promise<void>;
  stop(): void;
  channels: Record<string, (params: Record<string, unknown>) => Promise<unknown>>;
  playbacks: Record<string, (params: Record<string, unknown>) => Promise<unknown>>;
};

const DEFAULT_RETRY = [1_000, 2_000, 5_000, 10_000, 15_000, 30_000];

/** Events: 'event' (AriEvent), 'connected', 'disconnected'. */
export class AriLink extends EventEmitter implements AriOps {
  private readonly o: Required<AriLinkOptions>;
  private client: Client | null = null;
  private connected = false;
  private stopped = false;
  private attempt = 0;
  private retryTimer: NodeJS.Timeout | null = null;
  lastError: string | null = null;

  constructor(opts: AriLinkOptions) {
    super();
    this.o = { retryDelaysMs: DEFAULT_RETRY, requestTimeoutMs: 5_000, ...opts };
    // an 'error' event must never kill the process
    this.on('error', () => undefined);
  }

  isConnected(): boolean {
    return this.connected;
  }

  /** Resolves true once the WebSocket is connected (at once if it is), false after `timeoutMs`. */
  whenConnected(timeoutMs: number): Promise<boolean> {
    if (this.connected) return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = (v: boolean): void => {
        clearTimeout(t);
        this.off('connected', onConnected);
        resolve(v);
      };
      const onConnected = (): void => done(true);
      const t = setTimeout(() => done(false), timeoutMs);
      this.on('connected', onConnected);
    });
  }

  start(): void {
    this.stopped = false;
    void this.connect();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    if (this.client) this.dropClient(this.client);
    this.setConnected(false);
  }

  /** Forgets a client and closes its WebSocket (it may already be gone). */
  private dropClient(c: Client): void {
    if (this.client === c) this.client = null;
    try {
      c.removeAllListeners();
      c.stop();
    } catch {
      // already closed
    }
  }

  private setConnected(v: boolean): void {
    if (this.connected === v) return;
    this.connected = v;
    this.emit(v ? 'connected' : 'disconnected');
  }

  private scheduleRetry(): void {
    if (this.stopped) return;
    const delay = backoffDelay(this.attempt, this.o.retryDelaysMs, Math.random, { jitter: 0.2, fallbackMs: 30_000 });
    this.attempt++;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      void this.connect();
    }, delay);
    this.retryTimer.unref();
  }

  private async connect(): Promise<void> {
    if (this.stopped) return;
    const log = this.o.logger;
    let client: Client;
    // The library's Swagger loader prints a notice with console.log for Asterisk's Swagger 1.1
    // resource listing; keep stdout for our JSON logs.
    const consoleLog = console.log;
    console.log = () => undefined;
    try {
      client = (await ari.connect(this.o.url, this.o.user, this.o.password)) as unknown as Client;
    } catch (e) {
      this.lastError = errorText(e);
      if (this.attempt === 0 || this.attempt % 10 === 0) log.warn({ url: this.o.url, error: this.lastError }, 'Asterisk ARI not reachable; retrying');
      this.scheduleRetry();
      return;
    } finally {
      console.log = consoleLog;
    }
    if (this.stopped) {
      client.stop();
      return;
    }
    this.client = client;
    client.on('*', (event: unknown) => {
      try {
        this.emit('event', event as AriEvent);
      } catch (e) {
        log.error({ err: e }, 'ARI event handler failed');
      }
    });
    client.on('WebSocketConnected', () => {
      this.attempt = 0;
      this.lastError = null;
      this.setConnected(true);
      log.info('ARI WebSocket connected');
    });
    client.on('WebSocketReconnecting', (e: unknown) => {
      this.lastError = errorText(e);
      this.setConnected(false);
      log.warn({ error: this.lastError }, 'ARI WebSocket lost; reconnecting');
    });
    client.on('WebSocketMaxRetries', () => {
      this.setConnected(false);
      log.warn('ARI WebSocket gave up; connecting again from the start');
      this.dropClient(client);
      this.scheduleRetry();
    });
    client.on('APILoadError', (e: unknown) => {
      this.lastError = errorText(e);
    });
    try {
      await client.start(this.o.app);
      this.attempt = 0;
      this.setConnected(true);
      log.info({ app: this.o.app }, 'ARI application started');
    } catch (e) {
      this.lastError = errorText(e);
      log.warn({ error: this.lastError }, 'ARI application could not start; retrying');
      this.dropClient(client);
      this.scheduleRetry();
    }
  }

  private async call(resource: 'channels' | 'playbacks', op: string, params: Record<string, unknown>): Promise<unknown> {
    const c = this.client;
    if (!c) throw new AriError('not connected to Asterisk', null);
    const fn = c[resource][op];
    if (!fn) throw new AriError(`ARI operation ${resource}.${op} is not available`, null);
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        fn.call(c[resource], params),
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new AriError(`ARI ${resource}.${op} timed out`, null)), this.o.requestTimeoutMs);
        }),
      ]);
    } catch (e) {
      if (e instanceof AriError) throw e;
      throw new AriError(`ARI ${resource}.${op}: ${errorText(e)}`, statusOf(e));
    } finally {
      if (timer) clearTimeout(timer);
    }
  }

  async answer(channelId: string): Promise<void> {
    await this.call('channels', 'answer', { channelId });
  }

  async play(channelId: string, media: string[], playbackId: string, lang?: string): Promise<void> {
    await this.call('channels', 'playWithId', { channelId, playbackId, media: media.join(','), ...(lang ? { lang } : {}) });
  }

  async stopPlayback(playbackId: string): Promise<void> {
    await this.call('playbacks', 'stop', { playbackId });
  }

  async hangup(channelId: string, reason = 'normal'): Promise<void> {
    await this.call('channels', 'hangup', { channelId, reason });
  }

  async continueInDialplan(channelId: string, context: string, extension: string, priority: number): Promise<void> {
    await this.call('channels', 'continueInDialplan', { channelId, context, extension, priority });
  }

  async originate(a: { endpoint: string; channelId: string; callerId?: string; timeoutSec: number; appArgs: string[] }): Promise<void> {
    await this.call('channels', 'originateWithId', {
      channelId: a.channelId, endpoint: a.endpoint, app: this.o.app, appArgs: a.appArgs.join(','), timeout: a.timeoutSec,
      ...(a.callerId ? { callerId: a.callerId } : {}),
    });
  }
}

function errorText(e: unknown): string {
  if (e instanceof Error) return e.message;
  if (typeof e === 'object' && e && 'message' in e) return String((e as { message: unknown }).message);
  return String(e);
}

/** ari-client's errors carry the HTTP status in different places depending on the path. */
function statusOf(e: unknown): number | null {
  if (typeof e !== 'object' || e === null) return null;
  const o = e as Record<string, unknown>;
  for (const k of ['status', 'statusCode']) if (typeof o[k] === 'number') return o[k] as number;
  const msg = errorText(e);
  if (/not found/i.test(msg) || /\b404\b/.test(msg)) return 404;
  return null;
}
