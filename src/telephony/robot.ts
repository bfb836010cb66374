import type { TelephonyCore } from '../core/channels.ts';
import type { Clock } from '../core/ports.ts';
import type { Lang, ObjectView } from '../domain/types.ts';
import type { Logger } from '../logger.ts';
import type { CallIo } from './call-io.ts';
import { NO_REPORT } from './call-history.ts';
import type { CallReport } from './call-history.ts';
import { sayObject } from './speech.ts';

/**
 * The phone robot's conversation, written as a state machine over data: each state says what
 * to play and where each key leads. The robot only translates keys into requests to the core
 * and the core's answers into prompts; every rule lives in the core.
 *
 * Keys in the object menu: 1 arm, 2 disarm, 3 status again, 0 operator, 9 goodbye,
 * * back (to the choice of object, when the caller has several).
 *
 * Keys typed ahead count: a key pressed during any prompt (the welcome, the status, "armed")
 * answers the next question, whose prompt is then skipped. Error prompts (`io.error`) discard
 * the keys typed before them and while they play, so a caller who is still typing (a code,
 * after its attempts are exhausted) does not choose anything in the menu that follows.
 */

export const OPERATOR_CONTEXT = 'zhedel-operator';
export const MAX_ERRORS = 3;

export type StateId =
  | 'language' | 'objects' | 'choose-object' | 'menu' | 'status' | 'arm-confirm' | 'arm' | 'disarm' | 'operator' | 'goodbye' | 'end';

export interface CallState {
  phone: string;
  clientId: number;
  lang: Lang;
  objects: ObjectView[];
  object: ObjectView | null;
  errors: number;
  /** Where what is done on the call goes (the call history). */
  report: CallReport;
}

export interface RobotDeps {
  core: TelephonyCore;
  clock: Clock;
  timeZone: string;
  logger: Logger;
}

/** A key menu: prompt ids and the state each key leads to. */
interface KeyMenu {
  prompt: (s: CallState) => string[];
  keys: Record<string, StateId>;
  /** Where '*' leads (back). */
  back?: (s: CallState) => StateId;
}

const KEY_MENUS: Partial<Record<StateId, KeyMenu>> = {
  menu: {
    // "another object: *" only for a caller who has several, so that the menu stays short
    prompt: (s) => (s.objects.length > 1 ? ['main-menu', 'menu-other-object'] : ['main-menu']),
    keys: { '1': 'arm-confirm', '2': 'disarm', '3': 'status', '0': 'operator', '9': 'goodbye' },
    back: (s) => (s.objects.length > 1 ? 'objects' : 'menu'),
  },
  'arm-confirm': {
    prompt: () => ['confirm-arm'],
    keys: { '1': 'arm' },
    back: () => 'menu',
  },
};

export function media(lang: Lang, ids: string[]): string[] {
  return ids.map((id) => `sound:zhedel/${lang}/${id}`);
}

export class Robot {
  private readonly d: RobotDeps;

  constructor(deps: RobotDeps) {
    this.d = deps;
  }

  /** Runs one incoming call from answer to hang-up, telling `report` what it does. Never throws. */
  async handleCall(io: CallIo, callerNumber: string | undefined, report: CallReport = NO_REPORT): Promise<string> {
    try {
      return await this.flow(io, callerNumber, report);
    } catch (e) {
      this.d.logger.error({ err: e }, 'call flow failed');
      await io.play(media('ru', ['technical-problem']), false);
      await io.hangup();
      return 'error';
    }
  }

  private async flow(io: CallIo, callerNumber: string | undefined, report: CallReport): Promise<string> {
    const { core } = this.d;
    const id = await core.identify(callerNumber ?? '');
    if (!id.ok) {
      if (id.client) report.known({ clientId: id.client.id });
      report.action(`refused: ${id.reason}`);
      await core.inquiry({ channel: 'phone', phone: callerNumber ?? '', action: 'call' });
      const lang = id.client?.lang ?? 'ru';
      const prompt = id.reason === 'pending' ? 'number-pending' : id.reason === 'blocked' ? 'number-blocked'
        : id.reason === 'suspended' ? 'service-suspended' : 'unknown-number';
      // An unknown caller's language is not known: say it in both.
      const ids = id.reason === 'unknown' ? [...media('ru', [prompt]), ...media('kk', [prompt])] : media(lang, [prompt]);
      await io.play(ids, false);
      await io.hangup();
      return `refused:${id.reason}`;
    }
    await core.inquiry({ channel: 'phone', phone: id.phone, action: 'call' });
    report.known({ clientId: id.client.id });
    const s: CallState = { phone: id.phone, clientId: id.client.id, lang: id.client.lang, objects: id.objects, object: null, errors: 0, report };

    let state: StateId = id.client.langChosen ? 'objects' : 'language';
    if (state === 'objects') await io.play(media(s.lang, ['welcome']));
    let outcome = 'goodbye';
    for (let steps = 0; steps < 200 && !io.hungUp; steps++) {
      if (state === 'end') break;
      if (s.errors >= MAX_ERRORS) {
        await io.error(media(s.lang, ['too-many-errors', 'goodbye']));
        await io.hangup();
        return 'too-many-errors';
      }
      const next: StateId | { end: string } = await this.step(io, s, state);
      if (typeof next === 'object') {
        outcome = next.end;
        break;
      }
      state = next;
    }
    if (io.hungUp) return outcome === 'goodbye' ? 'caller-hung-up' : outcome;
    if (outcome !== 'operator') await io.hangup();
    return outcome;
  }

