import type { JournalContent, JournalRecord } from '../domain/journal.ts';
import type { CodeClass } from '../domain/otp.ts';
import type {
  ClientView, Lang, NumberState, NumberView, ObjectStatus, ObjectView,
} from '../domain/types.ts';

/**
 * A write refused because a row with the same unique key exists (an object code, a ledger
 * reference, an operator's name). Every engine throws this, never its own error, so callers
 * test `instanceof` and never an engine's message text; `key` names the violated key.
 */
export class DuplicateKeyError extends Error {
  constructor(readonly key: string) {
    super(`duplicate ${key}`);
    this.name = 'DuplicateKeyError';
  }
}

/**
 * What the core needs from storage. All methods are synchronous (SQLite in-process); they
 * throw `DuplicateKeyError` when a unique key is taken and other errors on other constraint
 * violations. `tx` runs `fn` in one IMMEDIATE transaction: everything in
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

/** The answer of one readiness check. */
export interface ReadinessResult {
  ok: boolean;
  detail?: string;
}

/** A named dependency the service needs, for /ready. */
export interface ReadinessCheck {
  name: string;
  /** Resolves quickly; never throws. `required` checks make /ready fail when down. */
  check(): ReadinessResult;
  required: boolean;
}

/** A message claimed for sending, with the parts the SMSC already accepted. */
export interface ClaimedSms {
  id: number;
  priority: number;
  kind: string;
  phone: string;
  body: string | null;
  bodyEnc: Buffer | null;
  secret: boolean;
  expiresAt: string | null;
  attempts: number;
  concatRef: number;
  duplicateRisk: boolean;
  /** Part numbers (1-based) already accepted by the SMSC: never sent again. */
  acceptedParts: number[];
}

/** A part the SMSC accepted, with the keys its delivery receipt may carry. */
export interface PartAccepted {
  outboxId: number;
  seq: number;
  total: number;
  messageId: string;
  keys: string[];
}

export type MessageOutcome =
  | { outboxId: number; state: 'submitted'; eraseBody: boolean; total: number }
  | { outboxId: number; state: 'retry'; notBefore: string; error: string; duplicateRisk: boolean }
  | { outboxId: number; state: 'failed'; error: string; duplicateRisk: boolean; eraseBody: boolean }
  | { outboxId: number; state: 'expired' };

export type PartState = 'delivered' | 'undeliverable' | 'expired' | 'deleted' | 'rejected' | 'unknown' | 'accepted';

export interface OutboxCounts {
  [state: string]: number;
}

/**
 * The outbox as the SMS dispatcher sees it. Every method is synchronous: it returns once its
 * change is committed (durably) and throws only when storage fails (disk, a lost database);
 * a method that throws changed nothing. Several processes may use one outbox: a message is
 * claimed by one of them only.
 */
export interface Outbox {
  /**
   * After a restart: messages caught mid-send ('sending') go back to the queue, marked as
   * possibly duplicated (a part may have reached the SMSC without its answer being stored).
   * Returns how many.
   */
  recoverSending(at: string): number;
  /**
   * Expires queued messages past their lifetime (codes are never sent late), then claims up
   * to `limit` due messages, most urgent first (priority, then age), marking them 'sending'
   * and counting the attempt. Returns the claimed messages in that order and how many expired.
   */
  claim(now: string, limit: number): { claimed: ClaimedSms[]; expired: number };
  /**
   * Records accepted parts (with their receipt keys) and message outcomes, all in one
   * transaction. A part recorded twice is kept once. Does nothing when both lists are empty.
   */
  record(parts: PartAccepted[], outcomes: MessageOutcome[], at: string): void;
  /**
   * A delivery receipt: finds the part by any of its keys (exact ones first, newest part
   * first) and settles it; when every part of the message is settled the message takes its
   * final state (`messageState`, else null). Returns null when no part matches (yet).
   */
  applyReceipt(keys: { exact: string[]; cross: string[] }, state: PartState, error: string | null, at: string): { outboxId: number; messageState: string | null } | null;
  /** Messages by state. */
  counts(): OutboxCounts;
  /** The parts of one message in part order, with the SMSC's ids and their states. */
  parts(outboxId: number): Array<{ seq: number; total: number; messageId: string; state: string; error: string | null }>;
  /** When the next queued message becomes due (for the dispatcher's timer), or null. */
  nextDue(): string | null;
}

/** What housekeeping changed, by kind. */
export interface HousekeepingFigures {
  /** Pending codes past their lifetime, now expired. */
  codes: number;
  /** Live sessions past their life, now ended. */
  sessions: number;
  /** Sessions ended more than 30 days ago, deleted. */
  oldSessions: number;
  /** SMS queued for more than two days, expired (their texts erased). */
  staleSms: number;
  /** Code sends older than a day (past every budget window), deleted. */
  otpSends: number;
  /** Code flood notes older than a day, deleted. */
  codeFloods: number;
}

/** Figures read from storage each time one is asked for (a /metrics scrape, the status watcher). */
export interface StoreFigures {
  outboxByState(): Record<string, number>;
  /** Documents in the journal (its last sequence number). */
  documents(): number;
  /** Code SMS sent in the hour before now. */
  otpSendsLastHour(): number;
  /** Refused code confirmations in the journal. */
  codeFailures(): number;
  /** Operators' alerts not yet acknowledged. */
  openAlerts(): number;
  objectStatuses(): Array<{ code: string; clientId: number; status: string; since: string }>;
}

/**
 * Storage as the operations side sees it: scheduled housekeeping and backups, /metrics,
 * /ready, the command line. Synchronous methods return when done and throw when storage fails.
 */
export interface StoreAdmin {
  /** Expires and deletes what outlived its use as of `at`, in one transaction; returns the figures. */
  housekeeping(at: Date): HousekeepingFigures;
  /** Live figures; each read runs when called. */
  metrics(): StoreFigures;
  /** Returns when the database answers a trivial query; throws (with the reason) when it cannot. */
  ping(): void;
  /**
   * An online, consistent copy into the new file `to` (writes go on meanwhile), private to the
   * service's user (file 0600; a folder created for it 0700), then checked. Resolves with the
   * copy's integrity check ('ok', or the problems found); rejects when the copy could not be
   * written, leaving no file behind.
   */
  backup(to: string): Promise<{ integrity: string }>;
  /** The database's own integrity check: 'ok', or the problems found. */
  verifyIntegrity(): string;
  /** The schema version the database is at. */
  schemaVersion(): number;
  /**
   * A value that moves whenever another process committed a change (a revoked session, a
   * blocked number); this connection's own changes need not move it. Cheap: read several
   * times a second while event streams are open.
   */
  changeMarker(): number | string;
  /** Closes the database; later calls do nothing. */
  close(): void;
}
