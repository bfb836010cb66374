import { AppError } from '../domain/errors.ts';
import { tryParsePhone } from '../domain/phone.ts';
import { needsOtp } from '../domain/policy.ts';
import { holdReasonsFor, openHold, rulesFor } from './confirmations.ts';
import type {
  AuthMethod, Channel, ClientView, Lang, NumberView, ObjectAction, ObjectStatus, ObjectView, RefusalReason,
} from '../domain/types.ts';
import { LANGS } from '../domain/types.ts';
import { accessAlert } from './alarms.ts';
import { createChallenge } from './challenges.ts';
import { applyStatus, joinDetail, mustClient } from './context.ts';
import type { CoreContext, Tx } from './context.ts';
import type { StoreTx } from './ports.ts';

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
  | { kind: 'challenge'; challengeId: string; expiresAt: string; object: ObjectView; action: ObjectAction; lang: Lang; seq: number }
  /** Waits for confirmation by a call-back to the trusted numbers (or an operator) before it is executed. */
  | { kind: 'held'; holdId: number; object: ObjectView; action: 'arm' | 'disarm'; lang: Lang; seq: number };

export interface ClientRequest {
  channel: Exclude<Channel, 'operator' | 'system' | 'monitoring' | 'panel'>;
  /** Caller ID, SMS sender, or the number a chat/app session belongs to, as received. */
  phone: string;
  action: ObjectAction;
  objectCode?: string | null;
  /** Free, non-secret context for the journal (call id, SMS id, request id). */
  ref?: string;
}

/** A client's question that reads its own data or asks for help. */
export interface Inquiry {
  channel: ClientRequest['channel'];
  phone: string;
  action: 'balance' | 'help' | 'unrecognised' | 'call';
  ref?: string;
}

export type SignInResult =
  | { kind: 'sent'; challengeId: string; expiresAt: string }
  | { kind: 'refused'; reason: RefusalReason; retryAfterMs?: number; limit?: 'pause' | 'budget' };

/** Where a client's request came in, and how the author was recognised. */
export const CHANNEL_AUTH: Record<ClientRequest['channel'], AuthMethod> = {
  phone: 'caller-id',
  sms: 'sender',
  chat: 'session',
  app: 'session',
};

/** Who is this number? Reads only; channels journal what they do with the answer. */
export async function identify(store: StoreTx, raw: string | null | undefined): Promise<Identity> {
  const parsed = tryParsePhone(raw);
  if (!parsed) return { ok: false, phone: null, reason: 'unknown' };
  const phone = parsed.e164;
  const number = await store.getLiveNumber(phone);
  if (!number) return { ok: false, phone, reason: 'unknown' };
  const client = await store.getClient(number.clientId);
  if (!client) return { ok: false, phone, reason: 'unknown' };
  if (number.state === 'pending') return { ok: false, phone, reason: 'pending', client, number };
  if (number.state === 'blocked') return { ok: false, phone, reason: 'blocked', client, number };
  if (client.suspendedAt) return { ok: false, phone, reason: 'suspended', client, number };
  return { ok: true, phone, number, client, objects: await store.objectsForNumber(number) };
}

/** The object a request is about: the one named (when the number may see it), else the number's only one. */
export async function pickObject(store: StoreTx, objects: ObjectView[], code: string | null):
  Promise<{ ok: true; object: ObjectView } | { ok: false; reason: 'no-object' | 'object-not-allowed' | 'object-ambiguous' }> {
  if (code) {
    const own = objects.find((o) => o.code === code);
    if (own) return { ok: true, object: own };
    // Do not tell a client whether someone else's object exists.
    return { ok: false, reason: (await store.getObjectByCode(code)) ? 'object-not-allowed' : 'no-object' };
  }
  if (objects.length === 1) return { ok: true, object: objects[0] as ObjectView };
  if (objects.length === 0) return { ok: false, reason: 'no-object' };
  return { ok: false, reason: 'object-ambiguous' };
}

