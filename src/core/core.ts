import { AppError } from '../domain/errors.ts';
import type { Keys } from '../domain/crypto.ts';
import { open, seal } from '../domain/crypto.ts';
import { JournalVerifier } from '../domain/journal.ts';
import type { JournalContent, JournalRecord, VerifyResult } from '../domain/journal.ts';
import { OTP_POLICY, codeMatches, generateCode, hashCode, maySendCode, normaliseCode } from '../domain/otp.ts';
import { parseMobile, tryParsePhone } from '../domain/phone.ts';
import { DEFAULT_POLICY, needsOtp } from '../domain/policy.ts';
import type { AuthPolicy } from '../domain/policy.ts';
import { otpText } from '../domain/texts.ts';
import type {
  AuthMethod, BlockReason, Channel, ClientView, Lang, NumberView, ObjectAction, ObjectStatus, ObjectView,
  RefusalReason, SmsPriority,
} from '../domain/types.ts';
import { BLOCK_REASONS, LANGS, PRIORITY } from '../domain/types.ts';
import type {
  ChallengeRow, Clock, JournalFilter, LiveEvent, LiveEvents, MonitoringEventRow, OutboxRow, OutboxSignal, Random, Store,
} from './ports.ts';

export interface CoreDeps {
  store: Store;
  clock: Clock;
  random: Random;
  keys: Keys;
  timeZone: string;
  policy?: AuthPolicy;
  events?: LiveEvents;
  outboxSignal?: OutboxSignal;
}

export type Identity =
  | { ok: true; phone: string; number: NumberView; client: ClientView; objects: ObjectView[] }
  | {
    ok: false;
    phone: string | null;
    reason: 'unknown' | 'pending' | 'blocked' | 'suspended';
    client?: ClientView;
    number?: NumberView;
  };

export type RequestResult =
  | { kind: 'refused'; reason: RefusalReason; lang: Lang; seq: number; retryAfterMs?: number; objectCodes?: string[] }
  | { kind: 'status'; objects: ObjectView[]; lang: Lang; seq: number }
  | { kind: 'done'; action: 'arm' | 'disarm'; object: ObjectView; changed: boolean; lang: Lang; seq: number }
  | { kind: 'challenge'; challengeId: string; expiresAt: string; object: ObjectView; action: ObjectAction; lang: Lang; seq: number };

export type ConfirmRefusal =
  | 'unknown' | 'blocked' | 'suspended' | 'no-pending' | 'code-wrong' | 'code-expired' | 'code-used' | 'code-dead'
  | 'object-not-allowed';

export type ConfirmResult =
  | {
    kind: 'done'; purpose: string; challengeId: string; numberId: number; clientId: number; lang: Lang; seq: number;
    object?: ObjectView; changed: boolean;
  }
  | { kind: 'refused'; reason: ConfirmRefusal; lang: Lang; seq: number; attemptsLeft?: number };

export interface ClientRequest {
  channel: Exclude<Channel, 'operator' | 'system' | 'monitoring'>;
  /** Caller ID, SMS sender, or the number a chat/app session belongs to, as received. */
  phone: string;
  action: ObjectAction;
  objectCode?: string | null;
  /** Free, non-secret context for the journal (call id, SMS id, request id). */
  ref?: string;
}

/** Where a client's request came in, and how the author was recognised. */
const CHANNEL_AUTH: Record<ClientRequest['channel'], AuthMethod> = {
  phone: 'caller-id',
  sms: 'sender',
  chat: 'session',
  app: 'session',
};

const CHALLENGE_ANY_CHANNEL = 'any';

/**
 * The use cases every channel calls. Each public method runs in one transaction and writes
 * its electronic document to the journal in that same transaction, so a request is either
 * done and journalled or neither. Methods that refuse a client return a result; methods an
 * operator calls throw AppError on bad input and change nothing.
 */
export class Core {
  private readonly store: Store;
  private readonly clock: Clock;
  private readonly random: Random;
  private readonly keys: Keys;
  private readonly policy: AuthPolicy;
  private readonly events: LiveEvents | undefined;
  private readonly outboxSignal: OutboxSignal | undefined;
  readonly timeZone: string;

  constructor(deps: CoreDeps) {
    this.store = deps.store;
    this.clock = deps.clock;
    this.random = deps.random;
    this.keys = deps.keys;
    this.policy = deps.policy ?? DEFAULT_POLICY;
    this.events = deps.events;
    this.outboxSignal = deps.outboxSignal;
    this.timeZone = deps.timeZone;
  }

  private nowIso(): string {
    return this.clock.now().toISOString();
  }

  private journal(c: Partial<JournalContent> & Pick<JournalContent, 'channel' | 'action' | 'auth' | 'outcome'>): JournalRecord {
    return this.store.appendJournal({
      at: c.at ?? this.nowIso(),
      channel: c.channel,
      phone: c.phone ?? null,
      clientId: c.clientId ?? null,
      objectCode: c.objectCode ?? null,
      action: c.action,
      auth: c.auth,
      challengeId: c.challengeId ?? null,
      operator: c.operator ?? null,
      outcome: c.outcome,
      reason: c.reason ?? null,
      detail: c.detail ?? null,
    });
  }

