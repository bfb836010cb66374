import { tokenHash } from '../domain/crypto.ts';
import type { Keys } from '../domain/crypto.ts';
import { AppError } from '../domain/errors.ts';
import type { ClientView, NumberView } from '../domain/types.ts';
import { isDuplicate } from './context.ts';
import type { Core } from './core.ts';
import type { Clock, OperatorRow, Random, SessionRow, Store, StoreTx } from './ports.ts';

/** A session lives this long after its last use. */
export const SESSION_IDLE_MS = 30 * 24 * 3_600_000;

export interface ClientSession {
  token: string;
  session: SessionRow;
  number: NumberView;
  client: ClientView;
}

/** Operators' tokens expire this many days after they were issued, unless configured. */
export const OPERATOR_TOKEN_DAYS = 90;

export const OPERATOR_ROLES = ['operator', 'admin'] as const;
export type OperatorRole = (typeof OPERATOR_ROLES)[number];

/**
 * Sign-in for the app and the chat (a one-time code to the trusted number, then a random
 * session token stored only as an HMAC), and operators' accounts (a random token, also stored
 * only hashed, expiring, revocable by disabling or rotating). A session is valid while its number is active, its client not suspended and it
 * was neither revoked nor idle too long; blocking or removing the number revokes it at once.
 */
export class Access {
  private readonly operatorTokenDays: number;

  constructor(private readonly d: { store: Store; clock: Clock; random: Random; keys: Keys; core: Core; operatorTokenDays?: number }) {
    this.operatorTokenDays = d.operatorTokenDays ?? OPERATOR_TOKEN_DAYS;
  }

  private hash(token: string): string {
    return tokenHash(this.d.keys.token, token);
  }

  private newToken(): string {
    return this.d.random.bytes(32).toString('base64url');
  }

  /**
   * The code for sign-in came back: a session. Refusals are the core's confirm refusals.
   * Resolves once the session is stored; rejects when storage fails.
   */
  async verifySignIn(a: { channel: 'app' | 'chat'; phone: string; code: string; ref?: string }):
    Promise<{ kind: 'session'; token: string; expiresAt: string } | { kind: 'refused'; reason: string; attemptsLeft?: number }> {
    const id = await this.d.core.identify(a.phone);
    const number = id.number;
    const pending = number
      ? (await this.d.store.read((s) => s.pendingChallenges(number.id))).find((c) => c.purpose === 'sign-in' && c.channel === a.channel)
      : undefined;
    // only a sign-in challenge may be answered here (never a pending disarm of the same number)
    if (!pending) return { kind: 'refused', reason: 'no-pending' };
    const r = await this.d.core.confirm({ channel: a.channel, phone: a.phone, code: a.code, challengeId: pending.id, ...(a.ref ? { ref: a.ref } : {}) });
    if (r.kind === 'refused') return { kind: 'refused', reason: r.reason, ...(r.attemptsLeft !== undefined ? { attemptsLeft: r.attemptsLeft } : {}) };
    if (r.purpose !== 'sign-in') return { kind: 'refused', reason: 'no-pending' };
    const token = this.newToken();
    const now = this.d.clock.now();
    const expiresAt = new Date(now.getTime() + SESSION_IDLE_MS).toISOString();
    await this.d.store.transaction((s) => s.insertSession({ tokenHash: this.hash(token), numberId: r.numberId, clientId: r.clientId, channel: a.channel, at: now.toISOString(), expiresAt }));
    return { kind: 'session', token, expiresAt };
  }

  /**
   * The session behind a bearer token; rejects with a 401 (the reason kept vague on purpose).
   * Reads a snapshot; writes only when the session must end or its idle limit moves.
   */
  async authenticate(token: string | undefined): Promise<ClientSession> {
    if (!token || token.length > 200) throw new AppError('UNAUTHENTICATED', 'sign in first');
    const h = this.hash(token);
    const now = this.d.clock.now();
    const found = await this.d.store.read(async (s) => {
      const session = await s.getSession(h);
      if (!session || session.revokedAt || Date.parse(session.expiresAt) <= now.getTime()) return undefined;
      return { session, number: await s.getNumber(session.numberId), client: await s.getClient(session.clientId) };
    });
    if (!found) throw new AppError('UNAUTHENTICATED', 'session expired or revoked; sign in again');
    const { session, number, client } = found;
    if (!number || !client || number.state !== 'active') {
      await this.d.store.transaction((s) => s.revokeSession(h, now.toISOString()));
      throw new AppError('UNAUTHENTICATED', 'session expired or revoked; sign in again');
    }
    // refresh the idle limit at most once a minute
    if (now.getTime() - Date.parse(session.lastSeenAt) > 60_000) {
      await this.d.store.transaction((s) => s.touchSession(h, now.toISOString(), new Date(now.getTime() + SESSION_IDLE_MS).toISOString()));
    }
    return { token, session, number, client };
  }

  async logout(token: string): Promise<void> {
    await this.d.store.transaction((s) => s.revokeSession(this.hash(token), this.d.clock.now().toISOString()));
  }

  async setChatChallenge(token: string, challengeId: string | null): Promise<void> {
    await this.d.store.transaction((s) => s.setSessionChallenge(this.hash(token), challengeId));
  }

  private tokenExpiry(now: Date): string {
    return new Date(now.getTime() + this.operatorTokenDays * 86_400_000).toISOString();
  }

  private async journalOperator(s: StoreTx, x: { action: string; by: string; detail: string; at: string }): Promise<void> {
    await s.appendJournal({
      at: x.at, channel: 'operator', phone: null, clientId: null, objectCode: null, action: x.action,
      auth: 'operator', challengeId: null, operator: x.by, outcome: 'executed', reason: null, detail: x.detail,
    });
  }

