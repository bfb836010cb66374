import type { JournalRecord } from '../domain/journal.ts';
import type { Channel, ClientView, Lang, ObjectView } from '../domain/types.ts';
import type { AlertInput, CalloutPlan } from './alarms.ts';
import type { CallEnd, CallProgress, CallStart } from './calls.ts';
import type { ConfirmInput, ConfirmResult } from './challenges.ts';
import type { ClientRequest, Identity, Inquiry, RequestResult, SignInResult } from './client-requests.ts';
import type { SmsToQueue } from './context.ts';
import type { ScheduleInquiry, ScheduleInquiryResult } from './schedules.ts';
import type { DuressConfirmResult, DuressRequestResult } from './duress-codes.ts';
import type { TextAnswer } from './conversation.ts';
import type { JournalFilter, OutboxRow, RateLimit } from './ports.ts';

/**
 * What each channel may ask of the core: the core (`Core`) offers all of these; a channel
 * sees only its own. Each method runs in one transaction and journals its document; it
 * resolves once that transaction committed and rejects when it could not (nothing changed).
 */

/** Text commands (SMS, chat): one line of text becomes a request, a code or an inquiry. */
export interface TextCore {
  /** The company's time zone, for the times in answers. */
  readonly timeZone: string;
  request(req: ClientRequest): Promise<RequestResult>;
  confirm(a: ConfirmInput): Promise<ConfirmResult>;
  inquiry(a: Inquiry): Promise<Identity>;
  /** ГРАФИК: an object's schedule, journalled like other inquiries. */
  schedule(a: ScheduleInquiry): Promise<ScheduleInquiryResult>;
}

/** The phone robot (incoming calls) and alarm call-outs. */
export interface TelephonyCore {
  /** Reads only. */
  identify(raw: string | null | undefined): Promise<Identity>;
  inquiry(a: Inquiry): Promise<Identity>;
  setLanguage(clientId: number, lang: Lang, channel: Channel, phone: string | null): Promise<void>;
  request(req: ClientRequest): Promise<RequestResult>;
  confirm(a: ConfirmInput): Promise<ConfirmResult>;
  /** An alert for the operators; returns its id. */
  raiseAlert(a: AlertInput): Promise<number>;
  /** One call-out attempt and its result. */
  noteCallout(a: { eventId: number; objectCode: string; clientId: number; phone: string; round: number; result: string; startedAt: string }): Promise<void>;
  /**
   * Call-outs waiting to be made by this instance, claimed under a lease (`running`: the
   * events it is calling now, never handed out again).
   */
  takeCallouts(running?: number[]): Promise<CalloutPlan[]>;
  /** Renews the lease on these events' call-outs; resolves with those this instance still holds. */
  renewCallouts(eventIds: number[]): Promise<number[]>;
  /** Marks the call-outs done; false when another instance had taken them over. */
  finishCallouts(eventId: number): Promise<boolean>;

  // call history
  /** A call's row as it starts (incoming, or a call-out being placed). */
  callStarted(c: CallStart): Promise<void>;
  /** What became known on the call and what was done on it; false when the call was never started. */
  callProgress(p: CallProgress): Promise<boolean>;
  /** The call's end and outcome (once); false when the call was never started. */
  callEnded(e: CallEnd): Promise<boolean>;
}

/** Rate limits that hold across every instance on the database (see `StoreTx.rateHit`). */
export interface RateLimits {
  rateHit(limits: RateLimit[], at: Date): Promise<boolean>;
}

/** SMS: inbound commands, their answers through the outbox, the sender reading sealed texts. */
export interface SmsCore extends TextCore, RateLimits {
  /** Reads only. */
  identify(raw: string | null | undefined): Promise<Identity>;
  queueSms(m: SmsToQueue): Promise<number>;
  /**
   * An SMS command and its reply, in one transaction: the reply (when there is one) is queued
   * together with the command's document. Resolves with the answer and the reply's outbox id.
   */
  handleText(a: { channel: 'sms'; phone: string; text: string; ref?: string }): Promise<TextAnswer & { outboxId: number | null }>;
  /** Messages from strangers beyond the limit, as one record. */
  noteInboundFlood(a: { channel: 'sms'; count: number; senders: number; since: string }): Promise<void>;
  /** The text of an outbox row; a sealed one is opened only when `reveal`. */
  outboxText(r: Pick<OutboxRow, 'body' | 'bodyEnc' | 'secret' | 'phone'>, reveal: boolean): string | null;
}

/** The client's HTTP routes (app and chat): sign-in, objects, the client's own documents. */
export interface ClientHttpCore extends TextCore, RateLimits {
  /** Reads only. */
  identify(raw: string | null | undefined): Promise<Identity>;
  requestSignIn(a: { channel: 'app' | 'chat'; phone: string; ref?: string }): Promise<SignInResult>;
  /** Throws CLIENT_NOT_FOUND for an unknown client. */
  listObjects(clientId?: number): Promise<ObjectView[]>;
  searchJournal(f: Partial<JournalFilter>): Promise<JournalRecord[]>;
  /** Throws CLIENT_NOT_FOUND for an unknown client. */
  getClient(id: number): Promise<ClientView>;
  subscriptions(clientId: number): Promise<Array<{ service: string; state: string; startedAt: string }>>;
  services(): Promise<Array<{ code: string; name: { ru: string; kk: string }; monthlyFee: number; smsFee: number }>>;
  /** The client sets or clears its duress code in the app, confirmed by a one-time code. */
  requestDuressChange(a: { channel: 'app' | 'chat'; phone: string; change: 'set' | 'clear'; ref?: string }): Promise<DuressRequestResult>;
  confirmDuressChange(a: { channel: 'app' | 'chat'; phone: string; challengeId: string; code: string; duress?: unknown; ref?: string }): Promise<DuressConfirmResult>;
}