  /** Live events go out only after the transaction that caused them has committed. */
  private afterCommit: LiveEvent[] = [];
  private smsQueued = false;

  private runDepth = 0;

  private run<T>(fn: () => T): T {
    if (this.runDepth > 0) return fn();
    this.afterCommit = [];
    this.smsQueued = false;
    let result: T;
    this.runDepth++;
    try {
      result = this.store.tx(fn);
    } catch (e) {
      this.afterCommit = [];
      this.smsQueued = false;
      throw e;
    } finally {
      this.runDepth--;
    }
    const events = this.afterCommit;
    this.afterCommit = [];
    for (const e of events) this.events?.emit(e);
    if (this.smsQueued) {
      this.smsQueued = false;
      this.outboxSignal?.queued();
    }
    return result;
  }

  // ---------------------------------------------------------------- identification

  /** Who is this number? Reads only; channels journal what they do with the answer. */
  identify(raw: string | null | undefined): Identity {
    const parsed = tryParsePhone(raw);
    if (!parsed) return { ok: false, phone: null, reason: 'unknown' };
    const phone = parsed.e164;
    const number = this.store.getLiveNumber(phone);
    if (!number) return { ok: false, phone, reason: 'unknown' };
    const client = this.store.getClient(number.clientId);
    if (!client) return { ok: false, phone, reason: 'unknown' };
    if (number.state === 'pending') return { ok: false, phone, reason: 'pending', client, number };
    if (number.state === 'blocked') return { ok: false, phone, reason: 'blocked', client, number };
    if (client.suspendedAt) return { ok: false, phone, reason: 'suspended', client, number };
    return { ok: true, phone, number, client, objects: this.store.objectsForNumber(number) };
  }

  /** Remembers the language a caller chose. */
  setLanguage(clientId: number, lang: Lang, channel: Channel, phone: string | null): void {
    if (!LANGS.includes(lang)) throw new AppError('BAD_INPUT', `language must be one of ${LANGS.join(', ')}`);
    this.run(() => {
      const client = this.mustClient(clientId);
      this.store.setClientLang(client.id, lang);
      this.journal({ channel, phone, clientId: client.id, action: 'language', auth: channel === 'operator' ? 'operator' : 'caller-id', outcome: 'accepted', detail: lang });
    });
  }

  // ---------------------------------------------------------------- client requests

  /** status / arm / disarm from a client channel, identified by its trusted number. */
  request(req: ClientRequest): RequestResult {
    return this.run(() => {
      const id = this.identify(req.phone);
      const auth = CHANNEL_AUTH[req.channel];
      const objectCode = req.objectCode ?? null;
      const detail = req.ref ?? null;
      if (!id.ok) {
        const rec = this.journal({
          channel: req.channel, phone: id.phone ?? null, clientId: id.client?.id ?? null, objectCode,
          action: req.action, auth, outcome: 'refused', reason: id.reason,
          detail: id.phone ? detail : `caller ${String(req.phone ?? '').slice(0, 32)}`,
        });
        return { kind: 'refused', reason: id.reason, lang: id.client?.lang ?? 'ru', seq: rec.seq };
      }
      const base = { channel: req.channel, phone: id.phone, clientId: id.client.id, auth, detail } as const;
      const lang = id.client.lang;

      if (req.action === 'status' && !objectCode) {
        const rec = this.journal({ ...base, action: 'status', outcome: 'accepted' });
        return { kind: 'status', objects: id.objects, lang, seq: rec.seq };
      }

      const pick = this.pickObject(id.objects, objectCode);
      if (!pick.ok) {
        const rec = this.journal({ ...base, objectCode, action: req.action, outcome: 'refused', reason: pick.reason });
        const res: RequestResult = { kind: 'refused', reason: pick.reason, lang, seq: rec.seq };
        if (pick.reason === 'object-ambiguous') res.objectCodes = id.objects.map((o) => o.code);
        return res;
      }
      const object = pick.object;

      if (req.action === 'status') {
        const rec = this.journal({ ...base, objectCode: object.code, action: 'status', outcome: 'accepted' });
        return { kind: 'status', objects: [object], lang, seq: rec.seq };
      }

      if (needsOtp(this.policy, req.channel, req.action)) {
        const ch = this.createChallenge({
          number: id.number, client: id.client, purpose: req.action, object, channel: req.channel, operator: null,
        });
        if (!ch.ok) {
          const rec = this.journal({ ...base, objectCode: object.code, action: req.action, outcome: 'refused', reason: 'rate-limited' });
          return { kind: 'refused', reason: 'rate-limited', lang, seq: rec.seq, retryAfterMs: ch.retryAfterMs };
        }
        const rec = this.journal({
          ...base, objectCode: object.code, action: req.action, outcome: 'challenged', challengeId: ch.challengeId,
        });
        return { kind: 'challenge', challengeId: ch.challengeId, expiresAt: ch.expiresAt, object, action: req.action, lang, seq: rec.seq };
      }

      const target: ObjectStatus = req.action === 'arm' ? 'armed' : 'disarmed';
      const { object: after, changed } = this.applyStatus(object, target, req.action);
      const rec = this.journal({
        ...base, objectCode: object.code, action: req.action, outcome: 'executed', detail: joinDetail(detail, changed ? null : 'unchanged'),
      });
      return { kind: 'done', action: req.action, object: after, changed, lang, seq: rec.seq };
    });
  }

