import { tokenHash } from '../domain/crypto.ts';
import type { Keys } from '../domain/crypto.ts';
import { AppError } from '../domain/errors.ts';
import type { ClientView, NumberView } from '../domain/types.ts';
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

export const OPERATOR_ROLES = ['operator', 'admin'] as const;
export type OperatorRole = (typeof OPERATOR_ROLES)[number];

/**
 * Sign-in for the app and the chat (a one-time code to the trusted number, then a random
 * session token stored only as an HMAC), and operators' accounts (a random token, also stored
 * only hashed). A session is valid while its number is active, its client not suspended and it
 * was neither revoked nor idle too long; blocking or removing the number revokes it at once.
 */
export class Access {
  constructor(private readonly d: { store: Store; clock: Clock; random: Random; keys: Keys; core: Core }) {}

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

  addOperator(a: { name: string; role: OperatorRole }): { operator: OperatorRow; token: string } {
    const name = (a.name ?? '').trim();
    if (name.length < 1 || name.length > 100) throw new AppError('BAD_INPUT', 'operator name must be 1 to 100 characters');
    if (!OPERATOR_ROLES.includes(a.role)) throw new AppError('BAD_INPUT', `role must be one of ${OPERATOR_ROLES.join(', ')}`);
    const token = this.newToken();
    try {
      this.d.store.tx(() => {
        this.d.store.insertOperator({ name, role: a.role, tokenHash: this.hash(token), at: this.d.clock.now().toISOString() });
        this.d.store.appendJournal({
          at: this.d.clock.now().toISOString(), channel: 'operator', phone: null, clientId: null, objectCode: null, action: 'operator-add',
          auth: 'operator', challengeId: null, operator: name, outcome: 'executed', reason: null, detail: `role=${a.role}`,
        });
      });
    } catch (e) {
      if (String((e as Error).message).includes('UNIQUE')) throw new AppError('CONFLICT', `an operator named ${name} exists`);
      throw e;
    }
    const operator = this.d.store.listOperators().find((o) => o.name === name) as OperatorRow;
    return { operator, token };
  }

  authenticateOperator(token: string | undefined): OperatorRow {
    if (!token || token.length > 200) throw new AppError('UNAUTHENTICATED', 'operator credentials required');
    const o = this.d.store.getOperatorByToken(this.hash(token));
    if (!o || o.disabledAt) throw new AppError('UNAUTHENTICATED', 'operator credentials required');
    return o;
  }

  listOperators(): OperatorRow[] {
    return this.d.store.listOperators();
  }
}
