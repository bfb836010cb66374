import { EventEmitter } from 'node:events';
import http from 'node:http';
import https from 'node:https';
import type { WebSocket } from 'ws';
import { backoffDelay } from '../domain/backoff.ts';
import type { Logger } from '../logger.ts';

/**
 * The connection to Asterisk's REST Interface (ARI, Asterisk 20/22), spoken directly: REST
 * requests over HTTP keep-alive (`node:http`/`node:https`) with basic authentication, and the
 * event WebSocket (`/ari/events?app=NAME`) through `ws`, loaded when the link starts. It
 * connects (retrying with backoff until Asterisk appears, forever until stopped), checks the
 * credentials, opens the WebSocket, watches it with ping frames (a half-open TCP link is
 * noticed), and turns ARI's events into plain records routed by channel id. Every REST call
 * ends: it resolves, or rejects with an AriError whose `gone` is true when the channel or
 * playback no longer exists (Asterisk answers 404 for a hung-up channel); a request that gets
 * no answer in time is aborted and rejects with status null.
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
  /** Time limit for one REST request (and for the WebSocket's opening handshake). */
  requestTimeoutMs?: number;
  /** A ping frame on the WebSocket this often… */
  pingIntervalMs?: number;
  /** …and the link counts as lost when its pong has not come back within this. */
  pongTimeoutMs?: number;
  /** REST requests in flight at once, at most (Asterisk's http.conf `sessionlimit` is 100 by default). */
  maxSockets?: number;
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

const DEFAULT_RETRY = [1_000, 2_000, 5_000, 10_000, 15_000, 30_000];

type Query = Record<string, string | number | undefined>;
type Ws = typeof WebSocket;

/** `ws` is loaded when a link starts: commands that never talk to Asterisk do not pay for it. */
let wsClass: Promise<Ws> | null = null;
const loadWs = (): Promise<Ws> => (wsClass ??= import('ws').then((m) => m.WebSocket));

/** Events: 'event' (AriEvent), 'connected', 'disconnected'. */
export class AriLink extends EventEmitter implements AriOps {
  private readonly o: Required<AriLinkOptions>;
  private readonly transport: typeof http | typeof https;
  private readonly host: string;
  private readonly port: number;
  /** The URL's path without a trailing slash ('' for `http://host:8088`). */
  private readonly prefix: string;
  /** For logs: scheme, host, port and path, never the credentials. */
  private readonly shownUrl: string;
  private readonly authorization: string;
  private agent: http.Agent | null = null;
  private ws: WebSocket | null = null;
  private connected = false;
  private stopped = true;
  /** Changes at every start and stop: work begun for an earlier one stops there. */
  private generation = 0;
  private attempt = 0;
  private retryTimer: NodeJS.Timeout | null = null;
  private pingTimer: NodeJS.Timeout | null = null;
  private pongTimer: NodeJS.Timeout | null = null;
  lastError: string | null = null;

  constructor(opts: AriLinkOptions) {
    super();
    this.o = { retryDelaysMs: DEFAULT_RETRY, requestTimeoutMs: 5_000, pingIntervalMs: 20_000, pongTimeoutMs: 10_000, maxSockets: 50, ...opts };
    const u = new URL(this.o.url);
    const tls = u.protocol === 'https:' || u.protocol === 'wss:';
    this.transport = tls ? https : http;
    this.host = u.hostname.replace(/^\[(.*)\]$/, '$1');
    this.port = u.port ? Number(u.port) : tls ? 443 : 80;
    this.prefix = u.pathname.replace(/\/+$/, '');
    this.shownUrl = `${u.protocol}//${u.host}${this.prefix}`;
    this.authorization = `Basic ${Buffer.from(`${this.o.user}:${this.o.password}`).toString('base64')}`;
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
    if (!this.stopped) return;
    this.stopped = false;
    this.attempt = 0;
    // Asterisk closes a keep-alive connection idle for 15 s (http.conf session_keep_alive):
    // ours are closed after 10 s idle, before Asterisk does.
    this.agent = new this.transport.Agent({ keepAlive: true, maxSockets: this.o.maxSockets, timeout: 10_000, scheduling: 'lifo' });
    void this.connect(++this.generation);
  }