  private pickObject(objects: ObjectView[], code: string | null):
    { ok: true; object: ObjectView } | { ok: false; reason: 'no-object' | 'object-not-allowed' | 'object-ambiguous' } {
    if (code) {
      const own = objects.find((o) => o.code === code);
      if (own) return { ok: true, object: own };
      // Do not tell a client whether someone else's object exists.
      return { ok: false, reason: this.store.getObjectByCode(code) ? 'object-not-allowed' : 'no-object' };
    }
    if (objects.length === 1) return { ok: true, object: objects[0] as ObjectView };
    if (objects.length === 0) return { ok: false, reason: 'no-object' };
    return { ok: false, reason: 'object-ambiguous' };
  }

  private applyStatus(object: ObjectView, target: ObjectStatus, cause: string): { object: ObjectView; changed: boolean } {
    const fresh = this.store.getObject(object.id) ?? object;
    if (fresh.status === target) return { object: fresh, changed: false };
    const since = this.nowIso();
    this.store.setObjectStatus(fresh.id, target, since);
    const after = { ...fresh, status: target, statusSince: since };
    this.afterCommit.push({ type: 'object-status', clientId: fresh.clientId, objectCode: fresh.code, status: target, since, cause });
    return { object: after, changed: true };
  }

  /**
   * A request that reads the client's own data or asks for help (balance, help, a command
   * that was not understood): identified and journalled like any other document.
   */
  inquiry(a: { channel: ClientRequest['channel']; phone: string; action: 'balance' | 'help' | 'unrecognised' | 'call'; ref?: string }): Identity {
    return this.run(() => {
      const id = this.identify(a.phone);
      this.journal({
        channel: a.channel, phone: id.phone, clientId: id.ok ? id.client.id : id.client?.id ?? null, action: a.action,
        auth: CHANNEL_AUTH[a.channel], outcome: id.ok ? 'accepted' : 'refused', reason: id.ok ? null : id.reason,
        detail: id.phone ? a.ref ?? null : `caller ${String(a.phone ?? '').slice(0, 32)}`,
      });
      return id;
    });
  }

  // ---------------------------------------------------------------- dynamic authentication

  private createChallenge(a: {
    number: NumberView; client: ClientView; purpose: string; object: ObjectView | null; channel: string; operator: string | null;
  }): { ok: true; challengeId: string; expiresAt: string } | { ok: false; retryAfterMs: number } {
    const now = this.clock.now();
    const sends = this.store.otpSendsSince(a.number.phone, new Date(now.getTime() - 3_600_000).toISOString())
      .map((s) => Date.parse(s));
    const may = maySendCode(sends, now.getTime());
    if (!may.ok) return { ok: false, retryAfterMs: may.retryAfterMs };
    const challengeId = this.random.bytes(12).toString('base64url');
    const code = generateCode((max) => this.random.int(max));
    const expiresAt = new Date(now.getTime() + OTP_POLICY.ttlMs).toISOString();
    this.store.insertChallenge({
      id: challengeId, purpose: a.purpose, numberId: a.number.id, objectId: a.object?.id ?? null, channel: a.channel,
      codeHash: hashCode(this.keys.otp, challengeId, code), createdAt: now.toISOString(), expiresAt,
      attempts: 0, state: 'pending', operator: a.operator,
    });
    this.store.recordOtpSend(a.number.phone, now.toISOString());
    this.enqueue({
      priority: 'otp', kind: 'otp', phone: a.number.phone, clientId: a.client.id,
      text: otpText(a.client.lang, code, a.purpose, a.object?.code ?? null), secret: true, expiresAt,
    });
    return { ok: true, challengeId, expiresAt };
  }

  /**
   * A code comes back. With `challengeId` (app, chat, HTTP) that challenge is checked; without
   * it (a call, an SMS reply) the newest pending challenge of this number on this channel.
   * Wrong codes count; the third kills the challenge.
   */
  confirm(a: { channel: Channel; phone: string; code: string; challengeId?: string | null; operator?: string | null; ref?: string }): ConfirmResult {
    return this.run(() => this.confirmInTx(a));
  }

