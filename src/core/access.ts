import { tokenHash } from '../domain/crypto.ts';
import type { Keys } from '../domain/crypto.ts';
import { AppError } from '../domain/errors.ts';
import type { ClientView, NumberView } from '../domain/types.ts';
import { isDuplicate } from './context.ts';
import type { Core } from './core.ts';
import type { Clock, OperatorRow, Random, SessionRow, Store } from './ports.ts';

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

  /** The code for sign-in came back: a session. Refusals are the core's confirm refusals. */
  verifySignIn(a: { channel: 'app' | 'chat'; phone: string; code: string; ref?: string }):
    { kind: 'session'; token: string; expiresAt: string } | { kind: 'refused'; reason: string; attemptsLeft?: number } {
    const id = this.d.core.identify(a.phone);
    const number = id.number;
    const pending = number ? this.d.store.pendingChallenges(number.id).find((c) => c.purpose === 'sign-in' && c.channel === a.channel) : undefined;
    // only a sign-in challenge may be answered here (never a pending disarm of the same number)
    if (!pending) return { kind: 'refused', reason: 'no-pending' };
    const r = this.d.core.confirm({ channel: a.channel, phone: a.phone, code: a.code, challengeId: pending.id, ...(a.ref ? { ref: a.ref } : {}) });
    if (r.kind === 'refused') return { kind: 'refused', reason: r.reason, ...(r.attemptsLeft !== undefined ? { attemptsLeft: r.attemptsLeft } : {}) };
    if (r.purpose !== 'sign-in') return { kind: 'refused', reason: 'no-pending' };
    const token = this.newToken();
    const now = this.d.clock.now();
    const expiresAt = new Date(now.getTime() + SESSION_IDLE_MS).toISOString();
    this.d.store.insertSession({ tokenHash: this.hash(token), numberId: r.numberId, clientId: r.clientId, channel: a.channel, at: now.toISOString(), expiresAt });
    return { kind: 'session', token, expiresAt };
  }

  /** The session behind a bearer token, or a 401 with the reason kept vague on purpose. */
  authenticate(token: string | undefined): ClientSession {
    if (!token || token.length > 200) throw new AppError('UNAUTHENTICATED', 'sign in first');
    const h = this.hash(token);
    const s = this.d.store.getSession(h);
    const now = this.d.clock.now();
    if (!s || s.revokedAt || Date.parse(s.expiresAt) <= now.getTime()) throw new AppError('UNAUTHENTICATED', 'session expired or revoked; sign in again');
    const number = this.d.store.getNumber(s.numberId);
    const client = this.d.store.getClient(s.clientId);
    if (!number || !client || number.state !== 'active') {
      this.d.store.revokeSession(h, now.toISOString());
      throw new AppError('UNAUTHENTICATED', 'session expired or revoked; sign in again');
    }
    // refresh the idle limit at most once a minute
    if (now.getTime() - Date.parse(s.lastSeenAt) > 60_000) {
      this.d.store.touchSession(h, now.toISOString(), new Date(now.getTime() + SESSION_IDLE_MS).toISOString());
    }
    return { token, session: s, number, client };
  }

  logout(token: string): void {
    this.d.store.revokeSession(this.hash(token), this.d.clock.now().toISOString());
  }

  setChatChallenge(token: string, challengeId: string | null): void {
    this.d.store.setSessionChallenge(this.hash(token), challengeId);
  }

  private tokenExpiry(now: Date): string {
    return new Date(now.getTime() + this.operatorTokenDays * 86_400_000).toISOString();
  }

  private journalOperator(x: { action: string; by: string; detail: string; at: string }): void {
    this.d.store.appendJournal({
      at: x.at, channel: 'operator', phone: null, clientId: null, objectCode: null, action: x.action,
      auth: 'operator', challengeId: null, operator: x.by, outcome: 'executed', reason: null, detail: x.detail,
    });
  }

  private operatorNamed(name: string): OperatorRow {
    const o = this.d.store.getOperatorByName((name ?? '').trim());
    if (!o) throw new AppError('NOT_FOUND', `no operator named ${name}`);
    return o;
  }

  /** A new operator and their token (shown once, stored hashed). `by` is who added them. */
  addOperator(a: { name: string; role: OperatorRole; by?: string }): { operator: OperatorRow; token: string } {
    const name = (a.name ?? '').trim();
    if (name.length < 1 || name.length > 100) throw new AppError('BAD_INPUT', 'operator name must be 1 to 100 characters');
    if (!OPERATOR_ROLES.includes(a.role)) throw new AppError('BAD_INPUT', `role must be one of ${OPERATOR_ROLES.join(', ')}`);
    const token = this.newToken();
    const now = this.d.clock.now();
    const expiresAt = this.tokenExpiry(now);
    try {
      this.d.store.tx(() => {
        this.d.store.insertOperator({ name, role: a.role, tokenHash: this.hash(token), at: now.toISOString(), expiresAt });
        this.journalOperator({ action: 'operator-add', by: a.by ?? name, at: now.toISOString(), detail: `operator=${name} role=${a.role} expires=${expiresAt}` });
      });
    } catch (e) {
      if (isDuplicate(e)) throw new AppError('CONFLICT', `an operator named ${name} exists`);
      throw e;
    }
    return { operator: this.operatorNamed(name), token };
  }

  /**
   * The operator behind a bearer token. A token that is unknown (never issued, or replaced by
   * a rotation) or belongs to a disabled operator answers UNAUTHENTICATED; a valid token past
   * its expiry answers TOKEN_EXPIRED. Last use is written at most once a minute.
   */
  authenticateOperator(token: string | undefined): OperatorRow {
    if (!token || token.length > 200) throw new AppError('UNAUTHENTICATED', 'operator credentials required');
    const o = this.d.store.getOperatorByToken(this.hash(token));
    if (!o || o.disabledAt) throw new AppError('UNAUTHENTICATED', 'operator credentials required');
    const now = this.d.clock.now();
    if (!o.tokenExpiresAt || Date.parse(o.tokenExpiresAt) <= now.getTime()) {
      throw new AppError('TOKEN_EXPIRED', 'the operator token has expired; an admin issues a new one with `zhedel operator rotate`');
    }
    if (!o.lastUsedAt || now.getTime() - Date.parse(o.lastUsedAt) >= 60_000) {
      this.d.store.touchOperator(o.id, now.toISOString());
      return { ...o, lastUsedAt: now.toISOString() };
    }
    return o;
  }

  /**
   * Disables an operator: their token answers 401 at once (open event streams are ended by the
   * service). The last enabled admin cannot be disabled. `changed` is false when already disabled.
   */
  disableOperator(a: { name: string; by: string }): { operator: OperatorRow; changed: boolean } {
    return this.d.store.tx(() => {
      const o = this.operatorNamed(a.name);
      if (o.disabledAt) return { operator: o, changed: false };
      if (o.role === 'admin' && !this.d.store.listOperators().some((x) => x.id !== o.id && x.role === 'admin' && !x.disabledAt)) {
        throw new AppError('CONFLICT', `${o.name} is the last enabled admin; enable or add another admin first`);
      }
      const at = this.d.clock.now().toISOString();
      this.d.store.setOperatorDisabled(o.id, at);
      this.journalOperator({ action: 'operator-disable', by: a.by, at, detail: `operator=${o.name}` });
      return { operator: this.operatorNamed(o.name), changed: true };
    });
  }

  /** Enables a disabled operator; their current token works again until it expires. */
  enableOperator(a: { name: string; by: string }): { operator: OperatorRow; changed: boolean } {
    return this.d.store.tx(() => {
      const o = this.operatorNamed(a.name);
      if (!o.disabledAt) return { operator: o, changed: false };
      const at = this.d.clock.now().toISOString();
      this.d.store.setOperatorDisabled(o.id, null);
      this.journalOperator({ action: 'operator-enable', by: a.by, at, detail: `operator=${o.name}` });
      return { operator: this.operatorNamed(o.name), changed: true };
    });
  }

  /** Issues a new token (shown once) with a new expiry; the old token answers 401 at once. */
  rotateOperator(a: { name: string; by: string }): { operator: OperatorRow; token: string } {
    const token = this.newToken();
    return this.d.store.tx(() => {
      const o = this.operatorNamed(a.name);
      const now = this.d.clock.now();
      const expiresAt = this.tokenExpiry(now);
      this.d.store.setOperatorToken(o.id, this.hash(token), now.toISOString(), expiresAt);
      this.journalOperator({ action: 'operator-rotate', by: a.by, at: now.toISOString(), detail: `operator=${o.name} expires=${expiresAt}` });
      return { operator: this.operatorNamed(o.name), token };
    });
  }

  /** An operator's state now: active, disabled, or expired (the token is past its expiry). */
  operatorState(o: OperatorRow): 'active' | 'disabled' | 'expired' {
    if (o.disabledAt) return 'disabled';
    if (!o.tokenExpiresAt || Date.parse(o.tokenExpiresAt) <= this.d.clock.now().getTime()) return 'expired';
    return 'active';
  }

  listOperators(): Array<OperatorRow & { state: 'active' | 'disabled' | 'expired' }> {
    return this.d.store.listOperators().map((o) => ({ ...o, state: this.operatorState(o) }));
  }

  /** Grows with every change to operators' credentials, in any process (see OperatorRevocations). */
  operatorsRevision(): number {
    return this.d.store.operatorsRevision();
  }
}