/** What clients ask on every channel, identified by their trusted number. */
export class ClientRequests {
  constructor(private readonly ctx: CoreContext) {}

  identify(raw: string | null | undefined): Promise<Identity> {
    return this.ctx.read((store) => identify(store, raw));
  }

  /** Remembers the language a caller chose. */
  async setLanguage(clientId: number, lang: Lang, channel: Channel, phone: string | null): Promise<void> {
    if (!LANGS.includes(lang)) throw new AppError('BAD_INPUT', `language must be one of ${LANGS.join(', ')}`);
    await this.ctx.run(async (tx) => {
      const client = await mustClient(tx.store, clientId);
      await tx.store.setClientLang(client.id, lang);
      await tx.journal({ channel, phone, clientId: client.id, action: 'language', auth: channel === 'operator' ? 'operator' : 'caller-id', outcome: 'accepted', detail: lang });
    });
  }

  /** status / arm / disarm from a client channel, identified by its trusted number. */
  request(req: ClientRequest): Promise<RequestResult> {
    return this.ctx.run((tx) => this.requestIn(tx, req));
  }

  /** A request, in the caller's transaction. */
  async requestIn(tx: Tx, req: ClientRequest): Promise<RequestResult> {
    const id = await identify(tx.store, req.phone);
    const auth = CHANNEL_AUTH[req.channel];
    const objectCode = req.objectCode ?? null;
    const detail = req.ref ?? null;
    if (!id.ok) {
      const rec = await tx.journal({
        channel: req.channel, phone: id.phone ?? null, clientId: id.client?.id ?? null, objectCode,
        action: req.action, auth, outcome: 'refused', reason: id.reason,
        detail: id.phone ? detail : `caller ${String(req.phone ?? '').slice(0, 32)}`,
      });
      if (id.reason === 'blocked' && id.number && id.client) await accessAlert(tx, id.number, id.client, `blocked number used on ${req.channel}`);
      return { kind: 'refused', reason: id.reason, lang: id.client?.lang ?? 'ru', seq: rec.seq };
    }
    const base = { channel: req.channel, phone: id.phone, clientId: id.client.id, auth, detail } as const;
    const lang = id.client.lang;

    if (req.action === 'status' && !objectCode) {
      const rec = await tx.journal({ ...base, action: 'status', outcome: 'accepted' });
      return { kind: 'status', objects: id.objects, lang, seq: rec.seq };
    }

    const pick = await pickObject(tx.store, id.objects, objectCode);
    if (!pick.ok) {
      const rec = await tx.journal({ ...base, objectCode, action: req.action, outcome: 'refused', reason: pick.reason });
      const res: RequestResult = { kind: 'refused', reason: pick.reason, lang, seq: rec.seq };
      if (pick.reason === 'object-ambiguous') res.objectCodes = id.objects.map((o) => o.code);
      return res;
    }
    const object = pick.object;

    if (req.action === 'status') {
      const rec = await tx.journal({ ...base, objectCode: object.code, action: 'status', outcome: 'accepted' });
      return { kind: 'status', objects: [object], lang, seq: rec.seq };
    }

    const rules = await rulesFor(tx.store, id.client.id);
    const reasons = await holdReasonsFor(tx, rules, { client: id.client, number: id.number, channel: req.channel, action: req.action });
    if (needsOtp(rules, req.channel, req.action)) {
      const ch = await createChallenge(tx, {
        number: id.number, client: id.client, purpose: req.action, object, channel: req.channel, operator: null,
      });
      if (!ch.ok) {
        const rec = await tx.journal({
          ...base, objectCode: object.code, action: req.action, outcome: 'refused', reason: 'rate-limited',
          detail: joinDetail(detail, `limit=${ch.why} retry-after=${Math.ceil(ch.retryAfterMs / 1000)}s`),
        });
        return { kind: 'refused', reason: 'rate-limited', lang, seq: rec.seq, retryAfterMs: ch.retryAfterMs, limit: ch.why };
      }
      if (reasons.length > 0) {
        await openHold(tx, {
          client: id.client, number: id.number, object, action: req.action, channel: req.channel, challengeId: ch.challengeId, codeExpiresAt: ch.expiresAt, reasons,
        });
      }
      const rec = await tx.journal({
        ...base, objectCode: object.code, action: req.action, outcome: 'challenged', challengeId: ch.challengeId,
        detail: joinDetail(detail, reasons.length ? `confirmation=${reasons.join(',')}` : null),
      });
      return { kind: 'challenge', challengeId: ch.challengeId, expiresAt: ch.expiresAt, object, action: req.action, lang, seq: rec.seq };
    }

    if (reasons.length > 0) {
      const holdId = await openHold(tx, { client: id.client, number: id.number, object, action: req.action, channel: req.channel, challengeId: null, reasons });
      const rec = await tx.journal({ ...base, objectCode: object.code, action: req.action, outcome: 'held', detail: joinDetail(detail, `hold ${holdId} confirmation=${reasons.join(',')}`) });
      return { kind: 'held', holdId, object, action: req.action, lang, seq: rec.seq };
    }

    const target: ObjectStatus = req.action === 'arm' ? 'armed' : 'disarmed';
    const { object: after, changed } = await applyStatus(tx, object, target, req.action);
    const rec = await tx.journal({
      ...base, objectCode: object.code, action: req.action, outcome: 'executed', detail: joinDetail(detail, changed ? null : 'unchanged'),
    });
    return { kind: 'done', action: req.action, object: after, changed, lang, seq: rec.seq };
  }