  private confirmInTx(a: { channel: Channel; phone: string; code: string; challengeId?: string | null; operator?: string | null; ref?: string }): ConfirmResult {
    const parsed = tryParsePhone(a.phone);
    const phone = parsed?.e164 ?? null;
    const number = phone ? this.store.getLiveNumber(phone) : undefined;
    const client = number ? this.store.getClient(number.clientId) : undefined;
    const lang = client?.lang ?? 'ru';
    const auth: AuthMethod = a.channel === 'operator' ? 'operator' : 'otp';
    const base = { channel: a.channel, phone, clientId: client?.id ?? null, auth, operator: a.operator ?? null } as const;
    const refuse = (reason: ConfirmRefusal, extra: Partial<JournalContent> = {}, attemptsLeft?: number): ConfirmResult => {
      const rec = this.journal({ ...base, action: 'confirm', outcome: 'refused', reason, detail: a.ref ?? null, ...extra });
      const r: ConfirmResult = { kind: 'refused', reason, lang, seq: rec.seq };
      if (attemptsLeft !== undefined) r.attemptsLeft = attemptsLeft;
      return r;
    };
    if (!number || !client) return refuse('unknown');
    if (number.state === 'blocked') return refuse('blocked');

    let ch: ChallengeRow | undefined;
    if (a.challengeId) {
      ch = this.store.getChallenge(a.challengeId);
      if (ch && ch.numberId !== number.id) ch = undefined;
    } else {
      ch = this.store.pendingChallenges(number.id)
        .find((c) => c.channel === a.channel || c.channel === CHALLENGE_ANY_CHANNEL);
    }
    if (!ch) return refuse('no-pending');
    const chRef = { challengeId: ch.id };
    if (ch.channel !== a.channel && ch.channel !== CHALLENGE_ANY_CHANNEL) return refuse('no-pending', chRef);
    if (ch.state === 'used') return refuse('code-used', chRef);
    if (ch.state !== 'pending') return refuse('code-dead', chRef);
    const now = this.clock.now();
    if (now.getTime() >= Date.parse(ch.expiresAt)) {
      this.store.updateChallenge(ch.id, ch.attempts, 'expired');
      return refuse('code-expired', chRef);
    }
    // A pending number confirms itself; everything else needs an active number of a paying client.
    if (ch.purpose !== 'confirm-number') {
      if (number.state !== 'active') return refuse('blocked', chRef);
      if (client.suspendedAt) return refuse('suspended', chRef);
    }
    const code = normaliseCode(a.code);
    if (!code || !codeMatches(this.keys.otp, ch.id, code, ch.codeHash)) {
      const attempts = ch.attempts + 1;
      const dead = attempts >= OTP_POLICY.maxAttempts;
      this.store.updateChallenge(ch.id, attempts, dead ? 'failed' : 'pending');
      const object = ch.objectId ? this.store.getObject(ch.objectId) : undefined;
      return dead
        ? refuse('code-dead', { ...chRef, objectCode: object?.code ?? null })
        : refuse('code-wrong', { ...chRef, objectCode: object?.code ?? null }, OTP_POLICY.maxAttempts - attempts);
    }
    this.store.updateChallenge(ch.id, ch.attempts, 'used');

    let object: ObjectView | undefined;
    let changed = false;
    if (ch.purpose === 'arm' || ch.purpose === 'disarm') {
      object = ch.objectId ? this.store.getObject(ch.objectId) : undefined;
      const allowed = object && this.store.objectsForNumber(number).some((o) => o.id === object?.id);
      if (!object || !allowed) return refuse('object-not-allowed', chRef);
      const r = this.applyStatus(object, ch.purpose === 'arm' ? 'armed' : 'disarmed', ch.purpose);
      object = r.object;
      changed = r.changed;
    } else if (ch.purpose === 'confirm-number') {
      if (number.state === 'pending') {
        this.store.setNumberState(number.id, 'active', now.toISOString());
        changed = true;
        this.afterCommit.push({ type: 'number-state', clientId: client.id, numberId: number.id, phone: number.phone, state: 'active' });
      }
    }
    const rec = this.journal({
      ...base, objectCode: object?.code ?? null, action: ch.purpose, outcome: 'executed', challengeId: ch.id,
      detail: joinDetail(a.ref ?? null, changed ? null : 'unchanged'),
    });
    const res: ConfirmResult = {
      kind: 'done', purpose: ch.purpose, challengeId: ch.id, numberId: number.id, clientId: client.id, lang, seq: rec.seq, changed,
    };
    if (object) res.object = object;
    return res;
  }

  /** Sign-in by dynamic authentication (app, chat): a code to an active trusted number. */
  requestSignIn(a: { channel: 'app' | 'chat'; phone: string; ref?: string }):
    { kind: 'sent'; challengeId: string; expiresAt: string } | { kind: 'refused'; reason: RefusalReason; retryAfterMs?: number } {
    return this.run(() => {
      const id = this.identify(a.phone);
      if (!id.ok) {
        this.journal({ channel: a.channel, phone: id.phone, clientId: id.client?.id ?? null, action: 'sign-in', auth: 'none', outcome: 'refused', reason: id.reason, detail: a.ref ?? null });
        return { kind: 'refused', reason: id.reason };
      }
      const ch = this.createChallenge({ number: id.number, client: id.client, purpose: 'sign-in', object: null, channel: a.channel, operator: null });
      if (!ch.ok) {
        this.journal({ channel: a.channel, phone: id.phone, clientId: id.client.id, action: 'sign-in', auth: 'none', outcome: 'refused', reason: 'rate-limited', detail: a.ref ?? null });
        return { kind: 'refused', reason: 'rate-limited', retryAfterMs: ch.retryAfterMs };
      }
      this.journal({ channel: a.channel, phone: id.phone, clientId: id.client.id, action: 'sign-in', auth: 'none', outcome: 'challenged', challengeId: ch.challengeId, detail: a.ref ?? null });
      return { kind: 'sent', challengeId: ch.challengeId, expiresAt: ch.expiresAt };
    });
  }

  // ---------------------------------------------------------------- operators: registry

