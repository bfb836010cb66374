import type { JournalContent, JournalRecord } from '../domain/journal.ts';
import type { CodeClass } from '../domain/otp.ts';
import type {
  ClientView, Lang, NumberState, NumberView, ObjectStatus, ObjectView,
} from '../domain/types.ts';

/**
 * What the core needs from storage. All methods are synchronous (SQLite in-process); they
 * throw on constraint violations. `tx` runs `fn` in one IMMEDIATE transaction: everything in
 * it commits durably together or not at all.
 */
export interface Store {
  tx<T>(fn: () => T): T;

  insertClient(c: { name: string; lang: Lang; balance: number; at: string }): number;
  getClient(id: number): ClientView | undefined;
  listClients(): ClientView[];
  setClientLang(id: number, lang: Lang): void;
  addBalance(id: number, delta: number): void;
  setSuspended(id: number, at: string | null): void;

  insertObject(o: { clientId: number; code: string; address: string; at: string; calloutEnabled: boolean }): number;
  getObjectByCode(code: string): ObjectView | undefined;
  getObject(id: number): ObjectView | undefined;
  listObjects(clientId?: number): ObjectView[];
  setObjectStatus(id: number, status: ObjectStatus, since: string): void;

  insertNumber(n: { clientId: number; phone: string; state: NumberState; allObjects: boolean; objectIds: number[]; at: string }): number;
  /** The number that is not removed, if any (at most one by the unique index). */
  getLiveNumber(phone: string): NumberView | undefined;
  getNumber(id: number): NumberView | undefined;
  listNumbers(clientId: number): NumberView[];
  setNumberState(id: number, state: NumberState, at: string, blockReason?: string | null): void;
  /** Objects this number may control (all of the client's when allObjects). */
  objectsForNumber(n: NumberView): ObjectView[];

  insertChallenge(c: ChallengeRow): void;
  getChallenge(id: string): ChallengeRow | undefined;
  /** Newest first. */
  pendingChallenges(numberId: number): ChallengeRow[];
  updateChallenge(id: string, attempts: number, state: ChallengeRow['state']): void;
  /** Marks every pending challenge of the number revoked; returns how many. */
  revokeChallenges(numberId: number): number;

  /** One code SMS to this number, counted in its class's budget. */
  recordOtpSend(phone: string, cls: CodeClass, at: string): void;
  otpSendsSince(phone: string, since: string): Array<{ cls: CodeClass; at: string }>;
  /** Whether a code flood of this class was noted for this number after `since`. */
  codeFloodSince(phone: string, cls: CodeClass, since: string): boolean;
  recordCodeFlood(phone: string, cls: CodeClass, at: string, alertId: number | null): void;

  /** Operators' settings shared by every process (e.g. `SETTING_OTP_CEILING` in the core). */
  getSetting(key: string): string | undefined;
  setSetting(key: string, value: string, at: string, by: string | null): void;

  appendJournal(c: JournalContent): JournalRecord;
  journalPage(afterSeq: number, limit: number): JournalRecord[];
  searchJournal(f: JournalFilter): JournalRecord[];

  enqueueSms(m: OutboxInsert): number;
  /** Newest first; `before` pages back by id; `duplicateRisk` keeps only messages that may have gone out twice. */
  listOutbox(f: { limit: number; state?: string; duplicateRisk?: boolean; before?: number }): OutboxRow[];

  insertLedger(l: { clientId: number; amount: number; kind: 'payment' | 'charge' | 'refund'; ref: string; note: string | null; at: string }): number;

  listServices(): ServiceRow[];
  updateService(code: string, fees: { monthlyFee?: number; smsFee?: number }): boolean;
  listSubscriptions(clientId: number): Array<{ service: string; state: string; startedAt: string }>;

  insertSession(s: { tokenHash: string; numberId: number; clientId: number; channel: 'app' | 'chat'; at: string; expiresAt: string }): void;
  getSession(tokenHash: string): SessionRow | undefined;
  touchSession(tokenHash: string, at: string, expiresAt: string): void;
  revokeSession(tokenHash: string, at: string): boolean;
  /** Ends every live session of the number; returns how many. */
  revokeSessions(numberId: number, at: string): number;
  setSessionChallenge(tokenHash: string, challengeId: string | null): void;

  insertOperator(o: { name: string; role: 'operator' | 'admin'; tokenHash: string; at: string; expiresAt: string }): number;
  getOperatorByToken(tokenHash: string): OperatorRow | undefined;
  getOperatorByName(name: string): OperatorRow | undefined;
  listOperators(): OperatorRow[];
  /** Disables (at) or enables (null) an operator; false when it already was. */
  setOperatorDisabled(id: number, at: string | null): boolean;
  /** A new token replaces the old one, which stops working at once. */
  setOperatorToken(id: number, tokenHash: string, at: string, expiresAt: string): void;
  touchOperator(id: number, at: string): void;
  /** Grows with every change to who may sign in as an operator (any process). */
  operatorsRevision(): number;

  /** Stores a monitoring event once per source id; a repeat returns the stored one. */
  insertMonitoringEvent(e: MonitoringEventInsert): { row: MonitoringEventRow; duplicate: boolean };
  setEventResult(id: number, result: string, at: string, zoneKey: string | null): void;
  /** Alarms of this object and zone received after `since` that were sent to clients (for grouping). */
  recentAlarm(objectCode: string, zoneKey: string, since: string, exceptId: number): boolean;
  /** The last alarm of the object that was told to clients and not yet followed by a restore. */
  openAlarm(objectCode: string): MonitoringEventRow | undefined;
  setPriorStatus(objectId: number, prior: string | null): void;
  setCalloutState(eventId: number, state: 'pending' | 'running' | 'done'): void;
  /** Alarm events whose call-outs wait (or were running when the service stopped). */
  calloutsWaiting(): MonitoringEventRow[];
  getPriorStatus(objectId: number): string | null;

