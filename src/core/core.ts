import { AppError } from '../domain/errors.ts';
import type { Keys } from '../domain/crypto.ts';
import { open, seal } from '../domain/crypto.ts';
import { JournalVerifier } from '../domain/journal.ts';
import type { JournalContent, JournalRecord, VerifyResult } from '../domain/journal.ts';
import { CEILING_RANGE, OTP_POLICY, budgets, codeClass, codeMatches, decideSend, generateCode, hashCode, normaliseCode } from '../domain/otp.ts';
import type { CodeClass } from '../domain/otp.ts';
import { formatKzt } from '../domain/money.ts';
import { maskPhone, parseMobile, tryParsePhone } from '../domain/phone.ts';
import { DEFAULT_POLICY, needsOtp } from '../domain/policy.ts';
import type { AuthPolicy } from '../domain/policy.ts';
import { BILLING_TEXT, alarmText, otpText, restoredText } from '../domain/texts.ts';
import type {
  AuthMethod, BlockReason, Channel, ClientView, Lang, NumberView, ObjectAction, ObjectStatus, ObjectView,
  RefusalReason, SmsPriority,
} from '../domain/types.ts';
import { BLOCK_REASONS, LANGS, PRIORITY } from '../domain/types.ts';
import type {
  AlertRow, ChallengeRow, Clock, JournalFilter, LiveEvent, LiveEvents, MonitoringEventRow, OutboxRow, OutboxSignal, Random, Store,
} from './ports.ts';

/** Who to call about an alarm, in the order of the client's trusted numbers. */
export interface CalloutPlan {
  eventId: number;
  objectCode: string;
  clientId: number;
  kind: string;
  zone: number | null;
  contacts: Array<{ phone: string; lang: Lang }>;
}

export interface CoreDeps {
  /** Repeated alarms of one object, kind and zone within this window are grouped (default 5 min). */
  alarmGroupMs?: number;
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
  | {
    kind: 'refused'; reason: RefusalReason; lang: Lang; seq: number; objectCodes?: string[];
    /** For `rate-limited`: when a code can be sent, and why not now (a pending code, or the budget). */
    retryAfterMs?: number; limit?: 'pause' | 'budget';
  }
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

/** The outbox filter for messages flagged as possibly sent twice (after a restart or an unanswered submit). */
export const POSSIBLE_DUPLICATE = 'possible-duplicate';

/** How far ahead of its receipt a monitoring event may be dated before the receive time is used instead. */
export const MAX_CLOCK_AHEAD_MS = 5 * 60_000;

/** The operators' ceiling on code SMS per number per hour (settings table). */
export const SETTING_OTP_CEILING = 'otp.ceiling_per_hour';

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
  private readonly alarmGroupMs: number;