  private mustClient(id: number): ClientView {
    if (!Number.isSafeInteger(id) || id <= 0) throw new AppError('BAD_INPUT', 'client id must be a positive integer');
    const c = this.store.getClient(id);
    if (!c) throw new AppError('CLIENT_NOT_FOUND', `no client with id ${id}`);
    return c;
  }

  private mustObject(code: string): ObjectView {
    const o = this.store.getObjectByCode(checkObjectCode(code));
    if (!o) throw new AppError('OBJECT_NOT_FOUND', `no object with code ${code}`);
    return o;
  }

  private mustLiveNumber(raw: string): NumberView {
    const phone = parseMobile(raw);
    const n = this.store.getLiveNumber(phone);
    if (!n) throw new AppError('NUMBER_NOT_FOUND', `${phone} is not a trusted number`);
    return n;
  }

  addClient(a: { name: string; lang?: Lang; balance?: number; operator: string }): ClientView {
    const name = (a.name ?? '').trim();
    if (name.length < 1 || name.length > 200) throw new AppError('BAD_INPUT', 'client name must be 1 to 200 characters');
    const lang = a.lang ?? 'ru';
    if (!LANGS.includes(lang)) throw new AppError('BAD_INPUT', `language must be one of ${LANGS.join(', ')}`);
    const balance = a.balance ?? 0;
    if (!Number.isSafeInteger(balance) || balance < 0) throw new AppError('BAD_AMOUNT', 'balance must be a non-negative amount');
    checkOperator(a.operator);
    return this.run(() => {
      const at = this.nowIso();
      const id = this.store.insertClient({ name, lang, balance, at });
      // a language the operator recorded from the application counts as the client's choice
      if (a.lang !== undefined) this.store.setClientLang(id, lang);
      if (balance > 0) {
        this.store.insertLedger({ clientId: id, amount: balance, kind: 'payment', ref: `opening:${id}`, note: 'opening balance', at });
      }
      this.journal({ channel: 'operator', clientId: id, action: 'client-add', auth: 'operator', operator: a.operator, outcome: 'executed', detail: `lang=${lang}` });
      return this.mustClient(id);
    });
  }

  listClients(): ClientView[] {
    return this.store.listClients();
  }

  getClient(id: number): ClientView {
    return this.mustClient(id);
  }

  addObject(a: { clientId: number; code: string; address: string; calloutEnabled?: boolean; operator: string }): ObjectView {
    const code = checkObjectCode(a.code);
    const address = (a.address ?? '').trim();
    if (address.length < 1 || address.length > 300) throw new AppError('BAD_INPUT', 'address must be 1 to 300 characters');
    checkOperator(a.operator);
    return this.run(() => {
      const client = this.mustClient(a.clientId);
      if (this.store.getObjectByCode(code)) throw new AppError('OBJECT_CODE_TAKEN', `object code ${code} is already in use`);
      this.store.insertObject({ clientId: client.id, code, address, at: this.nowIso(), calloutEnabled: a.calloutEnabled ?? false });
      this.journal({ channel: 'operator', clientId: client.id, objectCode: code, action: 'object-add', auth: 'operator', operator: a.operator, outcome: 'executed' });
      return this.mustObject(code);
    });
  }

  listObjects(clientId?: number): ObjectView[] {
    if (clientId !== undefined) this.mustClient(clientId);
    return this.store.listObjects(clientId);
  }

  getObject(code: string): ObjectView {
    return this.mustObject(code);
  }

  listNumbers(clientId: number): NumberView[] {
    this.mustClient(clientId);
    return this.store.listNumbers(clientId);
  }

  /**
   * The client's application for a trusted number. With `signed` (the operator holds the
   * client's signed paper application) it is active at once; otherwise it stays pending until
   * the code sent to it comes back.
   */
  addNumber(a: { clientId: number; phone: string; objectCodes?: string[] | null; signed?: boolean; operator: string }):
    { number: NumberView; challengeId: string | null } {
    const phone = parseMobile(a.phone);
    checkOperator(a.operator);
    const codes = a.objectCodes?.map(checkObjectCode) ?? null;
    return this.run(() => {
      const client = this.mustClient(a.clientId);
      const taken = this.store.getLiveNumber(phone);
      if (taken) {
        throw new AppError('NUMBER_TAKEN', taken.clientId === client.id
          ? `${phone} is already registered for this client (${taken.state})`
          : `${phone} is already a trusted number of another client`);
      }
      const objectIds: number[] = [];
      for (const code of codes ?? []) {
        const o = this.mustObject(code);
        if (o.clientId !== client.id) throw new AppError('OBJECT_NOT_ALLOWED', `object ${code} belongs to another client`);
        objectIds.push(o.id);
      }
      const at = this.nowIso();
      const state = a.signed ? 'active' : 'pending';
      const numberId = this.store.insertNumber({ clientId: client.id, phone, state, allObjects: codes === null, objectIds, at });
      const number = this.store.getNumber(numberId) as NumberView;
      let challengeId: string | null = null;
      if (!a.signed) {
        const ch = this.createChallenge({ number, client, purpose: 'confirm-number', object: null, channel: CHALLENGE_ANY_CHANNEL, operator: a.operator });
        if (!ch.ok) throw new AppError('RATE_LIMITED', 'too many codes sent to this number; try later', { retryAfterMs: ch.retryAfterMs });
        challengeId = ch.challengeId;
      }
      this.journal({
        channel: 'operator', phone, clientId: client.id, action: 'number-add', auth: 'operator', operator: a.operator,
        outcome: 'executed', challengeId, detail: `state=${state}${codes ? ` objects=${codes.join(',')}` : ' objects=all'}`,
      });
      return { number, challengeId };
    });
  }