  private async step(io: CallIo, s: CallState, state: StateId): Promise<StateId | { end: string }> {
    const { core } = this.d;
    const say = (ids: string[]): string[] => media(s.lang, ids);

    const keyMenu = KEY_MENUS[state];
    if (keyMenu) {
      const r = await io.ask(say(keyMenu.prompt(s)), { maxDigits: 1 });
      if (r.kind === 'hangup') return { end: 'caller-hung-up' };
      if (r.kind === 'timeout') {
        s.errors++;
        await io.error(say(['no-entry']));
        return state;
      }
      if (r.kind === 'star') {
        if (state === 'arm-confirm') await io.play(say(['cancelled']));
        return keyMenu.back?.(s) ?? state;
      }
      const to = keyMenu.keys[r.digits];
      if (!to) {
        s.errors++;
        await io.error(say(['invalid-entry']));
        return state;
      }
      s.errors = 0;
      return to;
    }

    switch (state) {
      case 'language': {
        const r = await io.ask([...media('ru', ['welcome']), ...media('ru', ['choose-language'])], { maxDigits: 1 });
        if (r.kind === 'hangup') return { end: 'caller-hung-up' };
        if (r.kind === 'digits' && (r.digits === '1' || r.digits === '2')) {
          s.lang = r.digits === '1' ? 'ru' : 'kk';
          await core.setLanguage(s.clientId, s.lang, 'phone', s.phone);
          s.report.action(`language ${s.lang}`);
          s.errors = 0;
          return 'objects';
        }
        s.errors++;
        await io.error(media('ru', [r.kind === 'timeout' ? 'no-entry' : 'invalid-entry']));
        return 'language';
      }

      case 'objects': {
        const fresh = await core.identify(s.phone);
        if (!fresh.ok) return { end: `refused:${fresh.reason}` };
        s.objects = fresh.objects;
        if (s.objects.length === 0) {
          await io.play(say(['object-not-found', 'goodbye']), false);
          return { end: 'no-objects' };
        }
        if (s.objects.length === 1) {
          s.object = s.objects[0] as ObjectView;
          s.report.known({ objectCode: s.object.code });
          return 'status';
        }
        const now = this.d.clock.now();
        const list = s.objects.flatMap((o) => sayObject(o.code, o.status, new Date(o.statusSince), now, s.lang, this.d.timeZone));
        const r = await io.play(say(list));
        if (r === 'hangup') return { end: 'caller-hung-up' };
        return 'choose-object';
      }

      case 'choose-object': {
        const r = await io.ask(say(['choose-object']), { maxDigits: 8 });
        if (r.kind === 'hangup') return { end: 'caller-hung-up' };
        if (r.kind === 'star') return 'objects';
        if (r.kind === 'timeout') {
          s.errors++;
          await io.error(say(['no-entry']));
          return 'choose-object';
        }
        const found = s.objects.find((o) => o.code === r.digits);
        if (!found) {
          s.errors++;
          await io.error(say(['object-not-found']));
          return 'choose-object';
        }
        s.errors = 0;
        s.object = found;
        s.report.known({ objectCode: found.code });
        return 'status';
      }

      case 'status': {
        const obj = s.object as ObjectView;
        const res = await core.request({ channel: 'phone', phone: s.phone, action: 'status', objectCode: obj.code });
        if (res.kind === 'refused') return this.refused(io, s, res.reason, `status ${obj.code}`);
        if (res.kind === 'status' && res.objects[0]) s.object = res.objects[0];
        const o = s.object as ObjectView;
        s.report.action(`status ${o.code}: ${o.status}`);
        await io.play(say(sayObject(o.code, o.status, new Date(o.statusSince), this.d.clock.now(), s.lang, this.d.timeZone)));
        return 'menu';
      }

      case 'arm': {
        const obj = s.object as ObjectView;
        const res = await core.request({ channel: 'phone', phone: s.phone, action: 'arm', objectCode: obj.code });
        if (res.kind === 'refused') return this.refused(io, s, res.reason, `arm ${obj.code}`);
        if (res.kind === 'done') {
          s.object = res.object;
          s.report.action(`arm ${obj.code}: ${res.changed ? 'done' : 'already armed'}`);
          await io.play(say([res.changed ? 'armed-ok' : 'already-armed']));
        }
        if (res.kind === 'held') await io.play(say(['held-callback']));
        return 'menu';
      }

      case 'disarm':
        return this.disarm(io, s);

      case 'operator': {
        await io.play(say(['connecting-operator']), false);
        const ok = await io.transfer(OPERATOR_CONTEXT);
        s.report.action(ok ? 'operator' : 'operator: transfer failed');
        if (ok) return { end: 'operator' };
        await io.error(say(['technical-problem']));
        return 'menu';
      }

      case 'goodbye':
        await io.play(say(['goodbye']), false);
        return { end: 'goodbye' };

      default:
        return { end: 'goodbye' };
    }
  }

