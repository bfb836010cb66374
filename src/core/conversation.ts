import { parseCommand } from '../domain/commands.ts';
import type { Command } from '../domain/commands.ts';
import { formatKzt } from '../domain/money.ts';
import { objectLine, t } from '../domain/texts.ts';
import type { Lang, RefusalReason } from '../domain/types.ts';
import type { ConfirmResult } from './challenges.ts';
import type { TextCore } from './channels.ts';
import type { RequestResult } from './client-requests.ts';

/**
 * Text channels (SMS, online chat): a line of text from a trusted number becomes a command to
 * the core, and the core's answer a line of text in the client's language. One parser and one
 * set of answers for both channels.
 */
export interface TextAnswer {
  /** What to send back, or null: nothing (unknown and blocked senders get no answer by SMS). */
  reply: string | null;
  lang: Lang;
  command: Command['cmd'];
  /** The document waiting for a code, when the answer asks for one. */
  challengeId?: string;
}

export interface TextContext {
  channel: 'sms' | 'chat';
  phone: string;
  text: string;
  /** For a chat: the pending document the client is answering. */
  challengeId?: string | null;
  ref?: string;
}

/**
 * Answers one line of text: resolves once the core's transaction for it committed (the
 * command, code or inquiry journalled); rejects when it could not run.
 */
export async function answerText(core: TextCore, ctx: TextContext): Promise<TextAnswer> {
  const command = parseCommand(ctx.text);
  const base = { channel: ctx.channel, phone: ctx.phone, ...(ctx.ref ? { ref: ctx.ref } : {}) };
  switch (command.cmd) {
    case 'status':
    case 'arm':
    case 'disarm': {
      const r = await core.request({ ...base, action: command.cmd, objectCode: command.objectCode });
      return { ...requestAnswer(core, r, ctx.channel), command: command.cmd };
    }
    case 'code': {
      const r = await core.confirm({ ...base, code: command.code, challengeId: ctx.challengeId ?? null });
      return { reply: confirmAnswer(r, ctx.channel), lang: r.lang, command: 'code' };
    }
    case 'balance':
    case 'help':
    case 'unknown': {
      const id = await core.inquiry({ ...base, action: command.cmd === 'unknown' ? 'unrecognised' : command.cmd });
      if (!id.ok) {
        const lang = id.client?.lang ?? 'ru';
        return { reply: refusalText(id.reason, lang, ctx.channel), lang, command: command.cmd };
      }
      const lang = id.client.lang;
      const reply = command.cmd === 'balance'
        ? t('balance', lang, { amount: formatKzt(id.client.balance) })
        : t('help', lang);
      return { reply, lang, command: command.cmd };
    }
    case 'schedule': {
      const r = await core.schedule({ ...base, objectCode: command.objectCode });
      if (r.kind === 'schedule') return { reply: r.text, lang: r.lang, command: 'schedule' };
      const reply = r.reason === 'object-ambiguous' ? t('chooseObject', r.lang, { codes: (r.objectCodes ?? []).join(', ') }) : refusalText(r.reason, r.lang, ctx.channel);
      return { reply, lang: r.lang, command: 'schedule' };
    }
  }
}

/** Unknown and blocked senders get no SMS back (no cost, no enumeration); the chat says why. */
function refusalText(reason: RefusalReason, lang: Lang, channel: 'sms' | 'chat', retry: { ms?: number | undefined; limit?: 'pause' | 'budget' | undefined } = {}): string | null {
  switch (reason) {
    case 'unknown':
    case 'blocked':
      return channel === 'sms' ? null : t('refused', lang);
    case 'pending':
      return t('numberPending', lang);
    case 'suspended':
      return t('suspended', lang);
    case 'rate-limited': {
      const ms = retry.ms ?? 60_000;
      return retry.limit === 'budget'
        ? t('codeBudget', lang, { min: Math.max(1, Math.ceil(ms / 60_000)) })
        : t('sendLimit', lang, { sec: Math.max(1, Math.ceil(ms / 1000)) });
    }
    case 'no-object':
    case 'object-not-allowed':
      return t('noObject', lang);
    case 'object-ambiguous':
      return t('help', lang);
  }
}

function requestAnswer(core: TextCore, r: RequestResult, channel: 'sms' | 'chat'): Omit<TextAnswer, 'command'> {
  const lang = r.lang;
  switch (r.kind) {
    case 'status':
      return { reply: r.objects.map((o) => objectLine(lang, o.code, o.status, o.statusSince, core.timeZone)).join('\n') || t('noObject', lang), lang };
    case 'done': {
      const key = r.action === 'arm' ? (r.changed ? 'armed' : 'alreadyArmed') : (r.changed ? 'disarmed' : 'alreadyDisarmed');
      return { reply: t(key, lang, { code: r.object.code }), lang };
    }
    case 'challenge':
      return { reply: t('codeSent', lang), lang, challengeId: r.challengeId };
    case 'held':
      return { reply: t('held', lang), lang };
    case 'refused':
      if (r.reason === 'object-ambiguous') return { reply: t('chooseObject', lang, { codes: (r.objectCodes ?? []).join(', ') }), lang };
      return { reply: refusalText(r.reason, lang, channel, { ms: r.retryAfterMs, limit: r.limit }), lang };
  }
}

function confirmAnswer(r: ConfirmResult, channel: 'sms' | 'chat'): string | null {
  const lang = r.lang;
  if (r.kind === 'done') {
    if (r.purpose === 'confirm-number') return t('numberConfirmed', lang);
    if (r.purpose === 'disarm' && r.object) return t(r.changed ? 'disarmed' : 'alreadyDisarmed', lang, { code: r.object.code });
    if (r.purpose === 'arm' && r.object) return t(r.changed ? 'armed' : 'alreadyArmed', lang, { code: r.object.code });
    return t('refused', lang);
  }
  if (r.kind === 'held') return t('held', lang);
  switch (r.reason) {
    case 'unknown':
    case 'blocked':
      return channel === 'sms' ? null : t('refused', lang);
    case 'suspended':
      return t('suspended', lang);
    case 'code-wrong':
      return t('codeWrong', lang, { left: r.attemptsLeft ?? 0 });
    case 'no-pending':
      return t('noPending', lang);
    case 'code-expired':
    case 'code-used':
    case 'code-dead':
      return t('codeDead', lang);
    case 'object-not-allowed':
      return t('refused', lang);
  }
}
