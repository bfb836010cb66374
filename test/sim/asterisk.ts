/**
 * Asterisk simulator: the subset of ARI (Asterisk REST Interface, Asterisk 20/22) the robot
 * uses, over HTTP and WebSocket on 127.0.0.1, port 0. Written from the ARI reference.
 *
 * Covers:
 * - /ari/api-docs/resources.json and the per-resource Swagger declarations Asterisk serves
 *   (asterisk, applications, channels, playbacks, bridges, sounds, events), for clients that
 *   build their requests from them (the service itself does not read them);
 * - HTTP basic authentication (401 otherwise) and `api_key=user:password` on the WebSocket;
 * - /ari/events?app=NAME WebSocket with StasisStart (args), StasisEnd, ChannelStateChange,
 *   ChannelDtmfReceived, PlaybackStarted, PlaybackFinished, ChannelHangupRequest,
 *   ChannelDestroyed (cause, cause_txt);
 * - channels: list, get, answer, hangup, continue (leaves Stasis), play / playWithId (several
 *   media, comma separated, as one playback), originate / originateWithId into Stasis;
 *   playbacks: get, stop (PlaybackFinished follows); a hung-up channel answers 404
 *   `{"message":"Channel not found"}` to everything, a channel out of Stasis 409;
 * - applications: list, and get one with the `channel_ids` in its Stasis (channels stay in
 *   Stasis when the application's WebSocket drops, as in Asterisk);
 * - DTMF does not stop a playback (as in Asterisk): only a stop request does.
 * Test controls: playbacks held (playing until released) so that keys land during a prompt.
 * Misbehaviours: playbacks that never finish, a caller hanging up when a given prompt starts,
 * all WebSockets dropped (clients reconnect), WebSockets gone silent (a half-open link: nothing
 * read, no pong), a frame that is not JSON, a full restart (connections refused for a while,
 * channels gone), 500 answers for chosen paths, requests on chosen paths never answered.
 * Not covered: bridges beyond creation, recordings, snoop, external media, device states.
 */
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { WebSocketServer } from 'ws';
import type { WebSocket } from 'ws';
import { resourceDeclaration, resourceListing } from './ari-resources.ts';

export interface SimChannelState {
  id: string;
  name: string;
  state: 'Down' | 'Ring' | 'Up';
  caller: { name: string; number: string };
  language: string;
  app: string | null;
  inStasis: boolean;
  gone: boolean;
  created: string;
}

export interface SimPlayback {
  id: string;
  channelId: string;
  media: string[];
  state: 'queued' | 'playing' | 'done' | 'failed';
  stoppedByApp: boolean;
  startedAt: number;
}

export type OriginateOutcome =
  | { kind: 'answer'; afterMs?: number }
  | { kind: 'busy' | 'no-answer' | 'reject' | 'fail'; afterMs?: number };

/** Milliseconds since the epoch, with fractions: requests and events recorded in the same millisecond keep their order. */
const preciseNow = (): number => performance.timeOrigin + performance.now();

export interface RequestRecord {
  /** When the request was received (preciseNow). */
  at: number;
  method: string;
  path: string;
  query: Record<string, string>;
  /** The answer's status; 0 for a request held unanswered (`holdPaths`). */
  status: number;
}

export interface EventRecord {
  /** When the event was sent (preciseNow). */
  at: number;
  type: string;
  channelId?: string;
  app: string;
}

export interface AsteriskOptions {
  port?: number;
  user?: string;
  password?: string;
  /** How long each media item of a playback plays. */
  playbackMs?: number;
}

function cause(kind: OriginateOutcome['kind']): { cause: number; cause_txt: string } {
  switch (kind) {
    case 'busy': return { cause: 17, cause_txt: 'User busy' };
    case 'no-answer': return { cause: 19, cause_txt: 'No user responding' };
    case 'reject': return { cause: 21, cause_txt: 'Call Rejected' };
    default: return { cause: 38, cause_txt: 'Network out of order' };
  }
}