  /** Closes the WebSocket and every HTTP connection; leaves no timer behind. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.generation++;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.unsupervise();
    const ws = this.ws;
    this.ws = null;
    this.setConnected(false);
    if (ws) await closeSocket(ws);
    this.agent?.destroy();
    this.agent = null;
  }

  private setConnected(v: boolean): void {
    if (this.connected === v) return;
    this.connected = v;
    this.emit(v ? 'connected' : 'disconnected');
  }

  private scheduleRetry(generation: number): void {
    if (this.stopped || generation !== this.generation) return;
    const delay = backoffDelay(this.attempt, this.o.retryDelaysMs, Math.random, { jitter: 0.2, fallbackMs: 30_000 });
    this.attempt++;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      void this.connect(generation);
    }, delay);
    this.retryTimer.unref();
  }

  /** Checks the credentials over REST, then opens the event WebSocket. */
  private async connect(generation: number): Promise<void> {
    if (this.stopped || generation !== this.generation) return;
    const log = this.o.logger;
    let Ws: Ws;
    try {
      await this.request('GET', ['asterisk', 'info'], { only: 'system' });
      Ws = await loadWs();
    } catch (e) {
      if (generation !== this.generation) return;
      this.lastError = e instanceof AriError && (e.status === 401 || e.status === 403) ? this.refused(e.status) : errorText(e);
      if (this.attempt === 0 || this.attempt % 10 === 0) log.warn({ url: this.shownUrl, error: this.lastError }, 'Asterisk ARI not reachable; retrying');
      this.scheduleRetry(generation);
      return;
    }
    if (generation !== this.generation) return;
    const wsUrl = `${this.transport === https ? 'wss' : 'ws'}://${this.hostPort()}${this.prefix}/ari/events?${queryString({ app: this.o.app, api_key: `${this.o.user}:${this.o.password}` })}`;
    const ws = new Ws(wsUrl, { headers: { authorization: this.authorization }, handshakeTimeout: this.o.requestTimeoutMs, perMessageDeflate: false });
    this.ws = ws;
    ws.on('open', () => {
      if (this.ws !== ws) return;
      this.attempt = 0;
      this.lastError = null;
      this.supervise(ws);
      this.setConnected(true);
      log.info({ url: this.shownUrl, app: this.o.app }, 'ARI WebSocket connected');
    });
    ws.on('message', (data, isBinary) => {
      if (this.ws === ws) this.onMessage(data, isBinary);
    });
    ws.on('pong', () => {
      if (this.pongTimer) clearTimeout(this.pongTimer);
      this.pongTimer = null;
    });
    ws.on('error', (e) => {
      if (this.ws !== ws) return;
      const status = /Unexpected server response: (\d+)/.exec(e.message)?.[1];
      this.lastError = status === '401' || status === '403' ? this.refused(Number(status)) : `ARI WebSocket: ${errorText(e)}`;
    });
    ws.on('close', (code) => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.unsupervise();
      if (this.connected) {
        this.lastError ??= `ARI WebSocket closed (${code})`;
        log.warn({ url: this.shownUrl, error: this.lastError }, 'ARI WebSocket lost; reconnecting');
      }
      this.setConnected(false);
      this.scheduleRetry(generation);
    });
  }

  private refused(status: number): string {
    return `ARI refused the credentials of user ${this.o.user} (HTTP ${status})`;
  }

  private hostPort(): string {
    return `${this.host.includes(':') ? `[${this.host}]` : this.host}:${this.port}`;
  }

  /** A ping frame every pingIntervalMs; no pong within pongTimeoutMs ends the WebSocket (a half-open link). */
  private supervise(ws: WebSocket): void {
    this.unsupervise();
    this.pingTimer = setInterval(() => {
      if (this.pongTimer) return;
      this.pongTimer = setTimeout(() => {
        this.pongTimer = null;
        this.lastError = `ARI WebSocket: no pong within ${this.o.pongTimeoutMs} ms`;
        ws.terminate();
      }, this.o.pongTimeoutMs);
      this.pongTimer.unref();
      try {
        ws.ping();
      } catch {
        // closing already: 'close' follows
      }
    }, this.o.pingIntervalMs);
    this.pingTimer.unref();
  }

  private unsupervise(): void {
    if (this.pingTimer) clearInterval(this.pingTimer);
    if (this.pongTimer) clearTimeout(this.pongTimer);
    this.pingTimer = null;
    this.pongTimer = null;
  }

  private onMessage(data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean): void {
    const buf = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data);
    let event: unknown;
    try {
      event = isBinary ? null : JSON.parse(buf.toString('utf8'));
    } catch {
      event = null;
    }
    if (typeof event !== 'object' || event === null || typeof (event as { type?: unknown }).type !== 'string') {
      this.o.logger.warn({ bytes: buf.length, binary: isBinary }, 'ARI WebSocket message that is not a JSON event; ignored');
      return;
    }
    try {
      this.emit('event', event as AriEvent);
    } catch (e) {
      this.o.logger.error({ err: e }, 'ARI event handler failed');
    }
  }

  /**
   * One REST request: every path segment and query value URL-encoded, basic authentication,
   * no body. Resolves on a 2xx answer (with its JSON body when `withBody`, else undefined: the
   * call flow needs no answer's body); rejects with AriError.
   */
  private request(method: 'GET' | 'POST' | 'DELETE', segments: string[], query: Query = {}, retried = false, withBody = false): Promise<unknown> {
    const agent = this.agent;
    if (!agent) return Promise.reject(new AriError('not connected to Asterisk', null));
    const resource = `/${segments.map(encodeURIComponent).join('/')}`;
    const qs = queryString(query);
    const label = `${method} ${resource}`;
    return new Promise((resolve, reject) => {
      let settled = false;
      const settle = (err: AriError | null, body?: unknown): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (err) reject(err);
        else resolve(body);
      };
      const req = this.transport.request({
        agent, host: this.host, port: this.port, method, path: `${this.prefix}/ari${resource}${qs ? `?${qs}` : ''}`,
        headers: { authorization: this.authorization, accept: 'application/json', 'content-length': '0' },
      }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => {
          if (withBody || (res.statusCode && res.statusCode >= 400)) chunks.push(c);
        });
        res.on('error', (e) => settle(new AriError(`ARI ${label}: ${errorText(e)}`, null)));
        res.on('end', () => {
          const status = res.statusCode ?? 0;
          if (status >= 200 && status < 300) {
            settle(null, withBody ? parseJson(Buffer.concat(chunks).toString('utf8')) : undefined);
            return;
          }
          const json = parseJson(Buffer.concat(chunks).toString('utf8'));
          settle(new AriError(`ARI ${label}: ${messageOf(json) ?? (res.statusMessage || 'error')} (HTTP ${status})`, status));
        });
      });
      const timer = setTimeout(() => {
        req.destroy(new AriError(`ARI ${label} timed out after ${this.o.requestTimeoutMs} ms`, null));
      }, this.o.requestTimeoutMs);
      req.on('error', (e) => {
        // A kept-alive connection the server closed just as we reused it: the request never
        // reached Asterisk, so it is sent once more on a fresh connection.
        if (!settled && !retried && req.reusedSocket && (e as NodeJS.ErrnoException).code === 'ECONNRESET') {
          settled = true;
          clearTimeout(timer);
          resolve(this.request(method, segments, query, true, withBody));
          return;
        }
        settle(e instanceof AriError ? e : new AriError(`ARI ${label}: ${errorText(e)}`, null));
      });
      req.end();
    });
  }

  /**
   * The channels in this application's Stasis now (`GET /ari/applications/{app}`, its
   * `channel_ids`): after a reconnect, those the robot no longer knows are left over.
   */
  async appChannels(): Promise<string[]> {
    const body = await this.request('GET', ['applications', this.o.app], {}, false, true);
    const ids = (body as { channel_ids?: unknown } | null)?.channel_ids;
    return Array.isArray(ids) ? ids.filter((x): x is string => typeof x === 'string') : [];
  }

  async answer(channelId: string): Promise<void> {
    await this.request('POST', ['channels', channelId, 'answer']);
  }

  /** One playback of several media: Asterisk takes them as one comma-separated `media` value. */
  async play(channelId: string, media: string[], playbackId: string, lang?: string): Promise<void> {
    await this.request('POST', ['channels', channelId, 'play', playbackId], { media: media.join(','), lang });
  }

  async stopPlayback(playbackId: string): Promise<void> {
    await this.request('DELETE', ['playbacks', playbackId]);
  }

  async hangup(channelId: string, reason = 'normal'): Promise<void> {
    await this.request('DELETE', ['channels', channelId], { reason });
  }

  async continueInDialplan(channelId: string, context: string, extension: string, priority: number): Promise<void> {
    await this.request('POST', ['channels', channelId, 'continue'], { context, extension, priority });
  }

  async originate(a: { endpoint: string; channelId: string; callerId?: string; timeoutSec: number; appArgs: string[] }): Promise<void> {
    await this.request('POST', ['channels', a.channelId], {
      endpoint: a.endpoint, app: this.o.app, appArgs: a.appArgs.join(','), timeout: a.timeoutSec, callerId: a.callerId,
    });
  }
}

