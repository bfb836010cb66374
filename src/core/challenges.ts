import { AppError } from '../domain/errors.ts';
import { isDuressPurpose } from '../domain/duress.ts';
import type { JournalContent } from '../domain/journal.ts';
import { CEILING_RANGE, OTP_POLICY, budgets, codeClass, codeMatches, decideSend, generateCode, hashCode, normaliseCode } from '../domain/otp.ts';
import type { CodeClass } from '../domain/otp.ts';
import { maskPhone, tryParsePhone } from '../domain/phone.ts';
import { otpText } from '../domain/texts.ts';
import type { AuthMethod, Channel, ClientView, Lang, NumberView, ObjectView } from '../domain/types.ts';
import { accessAlert, raiseAlertIn } from './alarms.ts';
import { codeArrived } from './confirmations.ts';
import { applyStatus, checkOperator, joinDetail } from './context.ts';
import { duressAlarm, isDuressCode } from './duress.ts';
import type { CoreContext, Tx } from './context.ts';
import type { ChallengeRow, StoreTx } from './ports.ts';

export type ConfirmRefusal =
  | 'unknown' | 'blocked' | 'suspended' | 'no-pending' | 'code-wrong' | 'code-expired' | 'code-used' | 'code-dead'
  | 'object-not-allowed';

export type ConfirmResult =
  | {
    kind: 'done'; purpose: string; challengeId: string; numberId: number; clientId: number; lang: Lang; seq: number;
    object?: ObjectView; changed: boolean;
  }
  | { kind: 'refused'; reason: ConfirmRefusal; lang: Lang; seq: number; attemptsLeft?: number }
  /** The code was right; the request now waits for a confirmation call-back (or an operator). */
  | { kind: 'held'; purpose: 'arm' | 'disarm'; challengeId: string; holdId: number; clientId: number; lang: Lang; seq: number; object: ObjectView };

/** A code back: with `challengeId` that challenge, without it the newest pending one on this channel. */
export interface ConfirmInput {
  channel: Channel;
  phone: string;
  code: string;
  challengeId?: string | null;
  operator?: string | null;
  ref?: string;
  /** A change of the client's duress code: only its own challenges, which no other confirmation takes. */
  duressChange?: boolean;
}

export type OtpLimits = { ceilingPerHour: number; budgets: Record<CodeClass, number>; resendPauseSeconds: number };

/** The channel of a challenge that may come back on any channel (a number's confirmation). */
export const CHALLENGE_ANY_CHANNEL = 'any';

/** The operators' ceiling on code SMS per number per hour (settings table). */
export const SETTING_OTP_CEILING = 'otp.ceiling_per_hour';

/** The ceiling on code SMS per number per hour: the operators' setting, or the default. */
export async function otpCeiling(store: StoreTx): Promise<number> {
  const v = Number(await store.getSetting(SETTING_OTP_CEILING));
  return Number.isSafeInteger(v) && v >= CEILING_RANGE.min && v <= CEILING_RANGE.max ? v : OTP_POLICY.defaultCeilingPerHour;
}

async function otpLimits(store: StoreTx): Promise<OtpLimits> {
  const ceilingPerHour = await otpCeiling(store);
  return { ceilingPerHour, budgets: budgets(ceilingPerHour), resendPauseSeconds: OTP_POLICY.resendPauseMs / 1000 };
}

/**
 * A code for a document, sent by SMS when the sending policy (`decideSend`) allows it. A
 * refusal because a class's budget is used up notes a code flood (once per number, class
 * and window).
 */
export async function createChallenge(tx: Tx, a: {
  number: NumberView; client: ClientView; purpose: string; object: ObjectView | null; channel: string; operator: string | null;
}): Promise<{ ok: true; challengeId: string; expiresAt: string } | { ok: false; why: 'pause' | 'budget'; retryAfterMs: number }> {
  const { store, ctx } = tx;
  const now = tx.now();
  const cls = codeClass(a.purpose);
  const objectId = a.object?.id ?? null;
  const pendingSame = (await store.pendingChallenges(a.number.id))
    .filter((c) => c.purpose === a.purpose && c.objectId === objectId && c.channel === a.channel)
    .map((c) => ({ createdAt: Date.parse(c.createdAt), expiresAt: Date.parse(c.expiresAt) }));
  const sentAt: Record<CodeClass, number[]> = { 'sign-in': [], action: [] };
  for (const s of await store.otpSendsSince(a.number.phone, new Date(now.getTime() - OTP_POLICY.windowMs).toISOString())) {
    sentAt[s.cls].push(Date.parse(s.at));
  }
  const may = decideSend({ now: now.getTime(), cls, pendingSame, sentAt, ceilingPerHour: await otpCeiling(store) });
  if (!may.ok) {
    if (may.why === 'budget') await codeFlood(tx, a.number, a.client, cls, may.budget);
    return { ok: false, why: may.why, retryAfterMs: may.retryAfterMs };
  }
  const challengeId = ctx.random.bytes(12).toString('base64url');
  const code = generateCode((max) => ctx.random.int(max));
  const expiresAt = new Date(now.getTime() + OTP_POLICY.ttlMs).toISOString();
  await store.insertChallenge({
    id: challengeId, purpose: a.purpose, numberId: a.number.id, objectId, channel: a.channel,
    codeHash: hashCode(ctx.keys.otp, challengeId, code), createdAt: now.toISOString(), expiresAt,
    attempts: 0, state: 'pending', operator: a.operator,
  });
  await store.recordOtpSend(a.number.phone, cls, now.toISOString());
  await tx.enqueue({
    priority: 'otp', kind: 'otp', phone: a.number.phone, clientId: a.client.id,
    text: otpText(a.client.lang, code, a.purpose, a.object?.code ?? null), secret: true, expiresAt,
  });
  return { ok: true, challengeId, expiresAt };
}

