import { AppError } from '../domain/errors.ts';
import { parseMobile } from '../domain/phone.ts';
import type { BlockReason, Channel, ClientView, Lang, NumberView, ObjectAction, ObjectView } from '../domain/types.ts';
import { BLOCK_REASONS, LANGS } from '../domain/types.ts';
import { nextPeriod, periodOf } from './billing.ts';
import { CHALLENGE_ANY_CHANNEL, confirmIn, createChallenge } from './challenges.ts';
import type { ConfirmResult } from './challenges.ts';
import type { RequestResult } from './client-requests.ts';
import { applyStatus, checkObjectCode, checkOperator, mustClient, mustLiveNumber, mustObject } from './context.ts';
import type { CoreContext, Tx } from './context.ts';

type NewNumber = { clientId: number; phone: string; codes: string[] | null; signed: boolean; operator: string };

/** Operators' work: clients, objects, trusted numbers, services and tariffs, notices. */
export class Registry {
  constructor(private readonly ctx: CoreContext) {}

  addClient(a: { name: string; lang?: Lang; balance?: number; services?: string[]; operator: string }): ClientView {
    const name = (a.name ?? '').trim();
    if (name.length < 1 || name.length > 200) throw new AppError('BAD_INPUT', 'client name must be 1 to 200 characters');
    const lang = a.lang ?? 'ru';
    if (!LANGS.includes(lang)) throw new AppError('BAD_INPUT', `language must be one of ${LANGS.join(', ')}`);
    const balance = a.balance ?? 0;
    if (!Number.isSafeInteger(balance) || balance < 0) throw new AppError('BAD_AMOUNT', 'balance must be a non-negative amount');
    checkOperator(a.operator);
    return this.ctx.run((tx) => {
      const { store } = tx;
      const at = tx.nowIso();
      const id = store.insertClient({ name, lang, balance, at });
      // a language the operator recorded from the application counts as the client's choice
      if (a.lang !== undefined) store.setClientLang(id, lang);
      const known = store.listServices().filter((x) => x.active).map((x) => x.code);
      for (const svc of a.services ?? known) {
        if (!known.includes(svc)) throw new AppError('BAD_INPUT', `no service ${svc}; services: ${known.join(', ')}`);
        store.addSubscription(id, svc, at);
      }
      if (balance > 0) {
        store.insertLedger({ clientId: id, amount: balance, kind: 'payment', ref: `opening:${id}`, note: 'opening balance', at });
      }
      tx.journal({ channel: 'operator', clientId: id, action: 'client-add', auth: 'operator', operator: a.operator, outcome: 'executed', detail: `lang=${lang}` });
      return mustClient(store, id);
    });
  }

  listClients(): ClientView[] {
    return this.ctx.store.listClients();
  }

  getClient(id: number): ClientView {
    return mustClient(this.ctx.store, id);
  }

  addObject(a: { clientId: number; code: string; address: string; calloutEnabled?: boolean; operator: string }): ObjectView {
    const code = checkObjectCode(a.code);
    const address = (a.address ?? '').trim();
    if (address.length < 1 || address.length > 300) throw new AppError('BAD_INPUT', 'address must be 1 to 300 characters');
    checkOperator(a.operator);
    return this.ctx.run((tx) => {
      const client = mustClient(tx.store, a.clientId);
      if (tx.store.getObjectByCode(code)) throw new AppError('OBJECT_CODE_TAKEN', `object code ${code} is already in use`);
      tx.store.insertObject({ clientId: client.id, code, address, at: tx.nowIso(), calloutEnabled: a.calloutEnabled ?? false });
      tx.journal({ channel: 'operator', clientId: client.id, objectCode: code, action: 'object-add', auth: 'operator', operator: a.operator, outcome: 'executed' });
      return mustObject(tx.store, code);
    });
  }

  listObjects(clientId?: number): ObjectView[] {
    if (clientId !== undefined) mustClient(this.ctx.store, clientId);
    return this.ctx.store.listObjects(clientId);
  }

  getObject(code: string): ObjectView {
    return mustObject(this.ctx.store, code);
  }

  listNumbers(clientId: number): NumberView[] {
    mustClient(this.ctx.store, clientId);
    return this.ctx.store.listNumbers(clientId);
  }