  insertAlert(a: { kind: string; clientId: number | null; objectCode: string | null; phone: string | null; detail: string | null; at: string }): number;
  /** Whether an alert of this kind for this number was raised after `since`. */
  recentAlert(kind: string, key: string, since: string): boolean;
  listAlerts(openOnly: boolean, limit: number): AlertRow[];
  ackAlert(id: number, by: string, at: string): boolean;

  insertCallout(c: { eventId: number; objectCode: string; phone: string; round: number; at: string }): number;
  endCallout(id: number, result: string, at: string): void;

  allSubscriptions(): Array<{ clientId: number; service: string; state: string }>;
  addSubscription(clientId: number, service: string, at: string): void;
  setSubscriptionState(clientId: number, service: string, state: 'active' | 'suspended'): void;
  tariffFor(service: string, period: string): { monthlyFee: number; smsFee: number } | undefined;
  setTariffFrom(service: string, period: string, monthlyFee: number, smsFee: number): void;
  /** Records a billing notice once; false when it was already sent for that period. */
  billingNotice(clientId: number, kind: string, period: string, at: string): boolean;
  ledgerHas(ref: string): boolean;
}

export interface AlertRow {
  id: number;
  kind: string;
  clientId: number | null;
  objectCode: string | null;
  phone: string | null;
  detail: string | null;
  createdAt: string;
  acknowledgedAt: string | null;
  acknowledgedBy: string | null;
}

export interface ServiceRow {
  code: string;
  nameRu: string;
  nameKk: string;
  monthlyFee: number;
  smsFee: number;
  active: boolean;
}

export interface SessionRow {
  tokenHash: string;
  numberId: number;
  clientId: number;
  channel: 'app' | 'chat';
  createdAt: string;
  expiresAt: string;
  lastSeenAt: string;
  revokedAt: string | null;
  pendingChallenge: string | null;
}

export interface OperatorRow {
  id: number;
  name: string;
  role: 'operator' | 'admin';
  createdAt: string;
  disabledAt: string | null;
  /** When the current token was issued (add or rotate). */
  tokenIssuedAt: string | null;
  /** The token stops working at this time; null only for a damaged row (treated as expired). */
  tokenExpiresAt: string | null;
  /** Last authenticated use, to the minute. */
  lastUsedAt: string | null;
}

export interface MonitoringEventInsert {
  sourceId: string;
  objectCode: string;
  type: string;
  kind: string | null;
  zone: number | null;
  eventAt: string;
  receivedAt: string;
}

export interface MonitoringEventRow extends MonitoringEventInsert {
  id: number;
  processedAt: string | null;
  result: string | null;
}

export interface ChallengeRow {
  id: string;
  purpose: string;
  numberId: number;
  objectId: number | null;
  channel: string;
  codeHash: Buffer;
  createdAt: string;
  expiresAt: string;
  attempts: number;
  state: 'pending' | 'used' | 'failed' | 'expired' | 'revoked';
  operator: string | null;
}

export interface JournalFilter {
  clientId?: number;
  phone?: string;
  objectCode?: string;
  action?: string;
  channel?: string;
  outcome?: string;
  since?: string;
  until?: string;
  beforeSeq?: number;
  /** Only what one trusted number may see: its own documents and those about these objects. */
  visibleTo?: { phone: string; objectCodes: string[] };
  limit: number;
}

export interface OutboxInsert {
  priority: 0 | 1 | 2;
  kind: string;
  phone: string;
  clientId: number | null;
  body: string | null;
  bodyEnc: Buffer | null;
  secret: boolean;
  at: string;
  expiresAt: string | null;
}

export interface OutboxRow {
  id: number;
  priority: number;
  kind: string;
  phone: string;
  clientId: number | null;
  body: string | null;
  bodyEnc: Buffer | null;
  secret: boolean;
  state: string;
  createdAt: string;
  expiresAt: string | null;
  attempts: number;
  error: string | null;
  updatedAt: string;
  partsTotal: number | null;
  duplicateRisk: boolean;
  doneAt: string | null;
  /** The SMSC's message ids of the accepted parts, in part order. */
  messageIds: string[];
}

export interface Clock {
  now(): Date;
}

export interface Random {
  /** Uniform integer in [0, max) from a CSPRNG. */
  int(max: number): number;
  bytes(n: number): Buffer;
}

/** Live events for connected app clients and consoles. Emitting never throws or blocks. */
export type LiveEvent =
  | { type: 'object-status'; clientId: number; objectCode: string; status: ObjectStatus; since: string; cause: string }
  | { type: 'alarm'; clientId: number; objectCode: string; kind: string; zone: number | null; at: string }
  | { type: 'operator-alert'; id: number; kind: string; objectCode: string | null; detail: string | null }
  | { type: 'number-state'; clientId: number; numberId: number; phone: string; state: NumberState };

export interface LiveEvents {
  emit(e: LiveEvent): void;
}

/** Told after a transaction commits that put SMS in the outbox, so a sender can wake up. */
export interface OutboxSignal {
  queued(): void;
}

/** A write refused because a unique key is taken; `key` names what was duplicated. */
export class DuplicateKeyError extends Error {
  constructor(readonly key: string) {
    super(`duplicate key: ${key}`);
    this.name = 'DuplicateKeyError';
  }
}