/**
 * A number's code budget of one class is used up: one operator alert and one journal record
 * per number, class and window, however many requests keep coming.
 */
async function codeFlood(tx: Tx, number: NumberView, client: ClientView, cls: CodeClass, budget: number): Promise<void> {
  const now = tx.now();
  if (await tx.store.codeFloodSince(number.phone, cls, new Date(now.getTime() - OTP_POLICY.windowMs).toISOString())) return;
  const alertId = await raiseAlertIn(tx, {
    kind: 'code-flood', clientId: client.id, objectCode: null, phone: number.phone,
    detail: `code flood on ${maskPhone(number.phone)}: ${cls} codes used up (${budget} an hour)`,
  });
  await tx.store.recordCodeFlood(number.phone, cls, now.toISOString(), alertId);
}

/**
 * A code comes back, in the caller's transaction. Wrong codes count; the third kills the
 * challenge.
 */
export async function confirmIn(tx: Tx, a: ConfirmInput): Promise<ConfirmResult> {
  const { store } = tx;
  const parsed = tryParsePhone(a.phone);
  const phone = parsed?.e164 ?? null;
  const number = phone ? await store.getLiveNumber(phone) : undefined;
  const client = number ? await store.getClient(number.clientId) : undefined;
  const lang = client?.lang ?? 'ru';
  const auth: AuthMethod = a.channel === 'operator' ? 'operator' : 'otp';
  const base = { channel: a.channel, phone, clientId: client?.id ?? null, auth, operator: a.operator ?? null } as const;
  const refuse = async (reason: ConfirmRefusal, extra: Partial<JournalContent> = {}, attemptsLeft?: number): Promise<ConfirmResult> => {
    const rec = await tx.journal({ ...base, action: 'confirm', outcome: 'refused', reason, detail: a.ref ?? null, ...extra });
    const r: ConfirmResult = { kind: 'refused', reason, lang, seq: rec.seq };
    if (attemptsLeft !== undefined) r.attemptsLeft = attemptsLeft;
    return r;
  };
  if (!number || !client) return refuse('unknown');
  if (number.state === 'blocked') {
    await accessAlert(tx, number, client, `blocked number sent a code on ${a.channel}`);
    return refuse('blocked');
  }

  let ch: ChallengeRow | undefined;
  if (a.challengeId) {
    ch = await store.getChallenge(a.challengeId);
    if (ch && (ch.numberId !== number.id || isDuressPurpose(ch.purpose) !== (a.duressChange === true))) ch = undefined;
  } else {
    ch = (await store.pendingChallenges(number.id))
      .find((c) => (c.channel === a.channel || c.channel === CHALLENGE_ANY_CHANNEL) && isDuressPurpose(c.purpose) === (a.duressChange === true));
  }
  if (!ch) return refuse('no-pending');
  const chRef = { challengeId: ch.id };
  if (ch.channel !== a.channel && ch.channel !== CHALLENGE_ANY_CHANNEL) return refuse('no-pending', chRef);
  if (ch.state === 'used') return refuse('code-used', chRef);
  if (ch.state !== 'pending') return refuse('code-dead', chRef);
  const now = tx.now();
  if (now.getTime() >= Date.parse(ch.expiresAt)) {
    await store.updateChallenge(ch.id, ch.attempts, 'expired');
    return refuse('code-expired', chRef);
  }
  // A pending number confirms itself; everything else needs an active number of a paying client.
  if (ch.purpose !== 'confirm-number') {
    if (number.state !== 'active') return refuse('blocked', chRef);
    if (client.suspendedAt) return refuse('suspended', chRef);
  }
  const code = normaliseCode(a.code);
  const otpOk = code !== null && codeMatches(tx.ctx.keys.otp, ch.id, code, ch.codeHash);
  // a disarm's code that is not the one-time code may be the client's duress code: carried out
  // exactly as a disarm, with a silent alarm to the operators (never a wrong code)
  const duress = !otpOk && ch.purpose === 'disarm' && (await isDuressCode(tx, client.id, a.code));
  if (!otpOk && !duress) {
    const attempts = ch.attempts + 1;
    const dead = attempts >= OTP_POLICY.maxAttempts;
    await store.updateChallenge(ch.id, attempts, dead ? 'failed' : 'pending');
    const object = ch.objectId ? await store.getObject(ch.objectId) : undefined;
    if (dead) await accessAlert(tx, number, client, `${OTP_POLICY.maxAttempts} wrong codes on ${a.channel}`);
    return dead
      ? refuse('code-dead', { ...chRef, objectCode: object?.code ?? null })
      : refuse('code-wrong', { ...chRef, objectCode: object?.code ?? null }, OTP_POLICY.maxAttempts - attempts);
  }
  await store.updateChallenge(ch.id, ch.attempts, 'used');

  let object: ObjectView | undefined;
  let changed = false;
  if (ch.purpose === 'arm' || ch.purpose === 'disarm') {
    object = ch.objectId ? await store.getObject(ch.objectId) : undefined;
    const allowed = object && (await store.objectsForNumber(number)).some((o) => o.id === object?.id);
    if (!object || !allowed) return refuse('object-not-allowed', chRef);
    const hold = await store.holdForChallenge(ch.id);
    // under duress the disarm is carried out at once, as a plain disarm looks, and nobody is
    // called: the hold is closed where only operators look
    if (hold && duress) await store.moveHold(hold.id, ['awaiting-code'], 'cancelled', { decidedAt: tx.nowIso(), decidedBy: 'system', result: 'duress' });
    else if (hold && await codeArrived(tx, hold, object.code)) {
      const rec = await tx.journal({
        ...base, objectCode: object.code, action: ch.purpose, outcome: 'held', challengeId: ch.id,
        detail: joinDetail(a.ref ?? null, `hold ${hold.id} waits for confirmation`),
      });
      return { kind: 'held', purpose: ch.purpose, challengeId: ch.id, holdId: hold.id, clientId: client.id, lang, seq: rec.seq, object };
    }
    const r = await applyStatus(tx, object, ch.purpose === 'arm' ? 'armed' : 'disarmed', ch.purpose);
    object = r.object;
    changed = r.changed;
  } else if (ch.purpose === 'confirm-number') {
    if (number.state === 'pending') {
      await store.setNumberState(number.id, 'active', now.toISOString());
      changed = true;
      tx.emit({ type: 'number-state', clientId: client.id, numberId: number.id, phone: number.phone, state: 'active' });
    }
  }
  const rec = await tx.journal({
    ...base, objectCode: object?.code ?? null, action: ch.purpose, outcome: 'executed', challengeId: ch.id,
    detail: joinDetail(a.ref ?? null, changed ? null : 'unchanged'),
  });
  if (duress && object) await duressAlarm(tx, { client, number, object, channel: a.channel, challengeId: ch.id, seq: rec.seq });
  const res: ConfirmResult = {
    kind: 'done', purpose: ch.purpose, challengeId: ch.id, numberId: number.id, clientId: client.id, lang, seq: rec.seq, changed,
  };
  if (object) res.object = object;
  return res;
}