  /**
   * The client's application for a trusted number. With `signed` (the operator holds the
   * client's signed paper application) it is active at once; otherwise it stays pending until
   * the code sent to it comes back.
   */
  addNumber(a: { clientId: number; phone: string; objectCodes?: string[] | null; signed?: boolean; operator: string }):
    { number: NumberView; challengeId: string | null } {
    const n = checkNewNumber(a);
    return this.ctx.run((tx) => addNumberIn(tx, n));
  }

  /** Sends a fresh confirmation code to a pending number (the old one dies). */
  resendConfirmation(a: { phone: string; operator: string }): { challengeId: string } {
    checkOperator(a.operator);
    return this.ctx.run((tx) => {
      const n = mustLiveNumber(tx.store, a.phone);
      if (n.state !== 'pending') throw new AppError('NUMBER_STATE', `${n.phone} is ${n.state}, not pending`);
      const client = mustClient(tx.store, n.clientId);
      tx.store.revokeChallenges(n.id);
      const ch = createChallenge(tx, { number: n, client, purpose: 'confirm-number', object: null, channel: CHALLENGE_ANY_CHANNEL, operator: a.operator });
      if (!ch.ok) throw new AppError('RATE_LIMITED', 'too many codes sent to this number; try later', { retryAfterMs: ch.retryAfterMs });
      tx.journal({ channel: 'operator', phone: n.phone, clientId: client.id, action: 'number-resend', auth: 'operator', operator: a.operator, outcome: 'executed', challengeId: ch.challengeId });
      return { challengeId: ch.challengeId };
    });
  }

  /** The operator types the code the client received (at the office or on the phone). */
  confirmNumber(a: { phone: string; code: string; operator: string }): ConfirmResult {
    checkOperator(a.operator);
    const phone = parseMobile(a.phone);
    return this.ctx.run((tx) => {
      const n = tx.store.getLiveNumber(phone);
      if (!n) throw new AppError('NUMBER_NOT_FOUND', `${phone} is not a trusted number`);
      if (n.state !== 'pending') throw new AppError('NUMBER_STATE', `${phone} is ${n.state}, not pending`);
      const pending = tx.store.pendingChallenges(n.id).find((c) => c.purpose === 'confirm-number');
      return confirmIn(tx, { channel: 'operator', phone, code: a.code, challengeId: pending?.id ?? null, operator: a.operator });
    });
  }

  /** Application to change a trusted number: the old one is removed, the new one takes its objects. */
  changeNumber(a: { phone: string; to: string; signed?: boolean; operator: string }): { number: NumberView; challengeId: string | null } {
    checkOperator(a.operator);
    const to = parseMobile(a.to);
    return this.ctx.run((tx) => {
      const old = mustLiveNumber(tx.store, a.phone);
      if (old.state === 'blocked') throw new AppError('NUMBER_STATE', `${old.phone} is blocked; unblock or remove it first`);
      if (to === old.phone) throw new AppError('BAD_INPUT', 'the new number is the same as the old one');
      const at = tx.nowIso();
      tx.store.revokeChallenges(old.id);
      tx.store.revokeSessions(old.id, at);
      tx.store.setNumberState(old.id, 'removed', at);
      tx.journal({ channel: 'operator', phone: old.phone, clientId: old.clientId, action: 'number-change', auth: 'operator', operator: a.operator, outcome: 'executed', detail: `to=${to}` });
      tx.emit({ type: 'number-state', clientId: old.clientId, numberId: old.id, phone: old.phone, state: 'removed' });
      return addNumberIn(tx, checkNewNumber({
        clientId: old.clientId, phone: to, objectCodes: old.allObjects ? null : old.objectCodes, signed: a.signed ?? false, operator: a.operator,
      }));
    });
  }