  private async operatorNamed(s: StoreTx, name: string): Promise<OperatorRow> {
    const o = await s.getOperatorByName((name ?? '').trim());
    if (!o) throw new AppError('NOT_FOUND', `no operator named ${name}`);
    return o;
  }

  /** A new operator and their token (shown once, stored hashed). `by` is who added them. */
  async addOperator(a: { name: string; role: OperatorRole; by?: string }): Promise<{ operator: OperatorRow; token: string }> {
    const name = (a.name ?? '').trim();
    if (name.length < 1 || name.length > 100) throw new AppError('BAD_INPUT', 'operator name must be 1 to 100 characters');
    if (!OPERATOR_ROLES.includes(a.role)) throw new AppError('BAD_INPUT', `role must be one of ${OPERATOR_ROLES.join(', ')}`);
    const token = this.newToken();
    const now = this.d.clock.now();
    const expiresAt = this.tokenExpiry(now);
    try {
      return await this.d.store.transaction(async (s) => {
        await s.insertOperator({ name, role: a.role, tokenHash: this.hash(token), at: now.toISOString(), expiresAt });
        await this.journalOperator(s, { action: 'operator-add', by: a.by ?? name, at: now.toISOString(), detail: `operator=${name} role=${a.role} expires=${expiresAt}` });
        return { operator: await this.operatorNamed(s, name), token };
      });
    } catch (e) {
      if (isDuplicate(e)) throw new AppError('CONFLICT', `an operator named ${name} exists`);
      throw e;
    }
  }

  /**
   * The operator behind a bearer token. A token that is unknown (never issued, or replaced by
   * a rotation) or belongs to a disabled operator answers UNAUTHENTICATED; a valid token past
   * its expiry answers TOKEN_EXPIRED. Last use is written at most once a minute.
   */
  async authenticateOperator(token: string | undefined): Promise<OperatorRow> {
    if (!token || token.length > 200) throw new AppError('UNAUTHENTICATED', 'operator credentials required');
    const hash = this.hash(token);
    const o = await this.d.store.read((s) => s.getOperatorByToken(hash));
    if (!o || o.disabledAt) throw new AppError('UNAUTHENTICATED', 'operator credentials required');
    const now = this.d.clock.now();
    if (!o.tokenExpiresAt || Date.parse(o.tokenExpiresAt) <= now.getTime()) {
      throw new AppError('TOKEN_EXPIRED', 'the operator token has expired; an admin issues a new one with `zhedel operator rotate`');
    }
    if (!o.lastUsedAt || now.getTime() - Date.parse(o.lastUsedAt) >= 60_000) {
      await this.d.store.transaction((s) => s.touchOperator(o.id, now.toISOString()));
      return { ...o, lastUsedAt: now.toISOString() };
    }
    return o;
  }

  /**
   * Disables an operator: their token answers 401 at once (open event streams are ended by the
   * service). The last enabled admin cannot be disabled. `changed` is false when already disabled.
   */
  disableOperator(a: { name: string; by: string }): Promise<{ operator: OperatorRow; changed: boolean }> {
    return this.d.store.transaction(async (s) => {
      const o = await this.operatorNamed(s, a.name);
      if (o.disabledAt) return { operator: o, changed: false };
      if (o.role === 'admin' && !(await s.listOperators()).some((x) => x.id !== o.id && x.role === 'admin' && !x.disabledAt)) {
        throw new AppError('CONFLICT', `${o.name} is the last enabled admin; enable or add another admin first`);
      }
      const at = this.d.clock.now().toISOString();
      await s.setOperatorDisabled(o.id, at);
      await this.journalOperator(s, { action: 'operator-disable', by: a.by, at, detail: `operator=${o.name}` });
      return { operator: await this.operatorNamed(s, o.name), changed: true };
    });
  }

  /** Enables a disabled operator; their current token works again until it expires. */
  enableOperator(a: { name: string; by: string }): Promise<{ operator: OperatorRow; changed: boolean }> {
    return this.d.store.transaction(async (s) => {
      const o = await this.operatorNamed(s, a.name);
      if (!o.disabledAt) return { operator: o, changed: false };
      const at = this.d.clock.now().toISOString();
      await s.setOperatorDisabled(o.id, null);
      await this.journalOperator(s, { action: 'operator-enable', by: a.by, at, detail: `operator=${o.name}` });
      return { operator: await this.operatorNamed(s, o.name), changed: true };
    });
  }

  /** Issues a new token (shown once) with a new expiry; the old token answers 401 at once. */
  rotateOperator(a: { name: string; by: string }): Promise<{ operator: OperatorRow; token: string }> {
    const token = this.newToken();
    return this.d.store.transaction(async (s) => {
      const o = await this.operatorNamed(s, a.name);
      const now = this.d.clock.now();
      const expiresAt = this.tokenExpiry(now);
      await s.setOperatorToken(o.id, this.hash(token), now.toISOString(), expiresAt);
      await this.journalOperator(s, { action: 'operator-rotate', by: a.by, at: now.toISOString(), detail: `operator=${o.name} expires=${expiresAt}` });
      return { operator: await this.operatorNamed(s, o.name), token };
    });
  }

  /** An operator's state now: active, disabled, or expired (the token is past its expiry). */
  operatorState(o: OperatorRow): 'active' | 'disabled' | 'expired' {
    if (o.disabledAt) return 'disabled';
    if (!o.tokenExpiresAt || Date.parse(o.tokenExpiresAt) <= this.d.clock.now().getTime()) return 'expired';
    return 'active';
  }

  async listOperators(): Promise<Array<OperatorRow & { state: 'active' | 'disabled' | 'expired' }>> {
    return (await this.d.store.read((s) => s.listOperators())).map((o) => ({ ...o, state: this.operatorState(o) }));
  }
}