export class AsteriskSim {
  server: Server | null = null;
  port = 0;
  private wss: WebSocketServer | null = null;
  private readonly user: string;
  private readonly password: string;
  playbackMs: number;
  playbacksNeverFinish = false;
  /** Paths (substring) answered with 500. */
  failPaths: string[] = [];
  /** Paths (substring) never answered: the client waits until it gives up. */
  holdPaths: string[] = [];
  /** Requests held by `holdPaths`, until the client closes them. */
  readonly held = new Set<ServerResponse>();
  private down = false;
  readonly channels = new Map<string, SimChannelState>();
  readonly playbacks = new Map<string, SimPlayback>();
  readonly requests: RequestRecord[] = [];
  readonly events: EventRecord[] = [];
  private readonly sockets = new Map<WebSocket, string[]>();
  private readonly wsTcp = new Map<WebSocket, Socket>();
  private readonly tcp = new Set<Socket>();
  private readonly calls = new Map<string, SimCall>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private seq = 0;
  /** Decides what happens to an originated call (by endpoint). Default: answered at once. */
  onOriginate: (endpoint: string) => OriginateOutcome = () => ({ kind: 'answer' });
  /** Originated calls that reached Stasis, for the test to play the callee. */
  readonly answered: SimCall[] = [];
  readonly originated: Array<{ endpoint: string; channelId: string; outcome: OriginateOutcome['kind']; at: number }> = [];

  private constructor(o: AsteriskOptions) {
    this.user = o.user ?? 'zhedel';
    this.password = o.password ?? 'secret';
    this.playbackMs = o.playbackMs ?? 20;
  }