  /** Loss or theft: refused at once on every channel; pending codes die with it. */
  blockNumber(a: { phone: string; reason: BlockReason; operator: string; channel?: Channel }): NumberView {
    checkOperator(a.operator);
    if (!BLOCK_REASONS.includes(a.reason)) throw new AppError('BAD_INPUT', `reason must be one of ${BLOCK_REASONS.join(', ')}`);
    return this.ctx.run((tx) => {
      const n = mustLiveNumber(tx.store, a.phone);
      if (n.state === 'blocked') throw new AppError('NUMBER_STATE', `${n.phone} is already blocked`);
      const at = tx.nowIso();
      const revoked = tx.store.revokeChallenges(n.id);
      const sessions = tx.store.revokeSessions(n.id, at);
      tx.store.setNumberState(n.id, 'blocked', at, a.reason);
      tx.journal({ channel: a.channel ?? 'operator', phone: n.phone, clientId: n.clientId, action: 'number-block', auth: 'operator', operator: a.operator, outcome: 'executed', reason: a.reason, detail: `codes-revoked=${revoked} sessions-revoked=${sessions}` });
      tx.emit({ type: 'number-state', clientId: n.clientId, numberId: n.id, phone: n.phone, state: 'blocked' });
      return tx.store.getNumber(n.id) as NumberView;
    });
  }

  unblockNumber(a: { phone: string; operator: string }): NumberView {
    checkOperator(a.operator);
    return this.ctx.run((tx) => {
      const n = mustLiveNumber(tx.store, a.phone);
      if (n.state !== 'blocked') throw new AppError('NUMBER_STATE', `${n.phone} is ${n.state}, not blocked`);
      tx.store.setNumberState(n.id, 'active', tx.nowIso());
      tx.journal({ channel: 'operator', phone: n.phone, clientId: n.clientId, action: 'number-unblock', auth: 'operator', operator: a.operator, outcome: 'executed' });
      tx.emit({ type: 'number-state', clientId: n.clientId, numberId: n.id, phone: n.phone, state: 'active' });
      return tx.store.getNumber(n.id) as NumberView;
    });
  }

  removeNumber(a: { phone: string; operator: string }): NumberView {
    checkOperator(a.operator);
    return this.ctx.run((tx) => {
      const n = mustLiveNumber(tx.store, a.phone);
      tx.store.revokeChallenges(n.id);
      tx.store.revokeSessions(n.id, tx.nowIso());
      tx.store.setNumberState(n.id, 'removed', tx.nowIso());
      tx.journal({ channel: 'operator', phone: n.phone, clientId: n.clientId, action: 'number-remove', auth: 'operator', operator: a.operator, outcome: 'executed' });
      tx.emit({ type: 'number-state', clientId: n.clientId, numberId: n.id, phone: n.phone, state: 'removed' });
      return tx.store.getNumber(n.id) as NumberView;
    });
  }