  /** Disarm: a code goes by SMS to the trusted number; the caller types it and #. */
  private async disarm(io: CallIo, s: CallState): Promise<StateId | { end: string }> {
    const { core } = this.d;
    const say = (ids: string[]): string[] => media(s.lang, ids);
    const obj = s.object as ObjectView;
    const res = await core.request({ channel: 'phone', phone: s.phone, action: 'disarm', objectCode: obj.code });
    const did = (what: string): void => s.report.action(`disarm ${obj.code}: ${what}`);
    if (res.kind === 'refused') return this.refused(io, s, res.reason, `disarm ${obj.code}`);
    if (res.kind === 'done') {
      s.object = res.object;
      did(res.changed ? 'done' : 'already disarmed');
      await io.play(say([res.changed ? 'disarmed-ok' : 'already-disarmed']));
      return 'menu';
    }
    if (res.kind === 'held') {
      await io.play(say(['held-callback']));
      return 'menu';
    }
    if (res.kind !== 'challenge') return 'menu';
    did('code sent');
    // after an error prompt the code is typed again with no question of its own
    let question = ['code-sent'];
    for (let tries = 0; tries < 6; tries++) {
      // the caller is asked to finish with #: collect until # (or a pause), then check
      const r = await io.ask(say(question), { maxDigits: 12 });
      if (r.kind === 'hangup') return { end: 'caller-hung-up' };
      if (r.kind === 'star') {
        did('cancelled');
        await io.play(say(['cancelled']));
        return 'menu';
      }
      if (r.kind === 'timeout') {
        s.errors++;
        if (s.errors >= MAX_ERRORS) {
          did('no code entered');
          return 'menu';
        }
        question = ['code-sent'];
        await io.error(say(['no-entry']));
        continue;
      }
      const c = await core.confirm({ channel: 'phone', phone: s.phone, code: r.digits, challengeId: res.challengeId });
      if (c.kind === 'done') {
        s.errors = 0;
        if (c.object) s.object = c.object;
        did(c.changed ? 'done' : 'already disarmed');
        await io.play(say([c.changed ? 'disarmed-ok' : 'already-disarmed']));
        return 'menu';
      }
      if (c.kind === 'held') {
        s.errors = 0;
        did('disarm: held for confirmation');
        await io.play(say(['held-callback']));
        return 'menu';
      }
      did(c.reason.replace('-', ' '));
      switch (c.reason) {
        case 'code-wrong':
          await io.error(say([c.attemptsLeft === 1 ? 'code-wrong-last-try' : 'code-wrong']));
          question = [];
          continue;
        case 'code-dead':
          await io.error(say(['code-attempts-exhausted']));
          return 'menu';
        case 'code-expired':
          await io.error(say(['code-expired']));
          return 'menu';
        default:
          await io.error(say(['request-refused']));
          return 'menu';
      }
    }
    return 'menu';
  }

  private async refused(io: CallIo, s: CallState, reason: string, what: string): Promise<StateId | { end: string }> {
    const say = (ids: string[]): string[] => media(s.lang, ids);
    s.report.action(`${what}: refused (${reason})`);
    switch (reason) {
      case 'blocked':
        await io.play(say(['number-blocked']), false);
        return { end: 'refused:blocked' };
      case 'suspended':
        await io.play(say(['service-suspended']), false);
        return { end: 'refused:suspended' };
      case 'pending':
      case 'unknown':
        await io.play(say(['request-refused']), false);
        return { end: `refused:${reason}` };
      case 'rate-limited':
        await io.error(say(['code-send-limit']));
        return 'menu';
      default:
        await io.error(say(['request-refused']));
        return 'menu';
    }
  }
}