/** Codes coming back, and the operators' ceiling on code SMS. */
export class Challenges {
  constructor(private readonly ctx: CoreContext) {}

  /**
   * A code comes back. With `challengeId` (app, chat, HTTP) that challenge is checked; without
   * it (a call, an SMS reply) the newest pending challenge of this number on this channel.
   * Wrong codes count; the third kills the challenge.
   */
  async confirm(a: ConfirmInput): Promise<ConfirmResult> {
    return this.ctx.run((tx) => confirmIn(tx, a));
  }

  /** The ceiling on code SMS per number per hour: the operators' setting, or the default. */
  async otpCeiling(): Promise<number> {
    return this.ctx.read((store) => otpCeiling(store));
  }

  /** The ceiling and how it is shared between the classes. */
  async otpLimits(): Promise<OtpLimits> {
    return this.ctx.read((store) => otpLimits(store));
  }

  /** An operator changes the ceiling on code SMS per number per hour; journalled; every process sees it at once. */
  async setOtpCeiling(a: { perHour: number; operator: string }): Promise<OtpLimits> {
    checkOperator(a.operator);
    if (!Number.isSafeInteger(a.perHour) || a.perHour < CEILING_RANGE.min || a.perHour > CEILING_RANGE.max) {
      throw new AppError('BAD_INPUT', `the ceiling must be an integer from ${CEILING_RANGE.min} to ${CEILING_RANGE.max} (the sign-in budget is ${OTP_POLICY.signInPerHour}, the rest is for actions)`);
    }
    return this.ctx.run(async (tx) => {
      const before = await otpCeiling(tx.store);
      await tx.store.setSetting(SETTING_OTP_CEILING, String(a.perHour), tx.nowIso(), a.operator);
      await tx.journal({ channel: 'operator', action: 'setting-change', auth: 'operator', operator: a.operator, outcome: 'executed', detail: `${SETTING_OTP_CEILING}=${a.perHour} was=${before}` });
      return otpLimits(tx.store);
    });
  }
}