  /** Status, arm and disarm by an operator (authenticated by the operator's credentials). */
  operatorRequest(a: { action: ObjectAction; objectCode: string; operator: string }): RequestResult {
    checkOperator(a.operator);
    return this.ctx.run((tx) => {
      const object = mustObject(tx.store, a.objectCode);
      const client = mustClient(tx.store, object.clientId);
      const base = { channel: 'operator' as const, clientId: client.id, objectCode: object.code, auth: 'operator' as const, operator: a.operator };
      if (a.action === 'status') {
        const rec = tx.journal({ ...base, action: 'status', outcome: 'accepted' });
        return { kind: 'status', objects: [object], lang: client.lang, seq: rec.seq };
      }
      const { object: after, changed } = applyStatus(tx, object, a.action === 'arm' ? 'armed' : 'disarmed', a.action);
      const rec = tx.journal({ ...base, action: a.action, outcome: 'executed', detail: changed ? null : 'unchanged' });
      return { kind: 'done', action: a.action, object: after, changed, lang: client.lang, seq: rec.seq };
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
    return this.ctx.run((tx) => {
      const n = mustLiveNumber(tx.store, a.phone);
      if (n.state !== 'active') throw new AppError('NUMBER_STATE', `${n.phone} is ${n.state}, not active`);
      const outboxId = tx.enqueue({ priority: 'info', kind: 'notice', phone: n.phone, clientId: n.clientId, text, secret: false, expiresAt: null });
      tx.journal({ channel: 'operator', phone: n.phone, clientId: n.clientId, action: 'sms-notice', auth: 'operator', operator: a.operator, outcome: 'executed', detail: `outbox=${outboxId} length=${text.length}` });
      return { outboxId };
    });
  }

  /** The public catalogue of services with tariffs (tiyn). */
  services(): Array<{ code: string; name: { ru: string; kk: string }; monthlyFee: number; smsFee: number }> {
    return this.ctx.store.listServices().filter((x) => x.active).map((x) => ({ code: x.code, name: { ru: x.nameRu, kk: x.nameKk }, monthlyFee: x.monthlyFee, smsFee: x.smsFee }));
  }

  subscriptions(clientId: number): Array<{ service: string; state: string; startedAt: string }> {
    return this.ctx.store.listSubscriptions(mustClient(this.ctx.store, clientId).id);
  }

  /** An admin changes a tariff; journalled. */
  setTariff(a: { service: string; monthlyFee?: number; smsFee?: number; operator: string }): void {
    checkOperator(a.operator);
    for (const v of [a.monthlyFee, a.smsFee]) {
      if (v !== undefined && (!Number.isSafeInteger(v) || v < 0)) throw new AppError('BAD_AMOUNT', 'fees are non-negative integers of tiyn');
    }
    this.ctx.run((tx) => {
      const fees = { ...(a.monthlyFee !== undefined ? { monthlyFee: a.monthlyFee } : {}), ...(a.smsFee !== undefined ? { smsFee: a.smsFee } : {}) };
      if (!tx.store.updateService(a.service, fees)) throw new AppError('NOT_FOUND', `no service ${a.service}`);
      const svc = tx.store.listServices().find((x) => x.code === a.service);
      // the period already under way keeps its tariff; the change applies from the next one
      if (svc) tx.store.setTariffFrom(a.service, nextPeriod(periodOf(tx.now(), this.ctx.timeZone)), svc.monthlyFee, svc.smsFee);
      tx.journal({ channel: 'operator', action: 'tariff-change', auth: 'operator', operator: a.operator, outcome: 'executed', detail: `service=${a.service} monthly=${a.monthlyFee ?? '-'} sms=${a.smsFee ?? '-'}` });
    });
  }
}

/** The checks of a number application that need no store. */
function checkNewNumber(a: { clientId: number; phone: string; objectCodes?: string[] | null; signed?: boolean; operator: string }): NewNumber {
  const phone = parseMobile(a.phone);
  checkOperator(a.operator);
  const codes = a.objectCodes?.map(checkObjectCode) ?? null;
  return { clientId: a.clientId, phone, codes, signed: a.signed ?? false, operator: a.operator };
}

/** A new trusted number, active when signed, else pending with a confirmation code sent. */
function addNumberIn(tx: Tx, a: NewNumber): { number: NumberView; challengeId: string | null } {
  const { store } = tx;
  const { phone, codes } = a;
  const client = mustClient(store, a.clientId);
  const taken = store.getLiveNumber(phone);
  if (taken) {
    throw new AppError('NUMBER_TAKEN', taken.clientId === client.id
      ? `${phone} is already registered for this client (${taken.state})`
      : `${phone} is already a trusted number of another client`);
  }
  const objectIds: number[] = [];
  for (const code of codes ?? []) {
    const o = mustObject(store, code);
    if (o.clientId !== client.id) throw new AppError('OBJECT_NOT_ALLOWED', `object ${code} belongs to another client`);
    objectIds.push(o.id);
  }
  const at = tx.nowIso();
  const state = a.signed ? 'active' : 'pending';
  const numberId = store.insertNumber({ clientId: client.id, phone, state, allObjects: codes === null, objectIds, at });
  const number = store.getNumber(numberId) as NumberView;
  let challengeId: string | null = null;
  if (!a.signed) {
    const ch = createChallenge(tx, { number, client, purpose: 'confirm-number', object: null, channel: CHALLENGE_ANY_CHANNEL, operator: a.operator });
    if (!ch.ok) throw new AppError('RATE_LIMITED', 'too many codes sent to this number; try later', { retryAfterMs: ch.retryAfterMs });
    challengeId = ch.challengeId;
  }
  tx.journal({
    channel: 'operator', phone, clientId: client.id, action: 'number-add', auth: 'operator', operator: a.operator,
    outcome: 'executed', challengeId, detail: `state=${state}${codes ? ` objects=${codes.join(',')}` : ' objects=all'}`,
  });
  return { number, challengeId };
}