  static async start(o: AsteriskOptions = {}): Promise<AsteriskSim> {
    const sim = new AsteriskSim(o);
    await sim.listen(o.port ?? 0);
    return sim;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** WebSocket connections open right now, per application. */
  connectedApps(): string[] {
    return [...this.sockets.values()].flat();
  }

  private listen(port: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const server = createServer((req, res) => this.onHttp(req, res));
      const wss = new WebSocketServer({ noServer: true });
      server.on('upgrade', (req, socket, head) => this.onUpgrade(wss, req, socket as Socket, head));
      server.on('connection', (s: Socket) => {
        this.tcp.add(s);
        s.on('close', () => this.tcp.delete(s));
      });
      server.on('error', reject);
      server.listen(port, '127.0.0.1', () => {
        const a = server.address();
        this.port = typeof a === 'object' && a ? a.port : 0;
        this.server = server;
        this.wss = wss;
        resolve();
      });
    });
  }

  private authorised(req: IncomingMessage, url: URL): boolean {
    const h = req.headers.authorization;
    if (h?.startsWith('Basic ')) {
      const [u, p] = Buffer.from(h.slice(6), 'base64').toString().split(':');
      return u === this.user && p === this.password;
    }
    const key = url.searchParams.get('api_key');
    return key === `${this.user}:${this.password}`;
  }

  private onUpgrade(wss: WebSocketServer, req: IncomingMessage, socket: Socket, head: Buffer): void {
    const url = new URL(req.url ?? '/', 'http://x');
    if (this.down || url.pathname !== '/ari/events' || !this.authorised(req, url)) {
      socket.write('HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n');
      socket.destroy();
      return;
    }
    const apps = (url.searchParams.get('app') ?? '').split(',').filter(Boolean);
    wss.handleUpgrade(req, socket, head, (ws) => {
      this.sockets.set(ws, apps);
      this.wsTcp.set(ws, socket);
      ws.on('close', () => {
        this.sockets.delete(ws);
        this.wsTcp.delete(ws);
      });
      ws.on('error', () => undefined);
    });
  }

  private send(app: string | null, event: Record<string, unknown>): void {
    if (!app) return;
    const e = { ...event, timestamp: new Date().toISOString(), application: app, asterisk_id: '00:00:00:00:00:01' };
    const channel = (event.channel as SimChannelState | undefined)?.id;
    this.events.push({ at: preciseNow(), type: String(event.type), app, ...(channel ? { channelId: channel } : {}) });
    const text = JSON.stringify(e);
    for (const [ws, apps] of this.sockets) if (apps.includes(app) && ws.readyState === 1) ws.send(text);
  }

  private later(ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    this.timers.add(t);
  }

  private json(res: ServerResponse, status: number, body?: unknown): number {
    if (body === undefined) {
      res.writeHead(status);
      res.end();
    } else {
      const s = JSON.stringify(body);
      res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(s) });
      res.end(s);
    }
    return status;
  }

  private view(c: SimChannelState): Record<string, unknown> {
    return {
      id: c.id, name: c.name, state: c.state, caller: c.caller, connected: { name: '', number: '' }, accountcode: '',
      dialplan: { context: 'zhedel-incoming', exten: 's', priority: 1, app_name: 'Stasis', app_data: c.app ?? '' },
      creationtime: c.created, language: c.language,
    };
  }

  private playbackView(p: SimPlayback): Record<string, unknown> {
    return { id: p.id, media_uri: p.media[0], media_uris: p.media, target_uri: `channel:${p.channelId}`, language: 'en', state: p.state };
  }

  private onHttp(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://x');
    const query = Object.fromEntries(url.searchParams.entries());
    const record = (status: number): void => {
      this.requests.push({ at: preciseNow(), method: req.method ?? 'GET', path: url.pathname, query, status });
    };
    if (this.down) {
      req.socket.destroy();
      return;
    }
    // body parameters (variables) are read and ignored
    req.resume();
    req.on('end', () => {
      if (!this.authorised(req, url)) {
        record(this.json(res, 401, { message: 'Authentication required' }));
        return;
      }
      if (this.failPaths.some((p) => url.pathname.includes(p))) {
        record(this.json(res, 500, { message: 'Internal server error' }));
        return;
      }
      if (this.holdPaths.some((p) => url.pathname.includes(p))) {
        record(0);
        this.held.add(res);
        res.on('close', () => this.held.delete(res));
        return;
      }
      record(this.route(req.method ?? 'GET', url.pathname, url.searchParams, res));
    });
  }

  private route(method: string, path: string, q: URLSearchParams, res: ServerResponse): number {
    const base = `${this.url}/ari`;
    if (path === '/ari/api-docs/resources.json') return this.json(res, 200, resourceListing(base));
    let m = /^\/ari\/api-docs\/(\w+)\.json$/.exec(path);
    if (m) {
      const d = resourceDeclaration(m[1] as string, base);
      return d ? this.json(res, 200, d) : this.json(res, 404, { message: 'Not found' });
    }
    if (path === '/ari/asterisk/info') return this.json(res, 200, { system: { version: '22.0.0-sim', entity_id: '00:00:00:00:00:01' } });
    if (path === '/ari/asterisk/ping') return this.json(res, 200, { ping: 'pong', timestamp: new Date().toISOString(), asterisk_id: '00:00:00:00:00:01' });
    if (path === '/ari/applications') return this.json(res, 200, [...new Set(this.connectedApps())].map((name) => ({ name })));
    m = /^\/ari\/applications\/([^/]+)$/.exec(path);
    if (m && method === 'GET') {
      // the application and the channels in its Stasis (they stay there when its WebSocket drops)
      const name = decodeURIComponent(m[1] as string);
      const channelIds = [...this.channels.values()].filter((c) => c.app === name && c.inStasis && !c.gone).map((c) => c.id);
      return this.json(res, 200, { name, channel_ids: channelIds, bridge_ids: [], endpoint_ids: [], device_names: [], events_allowed: [], events_disallowed: [] });
    }
    if (path === '/ari/sounds') return this.json(res, 200, []);
    if (path === '/ari/channels' && method === 'GET') return this.json(res, 200, [...this.channels.values()].filter((c) => !c.gone).map((c) => this.view(c)));
    if (path === '/ari/channels' && method === 'POST') return this.originate(q, q.get('channelId') ?? `sim-${++this.seq}`, res);

    m = /^\/ari\/playbacks\/([^/]+)$/.exec(path);
    if (m) {
      const pb = this.playbacks.get(decodeURIComponent(m[1] as string));
      if (!pb || pb.state === 'done' || pb.state === 'failed') return this.json(res, 404, { message: 'Playback not found' });
      if (method === 'GET') return this.json(res, 200, this.playbackView(pb));
      if (method === 'DELETE') {
        pb.stoppedByApp = true;
        this.finishPlayback(pb, 'done');
        return this.json(res, 204);
      }
    }

    m = /^\/ari\/channels\/([^/]+)(?:\/(\w+))?(?:\/([^/]+))?$/.exec(path);
    if (!m) return this.json(res, 404, { message: 'Resource not found' });
    const id = decodeURIComponent(m[1] as string);
    const action = m[2];
    if (method === 'POST' && !action) return this.originate(q, id, res);
    const c = this.channels.get(id);
    if (!c || c.gone) return this.json(res, 404, { message: 'Channel not found' });
    if (!action && method === 'GET') return this.json(res, 200, this.view(c));
    if (!action && method === 'DELETE') {
      this.destroy(c, 16, 'Normal Clearing', false);
      return this.json(res, 204);
    }
    if (!c.inStasis) return this.json(res, 409, { message: 'Channel not in Stasis application' });
    switch (action) {
      case 'answer':
        if (c.state !== 'Up') {
          c.state = 'Up';
          this.send(c.app, { type: 'ChannelStateChange', channel: this.view(c) });
        }
        return this.json(res, 204);
      case 'ring':
        return this.json(res, 204);
      case 'continue': {
        c.inStasis = false;
        this.calls.get(c.id)?.continued({ context: q.get('context') ?? '', extension: q.get('extension') ?? '', priority: Number(q.get('priority') ?? 1) });
        this.send(c.app, { type: 'StasisEnd', channel: this.view(c) });
        return this.json(res, 204);
      }
      case 'play': {
        const media = (q.get('media') ?? '').split(',').filter(Boolean);
        if (media.length === 0) return this.json(res, 400, { message: 'media is required' });
        const pid = m[3] ? decodeURIComponent(m[3]) : (q.get('playbackId') ?? `pb-${++this.seq}`);
        return this.json(res, 201, this.playbackView(this.startPlayback(c, pid, media)));
      }
      case 'variable':
        return method === 'GET' ? this.json(res, 200, { value: '' }) : this.json(res, 204);
      default:
        return this.json(res, 404, { message: 'Resource not found' });
    }
  }

  private startPlayback(c: SimChannelState, id: string, media: string[]): SimPlayback {
    const pb: SimPlayback = { id, channelId: c.id, media, state: 'queued', stoppedByApp: false, startedAt: Date.now() };
    this.playbacks.set(id, pb);
    this.calls.get(c.id)?.playRequested(pb);
    setImmediate(() => {
      if (pb.state !== 'queued' || c.gone) return;
      pb.state = 'playing';
      this.send(c.app, { type: 'PlaybackStarted', playback: this.playbackView(pb) });
      const call = this.calls.get(c.id);
      call?.playbackStarted(pb);
      if (!this.playbacksNeverFinish && !call?.holds(pb)) this.later(this.playbackMs * media.length, () => this.finishPlayback(pb, 'done'));
    });
    return pb;
  }

  /** Ends a playback (PlaybackFinished), as when its media has played to the end. */
  finishPlayback(pb: SimPlayback, state: 'done' | 'failed'): void {
    if (pb.state === 'done' || pb.state === 'failed') return;
    pb.state = state;
    const c = this.channels.get(pb.channelId);
    if (c && !c.gone) this.send(c.app, { type: 'PlaybackFinished', playback: this.playbackView(pb) });
    this.playbacks.delete(pb.id);
    this.calls.get(pb.channelId)?.playbackFinished(pb);
  }

  private originate(q: URLSearchParams, id: string, res: ServerResponse): number {
    const endpoint = q.get('endpoint') ?? '';
    const app = q.get('app');
    if (!endpoint || !app) return this.json(res, 400, { message: 'endpoint and app are required' });
    if (this.channels.has(id) && !this.channels.get(id)?.gone) return this.json(res, 409, { message: 'Channel with given unique ID already exists' });
    const c: SimChannelState = {
      id, name: `PJSIP/trunk-${String(++this.seq).padStart(8, '0')}`, state: 'Down', caller: { name: '', number: endpoint.replace(/\D/g, '') },
      language: 'en', app, inStasis: false, gone: false, created: new Date().toISOString(),
    };
    this.channels.set(id, c);
    const outcome = this.onOriginate(endpoint);
    this.originated.push({ endpoint, channelId: id, outcome: outcome.kind, at: Date.now() });
    const args = (q.get('appArgs') ?? '').split(',').filter(Boolean);
    this.later(outcome.afterMs ?? 5, () => {
      if (c.gone) return;
      if (outcome.kind === 'answer') {
        c.state = 'Up';
        c.inStasis = true;
        const call = new SimCall(this, c);
        this.calls.set(c.id, call);
        this.answered.push(call);
        this.send(app, { type: 'StasisStart', args, channel: this.view(c) });
      } else {
        const { cause: code, cause_txt } = cause(outcome.kind);
        c.gone = true;
        this.send(app, { type: 'ChannelDestroyed', cause: code, cause_txt, channel: this.view(c) });
      }
    });
    return this.json(res, 200, this.view(c));
  }

  /** Ends a channel: a hang-up from the caller (`fromCaller`) or by the application. */
  destroy(c: SimChannelState, code = 16, text = 'Normal Clearing', fromCaller = true): void {
    if (c.gone) return;
    if (fromCaller) this.send(c.app, { type: 'ChannelHangupRequest', cause: code, channel: this.view(c) });
    for (const pb of this.playbacks.values()) if (pb.channelId === c.id) this.playbacks.delete(pb.id);
    if (c.inStasis) this.send(c.app, { type: 'StasisEnd', channel: this.view(c) });
    c.inStasis = false;
    c.gone = true;
    this.send(c.app, { type: 'ChannelDestroyed', cause: code, cause_txt: text, channel: this.view(c) });
    this.calls.get(c.id)?.ended();
  }

  /** An incoming call from `number` reaches the Stasis application. */
  call(a: { number: string; name?: string; app?: string; args?: string[] }): SimCall {
    const id = `sim-in-${++this.seq}-${Date.now()}`;
    const c: SimChannelState = {
      id, name: `PJSIP/trunk-${String(this.seq).padStart(8, '0')}`, state: 'Ring', caller: { name: a.name ?? '', number: a.number },
      language: 'en', app: a.app ?? 'zhedel', inStasis: true, gone: false, created: new Date().toISOString(),
    };
    this.channels.set(id, c);
    const call = new SimCall(this, c);
    this.calls.set(id, call);
    this.send(c.app, { type: 'StasisStart', args: a.args ?? [], channel: this.view(c) });
    return call;
  }

  dtmf(c: SimChannelState, digit: string, durationMs = 100): void {
    if (c.gone || !c.inStasis) return;
    this.send(c.app, { type: 'ChannelDtmfReceived', digit, duration_ms: durationMs, channel: this.view(c) });
  }

  /** Sends a frame as it is (not JSON, say) to the WebSockets of `app`. */
  sendRaw(app: string, text: string): void {
    for (const [ws, apps] of this.sockets) if (apps.includes(app) && ws.readyState === 1) ws.send(text);
  }

  /**
   * The WebSockets go silent without closing (a half-open TCP link): nothing is read from them
   * any more, so a client's pings get no pong. New connections are served as usual.
   */
  silenceWebSockets(): void {
    for (const [ws, socket] of this.wsTcp) {
      socket.pause();
      this.sockets.delete(ws);
    }
  }

  /** Closes every WebSocket abruptly; clients may reconnect at once. */
  dropWebSockets(): void {
    for (const ws of this.wsTcp.keys()) ws.terminate();
    this.sockets.clear();
  }

  /** Asterisk restarts: everything is refused for `downMs`, then it is back with no channels. */
  async restart(downMs = 500): Promise<void> {
    this.down = true;
    this.dropWebSockets();
    for (const c of this.channels.values()) {
      c.gone = true;
      this.calls.get(c.id)?.ended();
    }
    for (const s of this.tcp) s.destroy();
    await new Promise((r) => setTimeout(r, downMs));
    this.down = false;
  }

  async close(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.dropWebSockets();
    for (const s of this.tcp) s.destroy();
    const server = this.server;
    this.server = null;
    this.wss?.close();
    if (server) await new Promise<void>((r) => server.close(() => r()));
  }

  /** REST requests for one channel (path contains its id). */
  requestsFor(channelId: string): RequestRecord[] {
    return this.requests.filter((r) => r.path.includes(channelId));
  }
}

