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

  async addClient(a: { name: string; lang?: Lang; balance?: number; services?: string[]; operator: string }): Promise<ClientView> {
    const name = (a.name ?? '').trim();
    if (name.length < 1 || name.length > 200) throw new AppError('BAD_INPUT', 'client name must be 1 to 200 characters');
    const lang = a.lang ?? 'ru';
    if (!LANGS.includes(lang)) throw new AppError('BAD_INPUT', `language must be one of ${LANGS.join(', ')}`);
    const balance = a.balance ?? 0;
    if (!Number.isSafeInteger(balance) || balance < 0) throw new AppError('BAD_AMOUNT', 'balance must be a non-negative amount');
    checkOperator(a.operator);
    return this.ctx.run(async (tx) => {
      const { store } = tx;
      const at = tx.nowIso();
      const id = await store.insertClient({ name, lang, balance, at });
      // a language the operator recorded from the application counts as the client's choice
      if (a.lang !== undefined) await store.setClientLang(id, lang);
      const known = (await store.listServices()).filter((x) => x.active).map((x) => x.code);
      for (const svc of a.services ?? known) {
        if (!known.includes(svc)) throw new AppError('BAD_INPUT', `no service ${svc}; services: ${known.join(', ')}`);
        await store.addSubscription(id, svc, at);
      }
      if (balance > 0) {
        await store.insertLedger({ clientId: id, amount: balance, kind: 'payment', ref: `opening:${id}`, note: 'opening balance', at });
      }
      await tx.journal({ channel: 'operator', clientId: id, action: 'client-add', auth: 'operator', operator: a.operator, outcome: 'executed', detail: `lang=${lang}` });
      return mustClient(store, id);
    });
  }

  listClients(): Promise<ClientView[]> {
    return this.ctx.read((store) => store.listClients());
  }

  getClient(id: number): Promise<ClientView> {
    return this.ctx.read((store) => mustClient(store, id));
  }

  async addObject(a: { clientId: number; code: string; address: string; calloutEnabled?: boolean; operator: string }): Promise<ObjectView> {
    const code = checkObjectCode(a.code);
    const address = (a.address ?? '').trim();
    if (address.length < 1 || address.length > 300) throw new AppError('BAD_INPUT', 'address must be 1 to 300 characters');
    checkOperator(a.operator);
    return this.ctx.run(async (tx) => {
      const client = await mustClient(tx.store, a.clientId);
      if (await tx.store.getObjectByCode(code)) throw new AppError('OBJECT_CODE_TAKEN', `object code ${code} is already in use`);
      await tx.store.insertObject({ clientId: client.id, code, address, at: tx.nowIso(), calloutEnabled: a.calloutEnabled ?? false });
      await tx.journal({ channel: 'operator', clientId: client.id, objectCode: code, action: 'object-add', auth: 'operator', operator: a.operator, outcome: 'executed' });
      return mustObject(tx.store, code);
    });
  }

  listObjects(clientId?: number): Promise<ObjectView[]> {
    return this.ctx.read(async (store) => {
      if (clientId !== undefined) await mustClient(store, clientId);
      return store.listObjects(clientId);
    });
  }

  getObject(code: string): Promise<ObjectView> {
    return this.ctx.read((store) => mustObject(store, code));
  }

  listNumbers(clientId: number): Promise<NumberView[]> {
    return this.ctx.read(async (store) => {
      await mustClient(store, clientId);
      return store.listNumbers(clientId);
    });
  }

  /**
   * The client's application for a trusted number. With `signed` (the operator holds the
   * client's signed paper application) it is active at once; otherwise it stays pending until
   * the code sent to it comes back.
   */
  async addNumber(a: { clientId: number; phone: string; objectCodes?: string[] | null; signed?: boolean; operator: string }):
    Promise<{ number: NumberView; challengeId: string | null }> {
    const n = checkNewNumber(a);
    return this.ctx.run(async (tx) => addNumberIn(tx, n));
  }

  /** Sends a fresh confirmation code to a pending number (the old one dies). */
  async resendConfirmation(a: { phone: string; operator: string }): Promise<{ challengeId: string }> {
    checkOperator(a.operator);
    return this.ctx.run(async (tx) => {
      const n = await mustLiveNumber(tx.store, a.phone);
      if (n.state !== 'pending') throw new AppError('NUMBER_STATE', `${n.phone} is ${n.state}, not pending`);
      const client = await mustClient(tx.store, n.clientId);
      await tx.store.revokeChallenges(n.id);
      const ch = await createChallenge(tx, { number: n, client, purpose: 'confirm-number', object: null, channel: CHALLENGE_ANY_CHANNEL, operator: a.operator });
      if (!ch.ok) throw new AppError('RATE_LIMITED', 'too many codes sent to this number; try later', { retryAfterMs: ch.retryAfterMs });
      await tx.journal({ channel: 'operator', phone: n.phone, clientId: client.id, action: 'number-resend', auth: 'operator', operator: a.operator, outcome: 'executed', challengeId: ch.challengeId });
      return { challengeId: ch.challengeId };
    });
  }

  /** The operator types the code the client received (at the office or on the phone). */
  async confirmNumber(a: { phone: string; code: string; operator: string }): Promise<ConfirmResult> {
    checkOperator(a.operator);
    const phone = parseMobile(a.phone);
    return this.ctx.run(async (tx) => {
      const n = await tx.store.getLiveNumber(phone);
      if (!n) throw new AppError('NUMBER_NOT_FOUND', `${phone} is not a trusted number`);
      if (n.state !== 'pending') throw new AppError('NUMBER_STATE', `${phone} is ${n.state}, not pending`);
      const pending = (await tx.store.pendingChallenges(n.id)).find((c) => c.purpose === 'confirm-number');
      return confirmIn(tx, { channel: 'operator', phone, code: a.code, challengeId: pending?.id ?? null, operator: a.operator });
    });
  }

  /** Application to change a trusted number: the old one is removed, the new one takes its objects. */
  async changeNumber(a: { phone: string; to: string; signed?: boolean; operator: string }): Promise<{ number: NumberView; challengeId: string | null }> {
    checkOperator(a.operator);
    const to = parseMobile(a.to);
    return this.ctx.run(async (tx) => {
      const old = await mustLiveNumber(tx.store, a.phone);
      if (old.state === 'blocked') throw new AppError('NUMBER_STATE', `${old.phone} is blocked; unblock or remove it first`);
      if (to === old.phone) throw new AppError('BAD_INPUT', 'the new number is the same as the old one');
      const at = tx.nowIso();
      await tx.store.revokeChallenges(old.id);
      await tx.store.revokeSessions(old.id, at);
      await tx.store.setNumberState(old.id, 'removed', at);
      await tx.journal({ channel: 'operator', phone: old.phone, clientId: old.clientId, action: 'number-change', auth: 'operator', operator: a.operator, outcome: 'executed', detail: `to=${to}` });
      tx.emit({ type: 'number-state', clientId: old.clientId, numberId: old.id, phone: old.phone, state: 'removed' });
      return addNumberIn(tx, checkNewNumber({
        clientId: old.clientId, phone: to, objectCodes: old.allObjects ? null : old.objectCodes, signed: a.signed ?? false, operator: a.operator,
      }));
    });
  }

  /** Loss or theft: refused at once on every channel; pending codes die with it. */
  async blockNumber(a: { phone: string; reason: BlockReason; operator: string; channel?: Channel }): Promise<NumberView> {
    checkOperator(a.operator);
    if (!BLOCK_REASONS.includes(a.reason)) throw new AppError('BAD_INPUT', `reason must be one of ${BLOCK_REASONS.join(', ')}`);
    return this.ctx.run(async (tx) => {
      const n = await mustLiveNumber(tx.store, a.phone);
      if (n.state === 'blocked') throw new AppError('NUMBER_STATE', `${n.phone} is already blocked`);
      const at = tx.nowIso();
      const revoked = await tx.store.revokeChallenges(n.id);
      const sessions = await tx.store.revokeSessions(n.id, at);
      await tx.store.setNumberState(n.id, 'blocked', at, a.reason);
      await tx.journal({ channel: a.channel ?? 'operator', phone: n.phone, clientId: n.clientId, action: 'number-block', auth: 'operator', operator: a.operator, outcome: 'executed', reason: a.reason, detail: `codes-revoked=${revoked} sessions-revoked=${sessions}` });
      tx.emit({ type: 'number-state', clientId: n.clientId, numberId: n.id, phone: n.phone, state: 'blocked' });
      return await tx.store.getNumber(n.id) as NumberView;
    });
  }

  async unblockNumber(a: { phone: string; operator: string }): Promise<NumberView> {
    checkOperator(a.operator);
    return this.ctx.run(async (tx) => {
      const n = await mustLiveNumber(tx.store, a.phone);
      if (n.state !== 'blocked') throw new AppError('NUMBER_STATE', `${n.phone} is ${n.state}, not blocked`);
      await tx.store.setNumberState(n.id, 'active', tx.nowIso());
      await tx.journal({ channel: 'operator', phone: n.phone, clientId: n.clientId, action: 'number-unblock', auth: 'operator', operator: a.operator, outcome: 'executed' });
      tx.emit({ type: 'number-state', clientId: n.clientId, numberId: n.id, phone: n.phone, state: 'active' });
      return await tx.store.getNumber(n.id) as NumberView;
    });
  }

  async removeNumber(a: { phone: string; operator: string }): Promise<NumberView> {
    checkOperator(a.operator);
    return this.ctx.run(async (tx) => {
      const n = await mustLiveNumber(tx.store, a.phone);
      await tx.store.revokeChallenges(n.id);
      await tx.store.revokeSessions(n.id, tx.nowIso());
      await tx.store.setNumberState(n.id, 'removed', tx.nowIso());
      await tx.journal({ channel: 'operator', phone: n.phone, clientId: n.clientId, action: 'number-remove', auth: 'operator', operator: a.operator, outcome: 'executed' });
      tx.emit({ type: 'number-state', clientId: n.clientId, numberId: n.id, phone: n.phone, state: 'removed' });
      return await tx.store.getNumber(n.id) as NumberView;
    });
  }

  /** Status, arm and disarm by an operator (authenticated by the operator's credentials). */
  async operatorRequest(a: { action: ObjectAction; objectCode: string; operator: string }): Promise<RequestResult> {
    checkOperator(a.operator);
    return this.ctx.run(async (tx) => {
      const object = await mustObject(tx.store, a.objectCode);
      const client = await mustClient(tx.store, object.clientId);
      const base = { channel: 'operator' as const, clientId: client.id, objectCode: object.code, auth: 'operator' as const, operator: a.operator };
      if (a.action === 'status') {
        const rec = await tx.journal({ ...base, action: 'status', outcome: 'accepted' });
        return { kind: 'status', objects: [object], lang: client.lang, seq: rec.seq };
      }
      const { object: after, changed } = await applyStatus(tx, object, a.action === 'arm' ? 'armed' : 'disarmed', a.action);
      const rec = await tx.journal({ ...base, action: a.action, outcome: 'executed', detail: changed ? null : 'unchanged' });
      return { kind: 'done', action: a.action, object: after, changed, lang: client.lang, seq: rec.seq };
    });
  }

  /**
   * An operator's notice to a client by SMS. Only ever to a registered, active number of a
   * client (never to an arbitrary number: that would make the service an SMS pump).
   */
  async sendNotice(a: { phone: string; text: string; operator: string }): Promise<{ outboxId: number }> {
    checkOperator(a.operator);
    const text = (a.text ?? '').trim();
    if (text.length < 1 || text.length > 1000) throw new AppError('BAD_INPUT', 'notice text must be 1 to 1000 characters');
    return this.ctx.run(async (tx) => {
      const n = await mustLiveNumber(tx.store, a.phone);
      if (n.state !== 'active') throw new AppError('NUMBER_STATE', `${n.phone} is ${n.state}, not active`);
      const outboxId = await tx.enqueue({ priority: 'info', kind: 'notice', phone: n.phone, clientId: n.clientId, text, secret: false, expiresAt: null });
      await tx.journal({ channel: 'operator', phone: n.phone, clientId: n.clientId, action: 'sms-notice', auth: 'operator', operator: a.operator, outcome: 'executed', detail: `outbox=${outboxId} length=${text.length}` });
      return { outboxId };
    });
  }

  /** The public catalogue of services with tariffs (tiyn). */
  async services(): Promise<Array<{ code: string; name: { ru: string; kk: string }; monthlyFee: number; smsFee: number }>> {
    return (await this.ctx.read((store) => store.listServices())).filter((x) => x.active).map((x) => ({ code: x.code, name: { ru: x.nameRu, kk: x.nameKk }, monthlyFee: x.monthlyFee, smsFee: x.smsFee }));
  }

  subscriptions(clientId: number): Promise<Array<{ service: string; state: string; startedAt: string }>> {
    return this.ctx.read(async (store) => store.listSubscriptions((await mustClient(store, clientId)).id));
  }

  /** An admin changes a tariff; journalled. */
  async setTariff(a: { service: string; monthlyFee?: number; smsFee?: number; operator: string }): Promise<void> {
    checkOperator(a.operator);
    for (const v of [a.monthlyFee, a.smsFee]) {
      if (v !== undefined && (!Number.isSafeInteger(v) || v < 0)) throw new AppError('BAD_AMOUNT', 'fees are non-negative integers of tiyn');
    }
    await this.ctx.run(async (tx) => {
      const fees = { ...(a.monthlyFee !== undefined ? { monthlyFee: a.monthlyFee } : {}), ...(a.smsFee !== undefined ? { smsFee: a.smsFee } : {}) };
      if (!await tx.store.updateService(a.service, fees)) throw new AppError('NOT_FOUND', `no service ${a.service}`);
      const svc = (await tx.store.listServices()).find((x) => x.code === a.service);
      // the period already under way keeps its tariff; the change applies from the next one
      if (svc) await tx.store.setTariffFrom(a.service, nextPeriod(periodOf(tx.now(), this.ctx.timeZone)), svc.monthlyFee, svc.smsFee);
      await tx.journal({ channel: 'operator', action: 'tariff-change', auth: 'operator', operator: a.operator, outcome: 'executed', detail: `service=${a.service} monthly=${a.monthlyFee ?? '-'} sms=${a.smsFee ?? '-'}` });
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
async function addNumberIn(tx: Tx, a: NewNumber): Promise<{ number: NumberView; challengeId: string | null }> {
  const { store } = tx;
  const { phone, codes } = a;
  const client = await mustClient(store, a.clientId);
  const taken = await store.getLiveNumber(phone);
  if (taken) {
    throw new AppError('NUMBER_TAKEN', taken.clientId === client.id
      ? `${phone} is already registered for this client (${taken.state})`
      : `${phone} is already a trusted number of another client`);
  }
  const objectIds: number[] = [];
  for (const code of codes ?? []) {
    const o = await mustObject(store, code);
    if (o.clientId !== client.id) throw new AppError('OBJECT_NOT_ALLOWED', `object ${code} belongs to another client`);
    objectIds.push(o.id);
  }
  const at = tx.nowIso();
  const state = a.signed ? 'active' : 'pending';
  const numberId = await store.insertNumber({ clientId: client.id, phone, state, allObjects: codes === null, objectIds, at });
  const number = await store.getNumber(numberId) as NumberView;
  let challengeId: string | null = null;
  if (!a.signed) {
    const ch = await createChallenge(tx, { number, client, purpose: 'confirm-number', object: null, channel: CHALLENGE_ANY_CHANNEL, operator: a.operator });
    if (!ch.ok) throw new AppError('RATE_LIMITED', 'too many codes sent to this number; try later', { retryAfterMs: ch.retryAfterMs });
    challengeId = ch.challengeId;
  }
  await tx.journal({
    channel: 'operator', phone, clientId: client.id, action: 'number-add', auth: 'operator', operator: a.operator,
    outcome: 'executed', challengeId, detail: `state=${state}${codes ? ` objects=${codes.join(',')}` : ' objects=all'}`,
  });
  return { number, challengeId };
}