function queryString(q: Query): string {
  return Object.entries(q)
    .filter((kv): kv is [string, string | number] => kv[1] !== undefined)
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`)
    .join('&');
}

function parseJson(body: string): unknown {
  if (!body) return undefined;
  try {
    return JSON.parse(body);
  } catch {
    return undefined;
  }
}

/** Asterisk's error answers are `{"message": "…"}`. */
function messageOf(json: unknown): string | undefined {
  const m = typeof json === 'object' && json !== null ? (json as { message?: unknown }).message : undefined;
  return typeof m === 'string' && m ? m : undefined;
}

function errorText(e: unknown): string {
  if (e instanceof AggregateError && !e.message) return e.errors.map(errorText).join('; ');
  if (e instanceof Error) return e.message || String((e as NodeJS.ErrnoException).code ?? e.name);
  return String(e);
}

/** Closes a WebSocket politely; ends it after a second if the other side does not answer. */
function closeSocket(ws: WebSocket): Promise<void> {
  if (ws.readyState === ws.CLOSED) return Promise.resolve();
  return new Promise((resolve) => {
    const t = setTimeout(() => ws.terminate(), 1_000);
    ws.once('close', () => {
      clearTimeout(t);
      resolve();
    });
    ws.on('error', () => undefined);
    ws.close(1000);
  });
}