/** A call as the test plays it: the caller's keys and hang-up, and what the robot played. */
export class SimCall {
  readonly id: string;
  readonly channel: SimChannelState;
  private readonly sim: AsteriskSim;
  /** Every media URI the robot asked to play, in order. */
  readonly played: string[] = [];
  readonly playbacks: SimPlayback[] = [];
  continuedTo: { context: string; extension: string; priority: number } | null = null;
  private hangupOn: ((media: string) => boolean) | null = null;
  private readonly holdOn: Array<(media: string) => boolean> = [];
  private waiters: Array<() => void> = [];
  private endedFlag = false;

  constructor(sim: AsteriskSim, c: SimChannelState) {
    this.sim = sim;
    this.channel = c;
    this.id = c.id;
  }

  get answered(): boolean {
    return this.channel.state === 'Up';
  }

  get isEnded(): boolean {
    return this.endedFlag || this.channel.gone || !this.channel.inStasis;
  }

  /** Prompt ids played (the last path element of `sound:zhedel/<lang>/<id>`), in order. */
  get prompts(): string[] {
    return this.played.map((m) => m.replace(/^sound:zhedel\//, ''));
  }

  playRequested(pb: SimPlayback): void {
    this.playbacks.push(pb);
    this.played.push(...pb.media);
    this.notify();
  }

  playbackStarted(pb: SimPlayback): void {
    if (this.hangupOn && pb.media.some((m) => this.hangupOn?.(m))) {
      this.hangupOn = null;
      setImmediate(() => this.hangup());
    }
    this.notify();
  }

  playbackFinished(_pb: SimPlayback): void {
    this.notify();
  }

  /** Whether a playback is held (plays until `release` or until the application stops it). */
  holds(pb: SimPlayback): boolean {
    return pb.media.some((m) => this.holdOn.some((f) => f(m)));
  }

  /**
   * Playbacks with matching media, from now on, keep playing until `release` (or until the
   * application stops them): a long prompt, during which the test presses keys.
   */
  holdWhenPlaying(match: string): void {
    this.holdOn.push((m) => m.includes(match));
  }

  /** Lets every held playback that is still playing finish now (PlaybackFinished), and holds no more. */
  release(): void {
    this.holdOn.length = 0;
    for (const pb of this.playbacks) if (pb.state === 'playing') this.sim.finishPlayback(pb, 'done');
  }

  continued(to: { context: string; extension: string; priority: number }): void {
    this.continuedTo = to;
    this.notify();
  }

  ended(): void {
    this.endedFlag = true;
    this.notify();
  }

  private notify(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /** Keys, one ChannelDtmfReceived each, `gapMs` apart. Resolves when all are sent. */
  async press(digits: string, o: { gapMs?: number; durationMs?: number } = {}): Promise<void> {
    for (const d of digits) {
      this.sim.dtmf(this.channel, d, o.durationMs ?? 100);
      await new Promise((r) => setTimeout(r, o.gapMs ?? 30));
    }
  }

  hangup(code = 16): void {
    this.sim.destroy(this.channel, code, 'Normal Clearing', true);
  }

  /** Hangs up as soon as a playback with matching media starts. */
  hangupWhenPlaying(match: string | ((media: string) => boolean)): void {
    this.hangupOn = typeof match === 'string' ? (m) => m.includes(match) : match;
  }

  /** Resolves when `pred` holds; rejects with a clear message after `timeoutMs`. */
  waitFor<T>(pred: () => T | undefined | null | false, timeoutMs = 5_000, what = 'condition'): Promise<T> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        const i = this.waiters.indexOf(check);
        if (i >= 0) this.waiters.splice(i, 1);
        reject(new Error(`call ${this.id}: timed out waiting for ${what}; played so far: ${this.prompts.join(' ')}`));
      }, timeoutMs);
      const check = (): void => {
        const v = pred();
        if (v) {
          clearTimeout(timer);
          resolve(v);
        } else {
          this.waiters.push(check);
        }
      };
      check();
    });
  }

  /** Waits until a prompt whose id contains `id` has been requested (after the first `after` prompts). */
  waitForPrompt(id: string, timeoutMs = 5_000, after = 0): Promise<number> {
    return this.waitFor(() => {
      const i = this.prompts.findIndex((p, k) => k >= after && p.endsWith(`/${id}`));
      return i >= 0 ? i + 1 : null;
    }, timeoutMs, `prompt ${id}`);
  }

  /**
   * Waits until a playback with the prompt `id` (after the first `after` playbacks of the call)
   * is playing (PlaybackStarted sent) or has finished (PlaybackFinished sent, stopped or not).
   */
  waitForPlayback(id: string, state: 'playing' | 'finished', timeoutMs = 5_000, after = 0): Promise<SimPlayback> {
    const reached = (pb: SimPlayback): boolean => (state === 'playing' ? pb.state !== 'queued' : pb.state === 'done' || pb.state === 'failed');
    return this.waitFor(
      () => this.playbacks.find((pb, k) => k >= after && pb.media.some((m) => m.endsWith(`/${id}`)) && reached(pb)),
      timeoutMs, `playback ${id} ${state}`);
  }

  waitForEnd(timeoutMs = 5_000): Promise<true> {
    return this.waitFor(() => this.isEnded || null, timeoutMs, 'the end of the call');
  }
}