  /** Sends a fresh confirmation code to a pending number (the old one dies). */
  resendConfirmation(a: { phone: string; operator: string }): { challengeId: string } {
    checkOperator(a.operator);
    return this.run(() => {
      const n = this.mustLiveNumber(a.phone);
      if (n.state !== 'pending') throw new AppError('NUMBER_STATE', `${n.phone} is ${n.state}, not pending`);
      const client = this.mustClient(n.clientId);
      this.store.revokeChallenges(n.id);
      const ch = this.createChallenge({ number: n, client, purpose: 'confirm-number', object: null, channel: CHALLENGE_ANY_CHANNEL, operator: a.operator });
      if (!ch.ok) throw new AppError('RATE_LIMITED', 'too many codes sent to this number; try later', { retryAfterMs: ch.retryAfterMs });
      this.journal({ channel: 'operator', phone: n.phone, clientId: client.id, action: 'number-resend', auth: 'operator', operator: a.operator, outcome: 'executed', challengeId: ch.challengeId });
      return { challengeId: ch.challengeId };
    });
  }

  /** The operator types the code the client received (at the office or on the phone). */
  confirmNumber(a: { phone: string; code: string; operator: string }): ConfirmResult {
    checkOperator(a.operator);
    const phone = parseMobile(a.phone);
    return this.run(() => {
      const n = this.store.getLiveNumber(phone);
      if (!n) throw new AppError('NUMBER_NOT_FOUND', `${phone} is not a trusted number`);
      if (n.state !== 'pending') throw new AppError('NUMBER_STATE', `${phone} is ${n.state}, not pending`);
      const pending = this.store.pendingChallenges(n.id).find((c) => c.purpose === 'confirm-number');
      return this.confirmInTx({ channel: 'operator', phone, code: a.code, challengeId: pending?.id ?? null, operator: a.operator });
    });
  }

  /** Application to change a trusted number: the old one is removed, the new one takes its objects. */
  changeNumber(a: { phone: string; to: string; signed?: boolean; operator: string }): { number: NumberView; challengeId: string | null } {
    checkOperator(a.operator);
    const to = parseMobile(a.to);
    return this.run(() => {
      const old = this.mustLiveNumber(a.phone);
      if (old.state === 'blocked') throw new AppError('NUMBER_STATE', `${old.phone} is blocked; unblock or remove it first`);
      if (to === old.phone) throw new AppError('BAD_INPUT', 'the new number is the same as the old one');
      const at = this.nowIso();
      this.store.revokeChallenges(old.id);
      this.store.revokeSessions(old.id, at);
      this.store.setNumberState(old.id, 'removed', at);
      this.journal({ channel: 'operator', phone: old.phone, clientId: old.clientId, action: 'number-change', auth: 'operator', operator: a.operator, outcome: 'executed', detail: `to=${to}` });
      this.afterCommit.push({ type: 'number-state', clientId: old.clientId, numberId: old.id, phone: old.phone, state: 'removed' });
      return this.addNumber({
        clientId: old.clientId, phone: to, objectCodes: old.allObjects ? null : old.objectCodes, signed: a.signed ?? false, operator: a.operator,
      });
    });
  }

  /** Loss or theft: refused at once on every channel; pending codes die with it. */
  blockNumber(a: { phone: string; reason: BlockReason; operator: string; channel?: Channel }): NumberView {
    checkOperator(a.operator);
    if (!BLOCK_REASONS.includes(a.reason)) throw new AppError('BAD_INPUT', `reason must be one of ${BLOCK_REASONS.join(', ')}`);
    return this.run(() => {
      const n = this.mustLiveNumber(a.phone);
      if (n.state === 'blocked') throw new AppError('NUMBER_STATE', `${n.phone} is already blocked`);
      const at = this.nowIso();
      const revoked = this.store.revokeChallenges(n.id);
      const sessions = this.store.revokeSessions(n.id, at);
      this.store.setNumberState(n.id, 'blocked', at, a.reason);
      this.journal({ channel: a.channel ?? 'operator', phone: n.phone, clientId: n.clientId, action: 'number-block', auth: 'operator', operator: a.operator, outcome: 'executed', reason: a.reason, detail: `codes-revoked=${revoked} sessions-revoked=${sessions}` });
      this.afterCommit.push({ type: 'number-state', clientId: n.clientId, numberId: n.id, phone: n.phone, state: 'blocked' });
      return this.store.getNumber(n.id) as NumberView;
    });
  }

  unblockNumber(a: { phone: string; operator: string }): NumberView {
    checkOperator(a.operator);
    return this.run(() => {
      const n = this.mustLiveNumber(a.phone);
      if (n.state !== 'blocked') throw new AppError('NUMBER_STATE', `${n.phone} is ${n.state}, not blocked`);
      this.store.setNumberState(n.id, 'active', this.nowIso());
      this.journal({ channel: 'operator', phone: n.phone, clientId: n.clientId, action: 'number-unblock', auth: 'operator', operator: a.operator, outcome: 'executed' });
      this.afterCommit.push({ type: 'number-state', clientId: n.clientId, numberId: n.id, phone: n.phone, state: 'active' });
      return this.store.getNumber(n.id) as NumberView;
    });
  }