  constructor(deps: CoreDeps) {
    this.alarmGroupMs = deps.alarmGroupMs ?? 5 * 60_000;
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
        if (id.reason === 'blocked' && id.number && id.client) this.accessAlert(id.number, id.client, `blocked number used on ${req.channel}`);
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
          const rec = this.journal({
            ...base, objectCode: object.code, action: req.action, outcome: 'refused', reason: 'rate-limited',
            detail: joinDetail(detail, `limit=${ch.why} retry-after=${Math.ceil(ch.retryAfterMs / 1000)}s`),
          });
          return { kind: 'refused', reason: 'rate-limited', lang, seq: rec.seq, retryAfterMs: ch.retryAfterMs, limit: ch.why };
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

  private applyStatus(object: ObjectView, target: ObjectStatus, cause: string, at?: string): { object: ObjectView; changed: boolean } {
    const fresh = this.store.getObject(object.id) ?? object;
    if (fresh.status === target) return { object: fresh, changed: false };
    const since = at ?? this.nowIso();
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
      if (!id.ok && id.reason === 'blocked' && id.number && id.client) this.accessAlert(id.number, id.client, `blocked number used on ${a.channel}`);
      return id;
    });
  }

  // ---------------------------------------------------------------- dynamic authentication

  /**
   * A code for a document, sent by SMS when the sending policy (`decideSend`) allows it. A
   * refusal because a class's budget is used up notes a code flood (once per number, class
   * and window).
   */
  private createChallenge(a: {
    number: NumberView; client: ClientView; purpose: string; object: ObjectView | null; channel: string; operator: string | null;
  }): { ok: true; challengeId: string; expiresAt: string } | { ok: false; why: 'pause' | 'budget'; retryAfterMs: number } {
    const now = this.clock.now();
    const cls = codeClass(a.purpose);
    const objectId = a.object?.id ?? null;
    const pendingSame = this.store.pendingChallenges(a.number.id)
      .filter((c) => c.purpose === a.purpose && c.objectId === objectId && c.channel === a.channel)
      .map((c) => ({ createdAt: Date.parse(c.createdAt), expiresAt: Date.parse(c.expiresAt) }));
    const sentAt: Record<CodeClass, number[]> = { 'sign-in': [], action: [] };
    for (const s of this.store.otpSendsSince(a.number.phone, new Date(now.getTime() - OTP_POLICY.windowMs).toISOString())) {
      sentAt[s.cls].push(Date.parse(s.at));
    }
    const may = decideSend({ now: now.getTime(), cls, pendingSame, sentAt, ceilingPerHour: this.otpCeiling() });
    if (!may.ok) {
      if (may.why === 'budget') this.codeFlood(a.number, a.client, cls, may.budget);
      return { ok: false, why: may.why, retryAfterMs: may.retryAfterMs };
    }
    const challengeId = this.random.bytes(12).toString('base64url');
    const code = generateCode((max) => this.random.int(max));
    const expiresAt = new Date(now.getTime() + OTP_POLICY.ttlMs).toISOString();
    this.store.insertChallenge({
      id: challengeId, purpose: a.purpose, numberId: a.number.id, objectId, channel: a.channel,
      codeHash: hashCode(this.keys.otp, challengeId, code), createdAt: now.toISOString(), expiresAt,
      attempts: 0, state: 'pending', operator: a.operator,
    });
    this.store.recordOtpSend(a.number.phone, cls, now.toISOString());
    this.enqueue({
      priority: 'otp', kind: 'otp', phone: a.number.phone, clientId: a.client.id,
      text: otpText(a.client.lang, code, a.purpose, a.object?.code ?? null), secret: true, expiresAt,
    });
    return { ok: true, challengeId, expiresAt };
  }

  /**
   * A number's code budget of one class is used up: one operator alert and one journal record
   * per number, class and window, however many requests keep coming.
   */
  private codeFlood(number: NumberView, client: ClientView, cls: CodeClass, budget: number): void {
    const now = this.clock.now();
    if (this.store.codeFloodSince(number.phone, cls, new Date(now.getTime() - OTP_POLICY.windowMs).toISOString())) return;
    const alertId = this.raiseAlertInTx({
      kind: 'code-flood', clientId: client.id, objectCode: null, phone: number.phone,
      detail: `code flood on ${maskPhone(number.phone)}: ${cls} codes used up (${budget} an hour)`,
    });
    this.store.recordCodeFlood(number.phone, cls, now.toISOString(), alertId);
  }

  // ---------------------------------------------------------------- operators' settings

  /** The ceiling on code SMS per number per hour: the operators' setting, or the default. */
  otpCeiling(): number {
    const v = Number(this.store.getSetting(SETTING_OTP_CEILING));
    return Number.isSafeInteger(v) && v >= CEILING_RANGE.min && v <= CEILING_RANGE.max ? v : OTP_POLICY.defaultCeilingPerHour;
  }

  /** The ceiling and how it is shared between the classes. */
  otpLimits(): { ceilingPerHour: number; budgets: Record<CodeClass, number>; resendPauseSeconds: number } {
    const ceilingPerHour = this.otpCeiling();
    return { ceilingPerHour, budgets: budgets(ceilingPerHour), resendPauseSeconds: OTP_POLICY.resendPauseMs / 1000 };
  }

  /** An operator changes the ceiling on code SMS per number per hour; journalled; every process sees it at once. */
  setOtpCeiling(a: { perHour: number; operator: string }): ReturnType<Core['otpLimits']> {
    checkOperator(a.operator);
    if (!Number.isSafeInteger(a.perHour) || a.perHour < CEILING_RANGE.min || a.perHour > CEILING_RANGE.max) {
      throw new AppError('BAD_INPUT', `the ceiling must be an integer from ${CEILING_RANGE.min} to ${CEILING_RANGE.max} (the sign-in budget is ${OTP_POLICY.signInPerHour}, the rest is for actions)`);
    }
    return this.run(() => {
      const before = this.otpCeiling();
      this.store.setSetting(SETTING_OTP_CEILING, String(a.perHour), this.nowIso(), a.operator);
      this.journal({ channel: 'operator', action: 'setting-change', auth: 'operator', operator: a.operator, outcome: 'executed', detail: `${SETTING_OTP_CEILING}=${a.perHour} was=${before}` });
      return this.otpLimits();
    });
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
    if (number.state === 'blocked') {
      this.accessAlert(number, client, `blocked number sent a code on ${a.channel}`);
      return refuse('blocked');
    }

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
      if (dead) this.accessAlert(number, client, `${OTP_POLICY.maxAttempts} wrong codes on ${a.channel}`);
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

  /**
   * Messages from senders that are no client's number, beyond the channel's limit: dropped,
   * and journalled as one record with their count and how many senders sent them.
   */
  noteInboundFlood(a: { channel: 'sms'; count: number; senders: number; since: string }): void {
    this.run(() => {
      this.journal({
        channel: a.channel, action: 'inbound-flood', auth: 'none', outcome: 'refused', reason: 'rate-limited',
        detail: `count=${a.count} senders=${a.senders} since=${a.since}`,
      });
    });
  }

  /** Sign-in by dynamic authentication (app, chat): a code to an active trusted number. */
  requestSignIn(a: { channel: 'app' | 'chat'; phone: string; ref?: string }):
    { kind: 'sent'; challengeId: string; expiresAt: string } | { kind: 'refused'; reason: RefusalReason; retryAfterMs?: number; limit?: 'pause' | 'budget' } {
    return this.run(() => {
      const id = this.identify(a.phone);
      if (!id.ok) {
        this.journal({ channel: a.channel, phone: id.phone, clientId: id.client?.id ?? null, action: 'sign-in', auth: 'none', outcome: 'refused', reason: id.reason, detail: a.ref ?? null });
        return { kind: 'refused', reason: id.reason };
      }
      const ch = this.createChallenge({ number: id.number, client: id.client, purpose: 'sign-in', object: null, channel: a.channel, operator: null });
      // Anyone can ask for a sign-in code: a refused one is not a document of the client's (a
      // stranger could fill the journal); a used-up budget is noted once per window (codeFlood).
      if (!ch.ok) return { kind: 'refused', reason: 'rate-limited', retryAfterMs: ch.retryAfterMs, limit: ch.why };
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

  addClient(a: { name: string; lang?: Lang; balance?: number; services?: string[]; operator: string }): ClientView {
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
      const known = this.store.listServices().filter((x) => x.active).map((x) => x.code);
      for (const svc of a.services ?? known) {
        if (!known.includes(svc)) throw new AppError('BAD_INPUT', `no service ${svc}; services: ${known.join(', ')}`);
        this.store.addSubscription(id, svc, at);
      }
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
      // a payment resumes suspended services at once, in this same transaction
      this.resumeIfPaid(client.id);
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
      const svc = this.store.listServices().find((x) => x.code === a.service);
      // the period already under way keeps its tariff; the change applies from the next one
      if (svc) this.store.setTariffFrom(a.service, Core.nextPeriod(this.periodOf(this.clock.now())), svc.monthlyFee, svc.smsFee);
      this.journal({ channel: 'operator', action: 'tariff-change', auth: 'operator', operator: a.operator, outcome: 'executed', detail: `service=${a.service} monthly=${a.monthlyFee ?? '-'} sms=${a.smsFee ?? '-'}` });
    });
  }

  /**
   * An event from the monitoring centre, stored once per sender's id (a repeat returns the
   * stored one and changes nothing) and journalled. A panel's clock is not trusted to be in
   * the future: an event dated more than `MAX_CLOCK_AHEAD_MS` after its receipt is stored
   * with the receive time, and the skew is journalled.
   */
  recordMonitoringEvent(e: { sourceId: string; objectCode: string; type: string; kind: string | null; zone: number | null; eventAt: string | null }):
    { row: MonitoringEventRow; duplicate: boolean; callout: CalloutPlan | null } {
    return this.run(() => {
      const object = this.mustObject(e.objectCode);
      const now = this.nowIso();
      const claimed = e.eventAt ? Date.parse(e.eventAt) : Number.NaN;
      if (e.eventAt && Number.isNaN(claimed)) throw new AppError('BAD_INPUT', 'the event time must be an ISO time');
      const ahead = Number.isNaN(claimed) ? 0 : claimed - Date.parse(now);
      const clamped = ahead > MAX_CLOCK_AHEAD_MS;
      const eventAt = Number.isNaN(claimed) || clamped ? now : new Date(claimed).toISOString();
      const r = this.store.insertMonitoringEvent({
        sourceId: e.sourceId, objectCode: object.code, type: e.type, kind: e.kind, zone: e.zone, eventAt, receivedAt: now,
      });
      if (r.duplicate) return { ...r, callout: null };
      const out = this.processEvent(r.row, object);
      this.journal({
        channel: 'monitoring', clientId: object.clientId, objectCode: object.code, action: `event-${e.type}`, auth: 'api-key', outcome: 'accepted',
        reason: out.result,
        detail: `id=${e.sourceId.slice(0, 100)}${e.kind ? ` kind=${e.kind}` : ''}${e.zone !== null ? ` zone=${e.zone}` : ''}`
          + `${clamped ? ` clock-ahead=${Math.round(ahead / 1000)}s time-set-to-receipt` : ''}${out.late ? ' late-status-kept' : ''}`,
      });
      return { row: { ...r.row, result: out.result, processedAt: now }, duplicate: false, callout: out.callout };
    });
  }

  /**
   * What an event does to its object: status (never rolled back by an event older than the
   * current status), the alarm SMS to the object's active trusted numbers (grouped within
   * `alarmGroupMs` of receipt per object, kind and zone), one "restored" SMS after an alarm,
   * and a call-out plan when the object has call-outs enabled. The event time decides only
   * the status: an alarm older than the current status is still delivered (`late`), it just
   * leaves the status as it is.
   */
  private processEvent(ev: MonitoringEventRow, object: ObjectView): { result: string; callout: CalloutPlan | null; late: boolean } {
    const now = this.nowIso();
    const stale = Date.parse(ev.eventAt) < Date.parse(object.statusSince);
    let late = false;
    const finish = (result: string, zoneKey: string | null = null, callout: CalloutPlan | null = null): { result: string; callout: CalloutPlan | null; late: boolean } => {
      this.store.setEventResult(ev.id, result, now, zoneKey);
      return { result, callout, late };
    };
    const client = this.mustClient(object.clientId);
    const contacts = this.store.listNumbers(client.id)
      .filter((n) => n.state === 'active' && (n.allObjects || n.objectCodes.includes(object.code)));
    switch (ev.type) {
      case 'alarm': {
        const kind = ev.kind ?? 'burglary';
        const zoneKey = `${kind}:${ev.zone ?? '-'}`;
        if (stale) {
          // an alarm always reaches people, whatever the times of earlier events
          late = true;
        } else {
          if (object.status !== 'alarm') this.store.setPriorStatus(object.id, object.status);
          this.applyStatus(object, 'alarm', `alarm:${kind}`, ev.eventAt);
        }
        // grouped by when alarms were received, never by the panel's clock
        const since = new Date(Date.parse(ev.receivedAt) - this.alarmGroupMs).toISOString();
        if (this.store.recentAlarm(object.code, zoneKey, since, ev.id)) return finish('grouped', zoneKey);
        for (const n of contacts) {
          this.enqueue({
            priority: 'alarm', kind: 'alarm', phone: n.phone, clientId: client.id, secret: false, expiresAt: null,
            text: alarmText(client.lang, { code: object.code, address: object.address, kind, zone: ev.zone, at: ev.eventAt, timeZone: this.timeZone }),
          });
        }
        this.afterCommit.push({ type: 'alarm', clientId: client.id, objectCode: object.code, kind, zone: ev.zone, at: ev.eventAt });
        const plan: CalloutPlan | null = object.calloutEnabled && contacts.length > 0
          ? { eventId: ev.id, objectCode: object.code, clientId: client.id, kind, zone: ev.zone, contacts: contacts.map((n) => ({ phone: n.phone, lang: client.lang })) }
          : null;
        if (contacts.length === 0) this.raiseAlertInTx({ kind: 'alarm-no-contact', clientId: client.id, objectCode: object.code, phone: null, detail: `alarm ${kind}` });
        if (plan) this.store.setCalloutState(ev.id, 'pending');
        return finish('alarm', zoneKey, plan);
      }
      case 'restore': {
        if (stale) return finish('stale');
        const open = this.store.openAlarm(object.code);
        if (object.status === 'alarm') {
          const prior = (this.store.getPriorStatus(object.id) ?? 'armed') as ObjectStatus;
          this.applyStatus(object, prior === 'alarm' ? 'armed' : prior, 'restore', ev.eventAt);
        }
        if (!open) return finish('restore');
        for (const n of contacts) {
          this.enqueue({ priority: 'alarm', kind: 'restore', phone: n.phone, clientId: client.id, secret: false, expiresAt: null, text: restoredText(client.lang, object.code, ev.eventAt, this.timeZone) });
        }
        return finish('restored');
      }
      case 'arm':
      case 'disarm':
        if (stale) return finish('stale');
        this.applyStatus(object, ev.type === 'arm' ? 'armed' : 'disarmed', `panel-${ev.type}`, ev.eventAt);
        return finish('status');
      case 'link-lost':
        if (stale) return finish('stale');
        if (object.status !== 'no-link') this.store.setPriorStatus(object.id, object.status);
        this.applyStatus(object, 'no-link', 'link-lost', ev.eventAt);
        return finish('status');
      case 'link-restored': {
        if (stale) return finish('stale');
        if (object.status === 'no-link') {
          const prior = (this.store.getPriorStatus(object.id) ?? 'disarmed') as ObjectStatus;
          this.applyStatus(object, prior === 'no-link' ? 'disarmed' : prior, 'link-restored', ev.eventAt);
        }
        return finish('status');
      }
      default:
        return finish('noted');
    }
  }

  /**
   * Call-outs waiting for the service: alarms recorded by any process (HTTP intake, the CLI),
   * or cut short by a stop. Taking one marks it running; `finishCallouts` marks it done.
   */
  takeCallouts(): CalloutPlan[] {
    return this.run(() => this.store.calloutsWaiting().map((ev) => {
      this.store.setCalloutState(ev.id, 'running');
      const object = this.mustObject(ev.objectCode);
      const client = this.mustClient(object.clientId);
      const contacts = this.store.listNumbers(client.id).filter((n) => n.state === 'active' && (n.allObjects || n.objectCodes.includes(object.code)));
      return { eventId: ev.id, objectCode: object.code, clientId: client.id, kind: ev.kind ?? 'burglary', zone: ev.zone, contacts: contacts.map((n) => ({ phone: n.phone, lang: client.lang })) };
    }));
  }

  finishCallouts(eventId: number): void {
    this.run(() => this.store.setCalloutState(eventId, 'done'));
  }

  /** An alert for the operators (console, log, metric), journalled. */
  raiseAlert(a: { kind: string; clientId: number | null; objectCode: string | null; phone: string | null; detail: string | null }): number {
    return this.run(() => this.raiseAlertInTx(a));
  }

  private raiseAlertInTx(a: { kind: string; clientId: number | null; objectCode: string | null; phone: string | null; detail: string | null }): number {
    const id = this.store.insertAlert({ ...a, at: this.nowIso() });
    this.journal({ channel: 'system', clientId: a.clientId, phone: a.phone, objectCode: a.objectCode, action: 'operator-alert', auth: 'none', outcome: 'accepted', reason: a.kind, detail: a.detail });
    this.afterCommit.push({ type: 'operator-alert', id, kind: a.kind, objectCode: a.objectCode, detail: a.detail });
    return id;
  }

  listAlerts(openOnly = true, limit = 100): AlertRow[] {
    return this.store.listAlerts(openOnly, Math.min(Math.max(limit, 1), 1000));
  }

  ackAlert(a: { id: number; operator: string }): void {
    checkOperator(a.operator);
    this.run(() => {
      if (!this.store.ackAlert(a.id, a.operator, this.nowIso())) throw new AppError('NOT_FOUND', `no open alert ${a.id}`);
      this.journal({ channel: 'operator', action: 'alert-ack', auth: 'operator', operator: a.operator, outcome: 'executed', detail: `alert=${a.id}` });
    });
  }

  /** One attempt of an alarm call-out, with its result, journalled. */
  noteCallout(a: { eventId: number; objectCode: string; clientId: number; phone: string; round: number; result: string; startedAt: string }): void {
    this.run(() => {
      const id = this.store.insertCallout({ eventId: a.eventId, objectCode: a.objectCode, phone: a.phone, round: a.round, at: a.startedAt });
      this.store.endCallout(id, a.result, this.nowIso());
      this.journal({
        channel: 'phone', phone: a.phone, clientId: a.clientId, objectCode: a.objectCode, action: a.result === 'acknowledged' ? 'alarm-ack' : 'callout',
        auth: a.result === 'acknowledged' ? 'caller-id' : 'none', outcome: a.result === 'acknowledged' ? 'executed' : 'noted', reason: a.result,
        detail: `event=${a.eventId} round=${a.round}`,
      });
    });
  }

  /**
   * Suspected unauthorised access (agreement 5.9): tell the operators and the client — by SMS
   * to the client's other active numbers, or to this number when it is the only one, never to
   * an unregistered number — at most once an hour per number, with nothing that helps an
   * attacker (no codes, no which-check-failed).
   */
  private accessAlert(number: NumberView, client: ClientView, why: string): void {
    const since = new Date(this.clock.now().getTime() - 3_600_000).toISOString();
    if (this.store.recentAlert('access', number.phone, since)) return;
    this.raiseAlertInTx({ kind: 'access', clientId: client.id, objectCode: null, phone: number.phone, detail: why });
    const others = this.store.listNumbers(client.id).filter((n) => n.state === 'active' && n.id !== number.id);
    const targets = others.length > 0 ? others.map((n) => n.phone) : [number.phone];
    for (const phone of targets) {
      this.enqueue({ priority: 'alarm', kind: 'access-alert', phone, clientId: client.id, text: BILLING_TEXT.accessAlert[client.lang], secret: false, expiresAt: null });
    }
  }

  // ---------------------------------------------------------------- billing

  /** The billing period (month, 'YYYY-MM') of an instant, in the company's time zone. */
  periodOf(at: Date): string {
    const p = new Intl.DateTimeFormat('en-CA', { timeZone: this.timeZone, year: 'numeric', month: '2-digit' }).formatToParts(at);
    return `${p.find((x) => x.type === 'year')?.value}-${p.find((x) => x.type === 'month')?.value}`;
  }

  static nextPeriod(period: string): string {
    const [y, m] = period.split('-').map(Number) as [number, number];
    return m === 12 ? `${y + 1}-01` : `${y}-${String(m + 1).padStart(2, '0')}`;
  }

  /**
   * Charges every subscription for the period of `at`, one transaction per client. Each charge
   * is a ledger row with a unique reference (client, service, period): a rerun, an overlap or
   * a restart never charges twice. A fee that cannot be paid suspends the service and the
   * client, with one SMS per period saying why and how to resume.
   */
  runBilling(at: Date): { period: string; charged: number; suspended: number; already: number } {
    const period = this.periodOf(at);
    const byClient = new Map<number, string[]>();
    for (const sub of this.store.allSubscriptions()) byClient.set(sub.clientId, [...(byClient.get(sub.clientId) ?? []), sub.service]);
    const totals = { period, charged: 0, suspended: 0, already: 0 };
    for (const [clientId, services] of byClient) {
      this.run(() => {
        for (const service of services) {
          const r = this.chargeOne(clientId, service, period, 'billing');
          totals[r]++;
        }
      });
    }
    return totals;
  }

  private chargeOne(clientId: number, service: string, period: string, by: string): 'charged' | 'suspended' | 'already' {
    const ref = `charge:${clientId}:${service}:${period}`;
    if (this.store.ledgerHas(ref)) return 'already';
    const client = this.mustClient(clientId);
    const fee = this.store.tariffFor(service, period)?.monthlyFee ?? 0;
    const at = this.nowIso();
    if (client.balance >= fee) {
      this.store.insertLedger({ clientId, amount: -fee, kind: 'charge', ref, note: `${service} ${period}`, at });
      this.store.addBalance(clientId, -fee);
      this.store.setSubscriptionState(clientId, service, 'active');
      this.journal({ channel: 'system', clientId, action: 'charge', auth: 'none', outcome: 'executed', detail: `service=${service} period=${period} amount=${fee} by=${by}` });
      return 'charged';
    }
    this.store.setSubscriptionState(clientId, service, 'suspended');
    if (!client.suspendedAt) this.store.setSuspended(clientId, at);
    this.journal({ channel: 'system', clientId, action: 'suspend', auth: 'none', outcome: 'executed', reason: 'insufficient-funds', detail: `service=${service} period=${period} fee=${fee} balance=${client.balance}` });
    if (this.store.billingNotice(clientId, 'suspended', period, at)) this.notifyClient(client, BILLING_TEXT.suspended[client.lang], 'billing');
    return 'suspended';
  }

  /** Charges what a suspended client owes for the current period and resumes when all is paid. */
  private resumeIfPaid(clientId: number): boolean {
    const client = this.mustClient(clientId);
    if (!client.suspendedAt) return false;
    const period = this.periodOf(this.clock.now());
    const subs = this.store.allSubscriptions().filter((x) => x.clientId === clientId && x.state === 'suspended');
    for (const sub of subs) {
      const ref = `charge:${clientId}:${sub.service}:${period}`;
      const fee = this.store.tariffFor(sub.service, period)?.monthlyFee ?? 0;
      const fresh = this.mustClient(clientId);
      if (this.store.ledgerHas(ref)) {
        this.store.setSubscriptionState(clientId, sub.service, 'active');
      } else if (fresh.balance >= fee) {
        this.store.insertLedger({ clientId, amount: -fee, kind: 'charge', ref, note: `${sub.service} ${period}`, at: this.nowIso() });
        this.store.addBalance(clientId, -fee);
        this.store.setSubscriptionState(clientId, sub.service, 'active');
        this.journal({ channel: 'system', clientId, action: 'charge', auth: 'none', outcome: 'executed', detail: `service=${sub.service} period=${period} amount=${fee} by=payment` });
      }
    }
    if (this.store.allSubscriptions().some((x) => x.clientId === clientId && x.state === 'suspended')) return false;
    this.store.setSuspended(clientId, null);
    this.journal({ channel: 'system', clientId, action: 'resume', auth: 'none', outcome: 'executed' });
    this.notifyClient(client, BILLING_TEXT.resumed[client.lang], 'billing');
    return true;
  }

  /**
   * A reminder `days` before the next charge when the balance does not cover it: one SMS per
   * period to the client's active numbers.
   */
  runReminders(at: Date, days: number): number {
    const next = Core.nextPeriod(this.periodOf(at));
    const [y, m] = next.split('-').map(Number) as [number, number];
    // the first day of the next period, as a local date
    const daysLeft = Math.ceil((Date.UTC(y, m - 1, 1) - Date.parse(`${this.localDate(at)}T00:00:00Z`)) / 86_400_000);
    if (daysLeft > days || daysLeft < 0) return 0;
    let sent = 0;
    const byClient = new Map<number, string[]>();
    for (const sub of this.store.allSubscriptions()) byClient.set(sub.clientId, [...(byClient.get(sub.clientId) ?? []), sub.service]);
    for (const [clientId, services] of byClient) {
      this.run(() => {
        const client = this.mustClient(clientId);
        const due = services.reduce((sum, svc) => sum + (this.store.tariffFor(svc, next)?.monthlyFee ?? 0), 0);
        if (client.balance >= due) return;
        if (!this.store.billingNotice(clientId, 'reminder', next, this.nowIso())) return;
        this.notifyClient(client, BILLING_TEXT.reminder[client.lang]
          .replace('{date}', `01.${next.slice(5)}`).replace('{amount}', formatKzt(due)).replace('{balance}', formatKzt(client.balance)), 'billing');
        this.journal({ channel: 'system', clientId, action: 'billing-reminder', auth: 'none', outcome: 'executed', detail: `period=${next} due=${due}` });
        sent++;
      });
    }
    return sent;
  }

  private localDate(at: Date): string {
    return new Intl.DateTimeFormat('en-CA', { timeZone: this.timeZone, year: 'numeric', month: '2-digit', day: '2-digit' }).format(at);
  }

  /** An informational SMS to each active number of the client (never to an unregistered one). */
  private notifyClient(client: ClientView, text: string, kind: string): void {
    for (const n of this.store.listNumbers(client.id).filter((x) => x.state === 'active')) {
      this.enqueue({ priority: 'info', kind, phone: n.phone, clientId: client.id, text, secret: false, expiresAt: null });
    }
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

  /**
   * The outbox for operators, newest first, paged back with `before` (an id): code-bearing
   * texts are masked unless `reveal` (development only). The state `possible-duplicate`
   * selects the messages flagged as possibly sent twice, whatever their state.
   */
  listOutbox(a: { limit?: number; state?: string; before?: number; reveal?: boolean }): Array<OutboxRow & { text: string | null }> {
    const filter = a.state === POSSIBLE_DUPLICATE ? { duplicateRisk: true } : a.state ? { state: a.state } : {};
    const rows = this.store.listOutbox({
      limit: Math.min(Math.max(a.limit ?? 50, 1), 1000), ...filter, ...(a.before !== undefined ? { before: a.before } : {}),
    });
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
