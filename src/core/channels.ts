import type { JournalRecord } from '../domain/journal.ts';
import type { Channel, ClientView, Lang, ObjectView } from '../domain/types.ts';
import type { AlertInput, CalloutPlan } from './alarms.ts';
import type { ConfirmInput, ConfirmResult } from './challenges.ts';
import type { ClientRequest, Identity, Inquiry, RequestResult, SignInResult } from './client-requests.ts';
import type { SmsToQueue } from './context.ts';
import type { JournalFilter, OutboxRow } from './ports.ts';

/**
 * What each channel may ask of the core: the core (`Core`) offers all of these; a channel
 * sees only its own. Each method runs in one transaction and journals its document.
 */

/** Text commands (SMS, chat): one line of text becomes a request, a code or an inquiry. */
export interface TextCore {
  /** The company's time zone, for the times in answers. */
  readonly timeZone: string;
  request(req: ClientRequest): RequestResult;
  confirm(a: ConfirmInput): ConfirmResult;
  inquiry(a: Inquiry): Identity;
}

/** The phone robot (incoming calls) and alarm call-outs. */
export interface TelephonyCore {
  /** Reads only. */
  identify(raw: string | null | undefined): Identity;
  inquiry(a: Inquiry): Identity;
  setLanguage(clientId: number, lang: Lang, channel: Channel, phone: string | null): void;
  request(req: ClientRequest): RequestResult;
  confirm(a: ConfirmInput): ConfirmResult;
  /** An alert for the operators; returns its id. */
  raiseAlert(a: AlertInput): number;
  /** One call-out attempt and its result. */
  noteCallout(a: { eventId: number; objectCode: string; clientId: number; phone: string; round: number; result: string; startedAt: string }): void;
  /** Call-outs waiting to be made; each is marked running. */
  takeCallouts(): CalloutPlan[];
  finishCallouts(eventId: number): void;
}

/** SMS: inbound commands, their answers through the outbox, the sender reading sealed texts. */
export interface SmsCore extends TextCore {
  /** Reads only. */
  identify(raw: string | null | undefined): Identity;
  queueSms(m: SmsToQueue): number;
  /** Messages from strangers beyond the limit, as one record. */
  noteInboundFlood(a: { channel: 'sms'; count: number; senders: number; since: string }): void;
  /** The text of an outbox row; a sealed one is opened only when `reveal`. */
  outboxText(r: Pick<OutboxRow, 'body' | 'bodyEnc' | 'secret' | 'phone'>, reveal: boolean): string | null;
}

/** The client's HTTP routes (app and chat): sign-in, objects, the client's own documents. */
export interface ClientHttpCore extends TextCore {
  /** Reads only. */
  identify(raw: string | null | undefined): Identity;
  requestSignIn(a: { channel: 'app' | 'chat'; phone: string; ref?: string }): SignInResult;
  /** Throws CLIENT_NOT_FOUND for an unknown client. */
  listObjects(clientId?: number): ObjectView[];
  searchJournal(f: Partial<JournalFilter>): JournalRecord[];
  /** Throws CLIENT_NOT_FOUND for an unknown client. */
  getClient(id: number): ClientView;
  subscriptions(clientId: number): Array<{ service: string; state: string; startedAt: string }>;
  services(): Array<{ code: string; name: { ru: string; kk: string }; monthlyFee: number; smsFee: number }>;
}