  removeNumber(a: { phone: string; operator: string }): NumberView {
    checkOperator(a.operator);
    return this.run(() => {
      const n = this.mustLiveNumber(a.phone);
      this.store.revokeChallenges(n.id);
      this.store.revokeSessions(n.id, this.nowIso());
      this.store.setNumberState(n.id, 'removed', this.nowIso());
      this.journal({ channel: 'operator', phone: n.phone, clientId: n.clientId, action: 'number-remove', auth: 'operator', operator: a.operator, outcome: 'executed' });
      this.afterCommit.push({ type: 'number-state', clientId: n.clientId, numberId: n.id, phone: n.phone, state: 'removed' });
      return this.store.getNumber(n.id) as NumberView;
    });
  }

  // ---------------------------------------------------------------- operators: objects, money

  /** Status, arm and disarm by an operator (authenticated by the operator's credentials). */
  operatorRequest(a: { action: ObjectAction; objectCode: string; operator: string }): RequestResult {
    checkOperator(a.operator);
    return this.run(() => {
      const object = this.mustObject(a.objectCode);
      const client = this.mustClient(object.clientId);
      const base = { channel: 'operator' as const, clientId: client.id, objectCode: object.code, auth: 'operator' as const, operator: a.operator };
      if (a.action === 'status') {
        const rec = this.journal({ ...base, action: 'status', outcome: 'accepted' });
        return { kind: 'status', objects: [object], lang: client.lang, seq: rec.seq };
      }
      const { object: after, changed } = this.applyStatus(object, a.action === 'arm' ? 'armed' : 'disarmed', a.action);
      const rec = this.journal({ ...base, action: a.action, outcome: 'executed', detail: changed ? null : 'unchanged' });
      return { kind: 'done', action: a.action, object: after, changed, lang: client.lang, seq: rec.seq };
    });
  }

  /** A payment to the client's account. `ref` makes it idempotent (a bank reference). */
  pay(a: { clientId: number; amount: number; operator: string; ref?: string }): { client: ClientView; duplicate: boolean } {
    checkOperator(a.operator);
    if (!Number.isSafeInteger(a.amount) || a.amount <= 0) throw new AppError('BAD_AMOUNT', 'amount must be a positive number of tiyn');
    const ref = a.ref ?? `pay:${this.random.bytes(9).toString('base64url')}`;
    if (ref.length > 100) throw new AppError('BAD_INPUT', 'payment reference is too long');
    return this.run(() => {
      const client = this.mustClient(a.clientId);
      const at = this.nowIso();
      try {
        this.store.insertLedger({ clientId: client.id, amount: a.amount, kind: 'payment', ref, note: null, at });
      } catch (e) {
        if (String((e as Error).message).includes('UNIQUE')) return { client, duplicate: true };
        throw e;
      }
      this.store.addBalance(client.id, a.amount);
      this.journal({ channel: 'operator', clientId: client.id, action: 'payment', auth: 'operator', operator: a.operator, outcome: 'executed', detail: `amount=${a.amount} ref=${ref}` });
      return { client: this.mustClient(client.id), duplicate: false };
    });
  }

  /**
   * An operator's notice to a client by SMS. Only ever to a registered, active number of a
   * client (never to an arbitrary number: that would make the service an SMS pump).
   */
  sendNotice(a: { phone: string; text: string; operator: string }): { outboxId: number } {
    checkOperator(a.operator);
    const text = (a.text ?? '').trim();
    if (text.length < 1 || text.length > 1000) throw new AppError('BAD_INPUT', 'notice text must be 1 to 1000 characters');
    return this.run(() => {
      const n = this.mustLiveNumber(a.phone);
      if (n.state !== 'active') throw new AppError('NUMBER_STATE', `${n.phone} is ${n.state}, not active`);
      const outboxId = this.enqueue({ priority: 'info', kind: 'notice', phone: n.phone, clientId: n.clientId, text, secret: false, expiresAt: null });
      this.journal({ channel: 'operator', phone: n.phone, clientId: n.clientId, action: 'sms-notice', auth: 'operator', operator: a.operator, outcome: 'executed', detail: `outbox=${outboxId} length=${text.length}` });
      return { outboxId };
    });
  }

  /** The public catalogue of services with tariffs (tiyn). */
  services(): Array<{ code: string; name: { ru: string; kk: string }; monthlyFee: number; smsFee: number }> {
    return this.store.listServices().filter((x) => x.active).map((x) => ({ code: x.code, name: { ru: x.nameRu, kk: x.nameKk }, monthlyFee: x.monthlyFee, smsFee: x.smsFee }));
  }

  subscriptions(clientId: number): Array<{ service: string; state: string; startedAt: string }> {
    return this.store.listSubscriptions(this.mustClient(clientId).id);
  }