  /**
   * A request that reads the client's own data or asks for help (balance, help, a command
   * that was not understood): identified and journalled like any other document.
   */
  inquiry(a: Inquiry): Promise<Identity> {
    return this.ctx.run((tx) => this.inquiryIn(tx, a));
  }

  /** An inquiry, in the caller's transaction. */
  async inquiryIn(tx: Tx, a: Inquiry): Promise<Identity> {
    const id = await identify(tx.store, a.phone);
    await tx.journal({
      channel: a.channel, phone: id.phone, clientId: id.ok ? id.client.id : id.client?.id ?? null, action: a.action,
      auth: CHANNEL_AUTH[a.channel], outcome: id.ok ? 'accepted' : 'refused', reason: id.ok ? null : id.reason,
      detail: id.phone ? a.ref ?? null : `caller ${String(a.phone ?? '').slice(0, 32)}`,
    });
    if (!id.ok && id.reason === 'blocked' && id.number && id.client) await accessAlert(tx, id.number, id.client, `blocked number used on ${a.channel}`);
    return id;
  }

  /** Sign-in by dynamic authentication (app, chat): a code to an active trusted number. */
  async requestSignIn(a: { channel: 'app' | 'chat'; phone: string; ref?: string }): Promise<SignInResult> {
    return this.ctx.run(async (tx) => {
      const id = await identify(tx.store, a.phone);
      if (!id.ok) {
        await tx.journal({ channel: a.channel, phone: id.phone, clientId: id.client?.id ?? null, action: 'sign-in', auth: 'none', outcome: 'refused', reason: id.reason, detail: a.ref ?? null });
        return { kind: 'refused', reason: id.reason };
      }
      const ch = await createChallenge(tx, { number: id.number, client: id.client, purpose: 'sign-in', object: null, channel: a.channel, operator: null });
      // Anyone can ask for a sign-in code: a refused one is not a document of the client's (a
      // stranger could fill the journal); a used-up budget is noted once per window (codeFlood).
      if (!ch.ok) return { kind: 'refused', reason: 'rate-limited', retryAfterMs: ch.retryAfterMs, limit: ch.why };
      await tx.journal({ channel: a.channel, phone: id.phone, clientId: id.client.id, action: 'sign-in', auth: 'none', outcome: 'challenged', challengeId: ch.challengeId, detail: a.ref ?? null });
      return { kind: 'sent', challengeId: ch.challengeId, expiresAt: ch.expiresAt };
    });
  }
}