  /** An admin changes a tariff; journalled. */
  setTariff(a: { service: string; monthlyFee?: number; smsFee?: number; operator: string }): void {
    checkOperator(a.operator);
    for (const v of [a.monthlyFee, a.smsFee]) {
      if (v !== undefined && (!Number.isSafeInteger(v) || v < 0)) throw new AppError('BAD_AMOUNT', 'fees are non-negative integers of tiyn');
    }
    this.run(() => {
      const fees = { ...(a.monthlyFee !== undefined ? { monthlyFee: a.monthlyFee } : {}), ...(a.smsFee !== undefined ? { smsFee: a.smsFee } : {}) };
      if (!this.store.updateService(a.service, fees)) throw new AppError('NOT_FOUND', `no service ${a.service}`);
      this.journal({ channel: 'operator', action: 'tariff-change', auth: 'operator', operator: a.operator, outcome: 'executed', detail: `service=${a.service} monthly=${a.monthlyFee ?? '-'} sms=${a.smsFee ?? '-'}` });
    });
  }

  /**
   * An event from the monitoring centre, stored once per sender's id (a repeat returns the
   * stored one and changes nothing) and journalled.
   */
  recordMonitoringEvent(e: { sourceId: string; objectCode: string; type: string; kind: string | null; zone: number | null; eventAt: string | null }):
    { row: MonitoringEventRow; duplicate: boolean } {
    return this.run(() => {
      const object = this.mustObject(e.objectCode);
      const now = this.nowIso();
      const r = this.store.insertMonitoringEvent({
        sourceId: e.sourceId, objectCode: object.code, type: e.type, kind: e.kind, zone: e.zone, eventAt: e.eventAt ?? now, receivedAt: now,
      });
      if (!r.duplicate) {
        this.journal({
          channel: 'monitoring', clientId: object.clientId, objectCode: object.code, action: `event-${e.type}`, auth: 'api-key', outcome: 'accepted',
          detail: `id=${e.sourceId.slice(0, 100)}${e.kind ? ` kind=${e.kind}` : ''}${e.zone !== null ? ` zone=${e.zone}` : ''}`,
        });
      }
      return r;
    });
  }

  // ---------------------------------------------------------------- journal and outbox

  searchJournal(f: Partial<JournalFilter>): JournalRecord[] {
    const limit = Math.min(Math.max(f.limit ?? 100, 1), 1000);
    return this.store.searchJournal({ ...f, limit });
  }

  verifyJournal(): VerifyResult {
    const v = new JournalVerifier();
    let after = 0;
    for (;;) {
      const page = this.store.journalPage(after, 1000);
      if (page.length === 0) break;
      for (const r of page) {
        if (!v.add(r)) return v.result();
      }
      after = (page[page.length - 1] as JournalRecord).seq;
    }
    return v.result();
  }

  /** Puts an SMS in the outbox. Texts with codes are sealed so only the sender can read them. */
  queueSms(m: { priority: SmsPriority; kind: string; phone: string; clientId: number | null; text: string; secret: boolean; expiresAt: string | null }): number {
    return this.run(() => this.enqueue(m));
  }

  private enqueue(m: { priority: SmsPriority; kind: string; phone: string; clientId: number | null; text: string; secret: boolean; expiresAt: string | null }): number {
    const at = this.nowIso();
    const id = this.store.enqueueSms({
      priority: PRIORITY[m.priority], kind: m.kind, phone: m.phone, clientId: m.clientId,
      body: m.secret ? null : m.text,
      bodyEnc: m.secret ? seal(this.keys.outbox, this.random.bytes(12), m.text, outboxAad(m.phone)) : null,
      secret: m.secret, at, expiresAt: m.expiresAt,
    });
    this.smsQueued = true;
    return id;
  }

  /** The outbox for operators: code-bearing texts are masked unless `reveal` (development only). */
  listOutbox(a: { limit?: number; state?: string; reveal?: boolean }): Array<OutboxRow & { text: string | null }> {
    const rows = this.store.listOutbox({ limit: Math.min(Math.max(a.limit ?? 50, 1), 1000), ...(a.state ? { state: a.state } : {}) });
    return rows.map((r) => ({ ...r, text: this.outboxText(r, a.reveal ?? false) }));
  }

  /** The text of an outbox row; a sealed one is opened only when `reveal`. */
  outboxText(r: Pick<OutboxRow, 'body' | 'bodyEnc' | 'secret' | 'phone'>, reveal: boolean): string | null {
    if (!r.secret) return r.body;
    if (!r.bodyEnc) return null;
    if (!reveal) return '[code hidden]';
    return open(this.keys.outbox, r.bodyEnc, outboxAad(r.phone));
  }
}

export function outboxAad(phone: string): string {
  return `outbox:${phone}`;
}

function checkObjectCode(code: string): string {
  const c = String(code ?? '').trim();
  if (!/^\d{3,8}$/.test(c)) throw new AppError('BAD_INPUT', 'object code must be 3 to 8 digits');
  return c;
}

function checkOperator(name: string): void {
  if (typeof name !== 'string' || name.trim().length < 1 || name.length > 100) {
    throw new AppError('BAD_INPUT', 'operator name is required (1 to 100 characters)');
  }
}

function joinDetail(a: string | null, b: string | null): string | null {
  if (a && b) return `${a} ${b}`;
  return a ?? b;
}
