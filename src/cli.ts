import { existsSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { dirname, join, resolve as resolvePath } from 'node:path';
import { parseArgs } from 'node:util';
import type { ParseArgsConfig } from 'node:util';
import type { Config } from './config.ts';
import type { ConfirmResult, RequestResult } from './core/core.ts';
import type { CallRow } from './core/ports.ts';
import { AppError, isAppError } from './domain/errors.ts';
import { formatKzt, parseKzt } from './domain/money.ts';
import { parseWindow } from './domain/policy.ts';
import type { ConfirmationRules } from './domain/policy.ts';
import { ALARM_KINDS, BLOCK_REASONS, LANGS, MONITORING_TYPES } from './domain/types.ts';
import type { BlockReason, Lang, ObjectView } from './domain/types.ts';
import type { CoreContext } from './context.ts';
import { localTime } from './local-time.ts';
import type { ObjectSchedule } from './core/schedules.ts';
import type { PanelView } from './core/panels.ts';
import { parseRule, weekdayName } from './domain/schedule.ts';

/**
 * `zhedel`: the operators' command line and the service's entry point. Prints one clear
 * line on stderr and exits non-zero on any error; `--json` prints machine-readable output.
 */

const USAGE = `usage: zhedel <command> [options]   (add --json for JSON output)

  serve                                   run the service
  client add --name N [--lang ru|kk] [--balance KZT] [--services robot,sms,app,chat]
  client list
  client show --client ID
  object add --client ID --code CODE --address TEXT [--callout]
             [--panel-account ACCT [--dc09-key HEX|-] [--supervision SECONDS]]
                                          with the object's alarm panel reporting over SIA DC-09
  panel set --object CODE --account ACCT [--key HEX|- | --no-key] [--supervision SECONDS]
                                          registers or changes the object's panel account; the key
                                          (AES-128/192/256 in hex, "-" reads it from stdin) is kept
                                          unless given or --no-key; supervision 60 s to 7 days
  panel remove --object CODE              the object no longer reports over DC-09
  panel list                              accounts, objects, encryption, supervision, link, last heard
  status [--object CODE]                  objects and their status
  identify --phone P                      who a number belongs to
  number add --client ID --phone P [--objects CODE,...] [--signed]
  number list --client ID
  number confirm --phone P --code C
  number resend --phone P
  number change --phone P --to P2 [--signed]
  number block --phone P --reason lost|stolen|other
  number unblock --phone P
  number remove --phone P
  arm --object CODE [--operator NAME]
  disarm --object CODE [--operator NAME]
  pay --client ID --amount KZT [--ref REF]
  journal [--verify] [--client ID] [--phone P] [--object CODE] [--limit N]
  outbox [--state S] [--before ID] [--limit N] [--reveal]
                                          newest first, N up to 1000 (50); --before pages back;
                                          --state possible-duplicate: messages that may have gone twice
  calls [--object CODE] [--phone P] [--from ISO|YYYY-MM-DD] [--until ISO|YYYY-MM-DD]
        [--purpose client|alarm|confirm] [--before SEQ] [--limit N]
                                          call history, newest first, N up to 1000 (50): start,
                                          direction, purpose, number, object, outcome, what was done
  sms send --phone P --text TEXT          a notice to a client's active trusted number
  schedule show --object CODE             the object's opening/closing schedule and exceptions
  schedule set --object CODE --rule "DAYS [open-from HH:MM] [arm-by HH:MM]" [--rule …] [--sms on|off]
                                          replaces the weekly rules (exceptions stay); DAYS: mon-fri,
                                          sat, mon,wed,fri, 1-5 or all; --sms: whether a disarm outside
                                          the schedule is also told to the client by SMS (default on)
  schedule clear --object CODE            removes the schedule and its exceptions
  schedule exception add --object CODE --date YYYY-MM-DD (--closed | [--open-from HH:MM] [--arm-by HH:MM]) [--note TEXT]
  schedule exception remove --object CODE --date YYYY-MM-DD
  event --object CODE --type T [--kind K] [--zone N] [--id ID] [--at ISO]
                                          a monitoring event (alarm, restore, arm, disarm, trouble,
                                          link-lost, link-restored, test)
  billing run [--at ISO-TIME]             charge the period of that time (idempotent)
  billing remind [--at ISO-TIME]          low-balance reminders
  tariff set --service S [--monthly KZT] [--sms KZT]   applies from the next period
  alerts [--all]                          operators' alerts;  alerts ack --id N
  otp ceiling [--per-hour N]              the ceiling on code SMS per number per hour: show, or set
  duress set --client ID --code DIGITS --signed
                                          a client's duress code (4 to 8 digits) from the client's
                                          signed application; stored only as a keyed hash
  duress clear --client ID                clears it
  duress show --client ID                 whether one is set, and since when
  backup --to FILE                        an online, consistent copy (also while the service runs)
  restore --from FILE                     replaces the database (refused while the service runs)
  migrate --from FILE --to postgres://…   copies a SQLite database into a new PostgreSQL one
                                          (journal with its hashes); refuses a non-empty target;
                                          running it again after it finished changes nothing
  policy show [--client ID]               confirmation rules: the company's (and a client's own, merged)
  policy set [--client ID] [--windows 23:00-06:00,…|none] [--new-number-days N] [--new-channel on|off]
             [--recent-refusal on|off] [--always on|off] [--actions disarm,arm] [--otp-arm phone,sms,chat,app|none]
                                          change the company's rules, or a client's own (stricter only)
  policy clear --client ID                the client goes back to the company's rules
  holds [--all] [--client ID]             requests held for confirmation (undecided ones unless --all)
  hold confirm --id N | hold refuse --id N   an operator decides a held request
  hold document --id DOCUMENT             hold a document that waits for its code (its id from the journal)
  operator add --name N --role operator|admin   prints the operator's token once and its expiry
  operator list                           role, state, last use, expiry
  operator disable --name N               the token answers 401 at once, open consoles close
  operator enable --name N
  operator rotate --name N                a new token (printed once); the old one stops working

Every change is journalled with the operator's name (--operator, default cli:<user>).`;

class UsageError extends Error {}

type Flags = Record<string, string | boolean | undefined>;

const COMMON: ParseArgsConfig['options'] = {
  json: { type: 'boolean' },
  operator: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
};

function parse(args: string[], options: ParseArgsConfig['options']): Flags {
  try {
    const { values, positionals } = parseArgs({ args, options: { ...COMMON, ...options }, strict: true, allowPositionals: true });
    if (positionals.length > 0) throw new UsageError(`unexpected argument: ${positionals[0]}`);
    return values as Flags;
  } catch (e) {
    if (e instanceof UsageError) throw e;
    throw new UsageError((e as Error).message);
  }
}

function req(f: Flags, name: string): string {
  const v = f[name];
  if (typeof v !== 'string' || v.trim() === '') throw new UsageError(`--${name} is required`);
  return v;
}

function intArg(f: Flags, name: string): number {
  const v = req(f, name);
  if (!/^\d{1,15}$/.test(v)) throw new AppError('BAD_INPUT', `--${name} must be a positive integer`);
  return Number(v);
}

function operatorName(f: Flags): string {
  const v = f.operator;
  if (typeof v === 'string') return v;
  let user = 'unknown';
  try {
    user = userInfo().username;
  } catch {
    // no user name: keep "unknown"
  }
  return `cli:${user}`;
}

interface Out {
  json: boolean;
  print(human: string, data: unknown): void;
}

function panelLine(p: PanelView, tz: string): string {
  const heard = p.lastSeenAt ? `last heard ${localTime(p.lastSeenAt, tz)}` : 'not heard yet';
  return `panel ${p.account}  object ${p.objectCode}  ${p.encrypted ? 'encrypted' : 'clear'}  supervision ${p.supervisionS} s  link ${p.link === 'up' ? 'up' : `LOST since ${localTime(p.lostAt ?? '', tz)}`}  ${heard}`;
}

/** A DC-09 key from the command line; "-" reads it from standard input (kept out of the shell's history). */
function keyArg(v: string): string {
  const k = v === '-' ? readFileSync(0, 'utf8').trim() : v.trim();
  if (k === '') throw new UsageError('the key is empty');
  return k;
}

function objectLine(o: ObjectView, tz: string): string {
  return `${o.code}  ${o.status.padEnd(8)}  since ${localTime(o.statusSince, tz)}  client ${o.clientId}  ${o.address}`;
}

function requestLine(r: RequestResult, tz: string): string {
  switch (r.kind) {
    case 'done':
      return `${r.object.code}: ${r.changed ? r.action + 'ed' : 'already ' + r.object.status} (document ${r.seq})`;
    case 'status':
      return r.objects.map((o) => objectLine(o, tz)).join('\n');
    case 'challenge':
      return `code sent, document ${r.challengeId} waits for it until ${r.expiresAt}`;
    case 'refused':
      return `refused: ${r.reason}`;
    case 'held':
      return `${r.object.code}: ${r.action} waits for confirmation (hold ${r.holdId}, document ${r.seq})`;
  }
}

function onOff(f: Flags, name: string): boolean | undefined {
  const v = f[name];
  if (v === undefined) return undefined;
  if (v === 'on' || v === 'off') return v === 'on';
  throw new UsageError(`--${name} must be on or off`);
}

function listFlag(v: string | boolean | undefined): string[] | undefined {
  if (typeof v !== 'string') return undefined;
  return v === 'none' ? [] : v.split(',').map((x) => x.trim()).filter(Boolean);
}

/** The rules a `policy set` changes, as the core reads them (checked there). */
function policyFlags(f: Flags): { otp?: { arm: string[] }; callback: Record<string, unknown> } {
  const callback: Record<string, unknown> = {};
  const windows = listFlag(f.windows);
  if (windows) callback.windows = windows.map(parseWindow);
  if (f['new-number-days'] !== undefined) callback.newNumberDays = intArg(f, 'new-number-days');
  for (const [flag, key] of [['new-channel', 'newChannel'], ['recent-refusal', 'recentRefusal'], ['always', 'always']] as const) {
    const v = onOff(f, flag);
    if (v !== undefined) callback[key] = v;
  }
  const actions = listFlag(f.actions);
  if (actions) callback.actions = actions;
  const otpArm = listFlag(f['otp-arm']);
  return { callback, ...(otpArm ? { otp: { arm: otpArm } } : {}) };
}

function rulesLine(r: ConfirmationRules): string {
  const c = r.callback;
  const conditions = [
    c.always ? 'always' : null,
    c.windows.length ? `in ${c.windows.map((w) => `${w.from}-${w.to}`).join(', ')}` : null,
    c.newNumberDays ? `number changed < ${c.newNumberDays} d` : null,
    c.newChannel ? 'new channel' : null,
    c.recentRefusal ? 'refusal in the last hour' : null,
  ].filter(Boolean);
  return `code for disarm on ${r.otp.disarm.join(',') || 'none'}, for arm on ${r.otp.arm.join(',') || 'none'}; `
    + `call-back for ${c.actions.join(',') || 'nothing'} when ${conditions.join(' or ') || 'never'}`;
}

/** One call of the history as a table line: seq, start, direction, purpose, number, object, outcome and length, what was done. */
function callLine(c: CallRow, tz: string): string {
  const seconds = c.endedAt ? Math.max(0, Math.round((Date.parse(c.endedAt) - Date.parse(c.startedAt)) / 1000)) : null;
  return [
    String(c.seq).padStart(6), localTime(c.startedAt, tz), c.direction.padEnd(3), c.purpose.padEnd(7), (c.phone ?? '-').padEnd(12),
    `object=${c.objectCode ?? '-'}`, c.eventId !== null ? `event=${c.eventId} round=${c.round ?? '-'}` : '',
    c.endedAt ? `${c.outcome ?? '-'} (${seconds} s${c.answeredAt ? '' : ', not answered'})` : 'unfinished', c.actions.join('; '),
  ].filter(Boolean).join('  ');
}

function confirmLine(r: ConfirmResult): string {
  if (r.kind === 'done') return `confirmed: ${r.purpose} (document ${r.seq})`;
  if (r.kind === 'held') return `code accepted: ${r.purpose} of ${r.object.code} waits for confirmation (hold ${r.holdId})`;
  throw new AppError(r.reason === 'code-wrong' ? 'CODE_WRONG' : r.reason === 'code-expired' ? 'CODE_EXPIRED' : r.reason === 'code-used' ? 'CODE_USED' : 'CODE_DEAD',
    r.reason === 'code-wrong' ? `wrong code, ${r.attemptsLeft ?? 0} attempt(s) left` : `code refused: ${r.reason}`);
}

async function run(argv: string[], out: Out, cfg: () => Config): Promise<number> {
  const [cmd, sub, ...rest] = argv;
  // loaded here, not at the top, so that `zhedel help` starts at once
  const [{ openCore }, { openStore, restoreStore, copyToPostgres, CopyRefused }] = await Promise.all([import('./context.ts'), import('./store/index.ts')]);
  const withCore = async <T>(fn: (ctx: CoreContext) => T | Promise<T>): Promise<T> => {
    const ctx = await openCore(cfg());
    try {
      return await fn(ctx);
    } finally {
      await ctx.close();
    }
  };
  const tzOf = (): string => cfg().timeZone;

  switch (cmd) {
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(USAGE + '\n');
      return 0;

    case 'serve': {
      parse([sub, ...rest].filter((x): x is string => x !== undefined), {});
      const config = cfg();
      // only the service loads HTTP, telephony, SMPP and the scheduler
      const [{ createLogger }, { startService }] = await Promise.all([import('./logger.ts'), import('./main.ts')]);
      const logger = createLogger(config.logLevel);
      const other = runningServicePid(config.dataDir);
      if (other) throw new AppError('CONFLICT', `a service (pid ${other}) already runs on ${config.db.label}`);
      const svc = await startService(config, logger);
      const pidFile = join(config.dataDir, 'zhedel.pid');
      // on PostgreSQL (or in memory) no database file made the data folder
      mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
      writeFileSync(pidFile, String(process.pid));
      process.on('exit', () => {
        try {
          if (readFileSync(pidFile, 'utf8') === String(process.pid)) unlinkSync(pidFile);
        } catch {
          // already gone
        }
      });
      let signals = 0;
      const onSignal = (sig: string): void => {
        signals++;
        if (signals > 1) {
          logger.warn({ signal: sig }, 'second signal: exiting now');
          process.exit(130);
        }
        void svc.stop(sig).then(() => process.exit(0), (e: unknown) => {
          logger.error({ err: e }, 'shutdown failed');
          process.exit(1);
        });
      };
      process.on('SIGTERM', () => onSignal('SIGTERM'));
      process.on('SIGINT', () => onSignal('SIGINT'));
      return new Promise<number>(() => undefined);
    }

    case 'client': {
      if (sub === 'add') {
        const f = parse(rest, { name: { type: 'string' }, lang: { type: 'string' }, balance: { type: 'string' }, services: { type: 'string' } });
        const lang = (f.lang as string | undefined) ?? 'ru';
        if (!LANGS.includes(lang as Lang)) throw new AppError('BAD_INPUT', `--lang must be one of ${LANGS.join(', ')}`);
        const balance = typeof f.balance === 'string' && f.balance !== '0' ? parseKzt(f.balance) : 0;
        const c = await withCore(({ core }) => core.addClient({
          name: req(f, 'name'), balance, operator: operatorName(f), ...(typeof f.lang === 'string' ? { lang: lang as Lang } : {}),
          ...(typeof f.services === 'string' ? { services: f.services.split(',').map((x) => x.trim()).filter(Boolean) } : {}),
        }));
        out.print(`client ${c.id} added: ${c.name} (${c.lang}), balance ${formatKzt(c.balance)} KZT`, c);
        return 0;
      }
      if (sub === 'list') {
        parse(rest, {});
        const list = await withCore(({ core }) => core.listClients());
        out.print(list.map((c) => `${c.id}  ${c.name}  ${c.lang}  balance ${formatKzt(c.balance)} KZT${c.suspendedAt ? '  SUSPENDED' : ''}`).join('\n') || 'no clients', list);
        return 0;
      }
      if (sub === 'show') {
        const f = parse(rest, { client: { type: 'string' } });
        const id = intArg(f, 'client');
        const data = await withCore(async ({ core }) => ({ client: await core.getClient(id), objects: await core.listObjects(id), numbers: await core.listNumbers(id) }));
        const tz = tzOf();
        out.print([
          `${data.client.id}  ${data.client.name}  ${data.client.lang}  balance ${formatKzt(data.client.balance)} KZT${data.client.suspendedAt ? '  SUSPENDED' : ''}`,
          ...data.objects.map((o) => '  object ' + objectLine(o, tz)),
          ...data.numbers.map((n) => `  number ${n.phone}  ${n.state}${n.blockReason ? ` (${n.blockReason})` : ''}  objects ${n.allObjects ? 'all' : n.objectCodes.join(',')}`),
        ].join('\n'), data);
        return 0;
      }
      throw new UsageError('client: expected add, list or show');
    }

    case 'object': {
      if (sub !== 'add') throw new UsageError('object: expected add');
      const f = parse(rest, {
        client: { type: 'string' }, code: { type: 'string' }, address: { type: 'string' }, callout: { type: 'boolean' },
        'panel-account': { type: 'string' }, 'dc09-key': { type: 'string' }, supervision: { type: 'string' },
      });
      const account = f['panel-account'];
      if (typeof account !== 'string' && (f['dc09-key'] !== undefined || f.supervision !== undefined)) throw new UsageError('--dc09-key and --supervision go with --panel-account');
      const key = typeof f['dc09-key'] === 'string' ? keyArg(f['dc09-key']) : null;
      const supervisionS = f.supervision !== undefined ? intArg(f, 'supervision') : undefined;
      const r = await withCore(async ({ core }) => {
        const object = await core.addObject({
          clientId: intArg(f, 'client'), code: req(f, 'code'), address: req(f, 'address'), calloutEnabled: f.callout === true, operator: operatorName(f),
          ...(typeof account === 'string' ? { panel: { account, key, ...(supervisionS !== undefined ? { supervisionS } : {}) } } : {}),
        });
        return { object, panel: typeof account === 'string' ? await core.getPanel(object.code) : null };
      });
      out.print(`object ${r.object.code} added for client ${r.object.clientId}: ${r.object.address}${r.panel ? `\n  ${panelLine(r.panel, tzOf())}` : ''}`, r.panel ? r : r.object);
      return 0;
    }

    case 'panel':
    case 'panels': {
      const tz = tzOf();
      if (cmd === 'panels' || sub === 'list') {
        parse(cmd === 'panels' ? [sub, ...rest].filter((x): x is string => x !== undefined) : rest, {});
        const list = await withCore(({ core }) => core.listPanels());
        out.print(list.map((p) => panelLine(p, tz)).join('\n') || 'no panel accounts', list);
        return 0;
      }
      if (sub === 'set') {
        const f = parse(rest, { object: { type: 'string' }, account: { type: 'string' }, key: { type: 'string' }, 'no-key': { type: 'boolean' }, supervision: { type: 'string' } });
        if (typeof f.key === 'string' && f['no-key'] === true) throw new UsageError('--key and --no-key exclude each other');
        const key = typeof f.key === 'string' ? keyArg(f.key) : f['no-key'] === true ? null : undefined;
        const p = await withCore(({ core }) => core.setPanel({
          objectCode: req(f, 'object'), account: req(f, 'account'), ...(key !== undefined ? { key } : {}),
          ...(f.supervision !== undefined ? { supervisionS: intArg(f, 'supervision') } : {}), operator: operatorName(f),
        }));
        out.print(panelLine(p, tz), p);
        return 0;
      }
      if (sub === 'remove') {
        const f = parse(rest, { object: { type: 'string' } });
        await withCore(({ core }) => core.removePanel({ objectCode: req(f, 'object'), operator: operatorName(f) }));
        out.print(`${req(f, 'object')}: panel account removed`, { objectCode: req(f, 'object'), removed: true });
        return 0;
      }
      throw new UsageError('panel: expected set, remove or list');
    }

    case 'status': {
      const f = parse([sub, ...rest].filter((x): x is string => x !== undefined), { object: { type: 'string' } });
      const tz = tzOf();
      if (typeof f.object === 'string') {
        const r = await withCore(({ core }) => core.operatorRequest({ action: 'status', objectCode: f.object as string, operator: operatorName(f) }));
        out.print(requestLine(r, tz), r);
        return 0;
      }
      const list = await withCore(({ core }) => core.listObjects());
      out.print(list.map((o) => objectLine(o, tz)).join('\n') || 'no objects', list);
      return 0;
    }

    case 'identify': {
      const f = parse([sub, ...rest].filter((x): x is string => x !== undefined), { phone: { type: 'string' } });
      const id = await withCore(({ core }) => core.identify(req(f, 'phone')));
      out.print(id.ok
        ? `${id.phone}: client ${id.client.id} ${id.client.name}, objects ${id.objects.map((o) => o.code).join(',') || 'none'}`
        : `${id.phone ?? 'not a Kazakhstan number'}: refused (${id.reason})`, id);
      return 0;
    }

    case 'number':
      return await numberCommand(sub, rest, out, withCore);

    case 'arm':
    case 'disarm': {
      const f = parse([sub, ...rest].filter((x): x is string => x !== undefined), { object: { type: 'string' } });
      const r = await withCore(({ core }) => core.operatorRequest({ action: cmd, objectCode: req(f, 'object'), operator: operatorName(f) }));
      out.print(requestLine(r, tzOf()), r);
      return 0;
    }

    case 'pay': {
      const f = parse([sub, ...rest].filter((x): x is string => x !== undefined), { client: { type: 'string' }, amount: { type: 'string' }, ref: { type: 'string' } });
      const amount = parseKzt(req(f, 'amount'));
      const r = await withCore(({ core }) => core.pay({
        clientId: intArg(f, 'client'), amount, operator: operatorName(f), ...(typeof f.ref === 'string' ? { ref: f.ref } : {}),
      }));
      out.print(r.duplicate
        ? `payment ${String(f.ref)} was already recorded; balance ${formatKzt(r.client.balance)} KZT`
        : `paid ${formatKzt(amount)} KZT; balance ${formatKzt(r.client.balance)} KZT`, r);
      return 0;
    }

    case 'journal': {
      const f = parse([sub, ...rest].filter((x): x is string => x !== undefined), {
        verify: { type: 'boolean' }, client: { type: 'string' }, phone: { type: 'string' }, object: { type: 'string' }, limit: { type: 'string' },
      });
      if (f.verify) {
        const v = await withCore(({ core }) => core.verifyJournal());
        out.print(v.ok
          ? `journal intact: ${v.checked} records, head ${v.headHash}`
          : `JOURNAL BROKEN at record ${v.problem?.seq}: ${v.problem?.kind} (${v.checked} records before it are intact)`, v);
        return v.ok ? 0 : 3;
      }
      const filter: Record<string, unknown> = { limit: typeof f.limit === 'string' ? intArg(f, 'limit') : 50 };
      if (typeof f.client === 'string') filter.clientId = intArg(f, 'client');
      if (typeof f.object === 'string') filter.objectCode = f.object;
      const rows = await withCore(async ({ core }) => {
        if (typeof f.phone === 'string') {
          const p = await core.identify(f.phone);
          filter.phone = p.phone ?? f.phone;
        }
        return core.searchJournal(filter);
      });
      out.print(rows.map((r) => [
        String(r.seq).padStart(6), r.at, r.channel.padEnd(8), (r.phone ?? '-').padEnd(12), `client=${r.clientId ?? '-'}`,
        `object=${r.objectCode ?? '-'}`, r.action, `${r.outcome}${r.reason ? '(' + r.reason + ')' : ''}`, `auth=${r.auth}`,
        r.challengeId ? `doc=${r.challengeId}` : '', r.operator ? `by=${r.operator}` : '', r.detail ?? '',
      ].filter(Boolean).join('  ')).join('\n') || 'journal is empty', rows);
      return 0;
    }

    case 'outbox': {
      const f = parse([sub, ...rest].filter((x): x is string => x !== undefined), {
        state: { type: 'string' }, limit: { type: 'string' }, before: { type: 'string' }, reveal: { type: 'boolean' },
      });
      const config = cfg();
      if (f.reveal && config.env === 'production') throw new AppError('FORBIDDEN', '--reveal is for development only');
      const limit = typeof f.limit === 'string' ? intArg(f, 'limit') : 50;
      if (limit < 1 || limit > 1000) throw new UsageError('--limit must be 1 to 1000');
      const before = typeof f.before === 'string' ? intArg(f, 'before') : undefined;
      if (before !== undefined && before < 1) throw new UsageError('--before must be a message id');
      const rows = await withCore(({ core }) => core.listOutbox({
        limit, reveal: f.reveal === true, ...(typeof f.state === 'string' ? { state: f.state } : {}), ...(before !== undefined ? { before } : {}),
      }));
      const data = rows.map(({ bodyEnc: _e, body: _b, ...r }) => r);
      out.print(rows.map((r) => [
        String(r.id).padStart(6), r.createdAt, (['otp', 'alarm', 'info'][r.priority] ?? '').padEnd(5), r.phone, r.state.padEnd(13),
        r.partsTotal ? `parts=${r.messageIds.length}/${r.partsTotal} ids=${r.messageIds.join(',')}` : '',
        r.duplicateRisk ? 'possible-duplicate' : '', r.error ? `error=${r.error}` : '', r.text ?? '(erased)',
      ].filter(Boolean).join('  ')).join('\n') + (rows.length === limit ? `\nolder messages: --before ${rows[rows.length - 1]?.id}` : '') || 'outbox is empty', data);
      return 0;
    }

    case 'calls': {
      const f = parse([sub, ...rest].filter((x): x is string => x !== undefined), {
        object: { type: 'string' }, phone: { type: 'string' }, from: { type: 'string' }, until: { type: 'string' }, purpose: { type: 'string' },
        before: { type: 'string' }, limit: { type: 'string' },
      });
      const limit = typeof f.limit === 'string' ? intArg(f, 'limit') : 50;
      const text = (name: string): Record<string, string> => (typeof f[name] === 'string' ? { [name]: f[name] as string } : {});
      const rows = await withCore(({ core }) => core.listCalls({
        limit, ...(typeof f.object === 'string' ? { objectCode: f.object } : {}), ...text('phone'), ...text('from'), ...text('until'), ...text('purpose'),
        ...(typeof f.before === 'string' ? { before: intArg(f, 'before') } : {}),
      }));
      const tz = tzOf();
      out.print(rows.map((c) => callLine(c, tz)).join('\n') + (rows.length === limit ? `\nolder calls: --before ${rows[rows.length - 1]?.seq}` : '') || 'no calls', rows);
      return 0;
    }

    case 'backup': {
      const f = parse([sub, ...rest].filter((x): x is string => x !== undefined), { to: { type: 'string' } });
      const to = resolvePath(req(f, 'to'));
      if (existsSync(to)) throw new AppError('CONFLICT', `${to} exists; choose a new file`);
      const { admin } = await openStore(cfg());
      let integrity: string;
      try {
        ({ integrity } = await admin.backup(to));
      } finally {
        await admin.close();
      }
      if (integrity !== 'ok') throw new AppError('INTERNAL', `the copy failed its integrity check: ${integrity}`);
      out.print(`backup written to ${to} (integrity ok)`, { file: to, integrity });
      return 0;
    }

    case 'restore': {
      const f = parse([sub, ...rest].filter((x): x is string => x !== undefined), { from: { type: 'string' } });
      const from = resolvePath(req(f, 'from'));
      if (!existsSync(from)) throw new AppError('NOT_FOUND', `no file ${from}`);
      const config = cfg();
      if (config.db.engine === 'postgres') {
        throw new AppError('BAD_INPUT', `restore replaces a SQLite database only; a PostgreSQL database is restored with the server's tools while the services are stopped, e.g. pg_restore --clean --if-exists --no-owner --dbname=<database URL> ${from}`);
      }
      const running = runningServicePid(config.dataDir);
      if (running) throw new AppError('CONFLICT', `the service (pid ${running}) is using ${config.db.label}; stop it first`);
      const r = await restoreStore(config, from);
      if (!r.restored) throw new AppError('BAD_INPUT', `${from} fails its integrity check: ${r.integrity}`);
      const v = await withCore(async ({ core, admin }) => ({ journal: await core.verifyJournal(), integrity: await admin.verifyIntegrity() }));
      out.print(`restored ${from} into ${config.db.label}; integrity ${v.integrity}; journal ${v.journal.ok ? `intact (${v.journal.checked} records)` : `BROKEN at ${v.journal.problem?.seq}`}${r.kept ? `; the previous database is kept as ${r.kept}` : ''}`, v);
      return v.journal.ok && v.integrity === 'ok' ? 0 : 3;
    }

    case 'migrate': {
      const f = parse([sub, ...rest].filter((x): x is string => x !== undefined), { from: { type: 'string' }, to: { type: 'string' } });
      const from = resolvePath(req(f, 'from'));
      const to = req(f, 'to');
      if (!/^postgres(ql)?:\/\//.test(to)) throw new AppError('BAD_INPUT', '--to must be a postgres:// URL');
      if (!existsSync(from)) throw new AppError('NOT_FOUND', `no file ${from}`);
      const config = cfg();
      const running = runningServicePid(dirname(from)) ?? runningServicePid(config.dataDir);
      if (running) throw new AppError('CONFLICT', `the service (pid ${running}) is using ${from}; stop it first`);
      let copied;
      try {
        copied = await copyToPostgres(from, to);
      } catch (e) {
        if (e instanceof CopyRefused) throw new AppError('CONFLICT', e.message);
        throw e;
      }
      const v = await (async () => {
        const ctx = await openCore({ ...config, dbPath: to });
        try {
          return { journal: await ctx.core.verifyJournal() };
        } finally {
          await ctx.close();
        }
      })();
      const total = Object.values(copied.rows).reduce((a, b) => a + b, 0);
      out.print(`${copied.outcome === 'already' ? 'already copied, nothing changed' : `copied ${total} rows in ${Object.keys(copied.rows).length} tables`}; journal ${v.journal.ok ? `intact: ${v.journal.checked} records, head ${v.journal.headHash}` : `BROKEN at ${v.journal.problem?.seq}`}`,
        { outcome: copied.outcome, rows: copied.rows, journal: v.journal });
      return v.journal.ok ? 0 : 3;
    }

    case 'event': {
      const f = parse([sub, ...rest].filter((x): x is string => x !== undefined), {
        object: { type: 'string' }, type: { type: 'string' }, kind: { type: 'string' }, zone: { type: 'string' }, id: { type: 'string' }, at: { type: 'string' },
      });
      const type = req(f, 'type');
      if (!MONITORING_TYPES.includes(type as (typeof MONITORING_TYPES)[number])) throw new UsageError(`--type must be one of ${MONITORING_TYPES.join(', ')}`);
      const kind = typeof f.kind === 'string' ? f.kind : type === 'alarm' ? 'burglary' : null;
      if (kind && !ALARM_KINDS.includes(kind as (typeof ALARM_KINDS)[number])) throw new UsageError(`--kind must be one of ${ALARM_KINDS.join(', ')}`);
      const zone = typeof f.zone === 'string' ? intArg(f, 'zone') : null;
      const at = typeof f.at === 'string' ? f.at : null;
      if (at && Number.isNaN(Date.parse(at))) throw new UsageError('--at must be an ISO time');
      const r = await withCore(({ core }) => core.recordMonitoringEvent({
        sourceId: typeof f.id === 'string' ? f.id : `cli-${Date.now()}-${Math.random().toString(36).slice(2, 8)}`,
        objectCode: req(f, 'object'), type, kind, zone, eventAt: at,
      }));
      out.print(r.duplicate ? `event ${r.row.sourceId} was already recorded (${r.row.result})` : `event recorded: ${r.row.result}${r.callout ? '; call-outs will be placed by the service' : ''}`, r);
      return 0;
    }

    case 'billing': {
      const f = parse(rest, { at: { type: 'string' } });
      const at = typeof f.at === 'string' ? new Date(f.at) : new Date();
      if (Number.isNaN(at.getTime())) throw new UsageError('--at must be an ISO time');
      if (sub === 'run') {
        const r = await withCore(({ core }) => core.runBilling(at));
        out.print(`billing ${r.period}: ${r.charged} charged, ${r.suspended} suspended, ${r.already} already charged`, r);
        return 0;
      }
      if (sub === 'remind') {
        const n = await withCore(({ core }) => core.runReminders(at, cfg().billing.remindDays));
        out.print(`${n} reminder(s) queued`, { sent: n });
        return 0;
      }
      throw new UsageError('billing: expected run or remind');
    }

    case 'tariff': {
      if (sub !== 'set') throw new UsageError('tariff: expected set');
      const f = parse(rest, { service: { type: 'string' }, monthly: { type: 'string' }, sms: { type: 'string' } });
      const monthlyFee = typeof f.monthly === 'string' ? parseKzt(f.monthly) : undefined;
      const smsFee = typeof f.sms === 'string' ? parseKzt(f.sms) : undefined;
      if (monthlyFee === undefined && smsFee === undefined) throw new UsageError('give --monthly or --sms');
      await withCore(({ core }) => core.setTariff({ service: req(f, 'service'), operator: operatorName(f), ...(monthlyFee !== undefined ? { monthlyFee } : {}), ...(smsFee !== undefined ? { smsFee } : {}) }));
      out.print(`tariff of ${req(f, 'service')} changed; it applies from the next billing period`, { ok: true });
      return 0;
    }

    case 'otp': {
      if (sub !== 'ceiling') throw new UsageError('otp: expected ceiling');
      const f = parse(rest, { 'per-hour': { type: 'string' } });
      const l = await withCore(({ core }) => (f['per-hour'] === undefined ? core.otpLimits() : core.setOtpCeiling({ perHour: intArg(f, 'per-hour'), operator: operatorName(f) })));
      out.print(`code SMS per number per hour: ${l.ceilingPerHour} (sign-in ${l.budgets['sign-in']}, actions ${l.budgets.action}); a new code for a pending one after ${l.resendPauseSeconds} s`, l);
      return 0;
    }

    case 'policy': {
      const f = parse(rest, {
        client: { type: 'string' }, windows: { type: 'string' }, 'new-number-days': { type: 'string' }, 'new-channel': { type: 'string' },
        'recent-refusal': { type: 'string' }, always: { type: 'string' }, actions: { type: 'string' }, 'otp-arm': { type: 'string' },
      });
      const clientId = f.client === undefined ? undefined : intArg(f, 'client');
      if (sub === 'set') {
        const rules = policyFlags(f);
        if (Object.keys(rules.callback).length === 0 && !rules.otp) throw new UsageError('policy set: give at least one rule to change');
        const body = { ...(rules.otp ? { otp: rules.otp } : {}), ...(Object.keys(rules.callback).length ? { callback: rules.callback } : {}) };
        await withCore(({ core }) => (clientId === undefined
          ? core.setCompanyRules({ rules: body, operator: operatorName(f) })
          : core.setClientRules({ clientId, rules: body, operator: operatorName(f) })));
      } else if (sub === 'clear') {
        if (clientId === undefined) throw new UsageError('policy clear: --client is required (the company\'s rules are changed with policy set)');
        await withCore(({ core }) => core.setClientRules({ clientId, rules: null, operator: operatorName(f) }));
      } else if (sub !== 'show') {
        throw new UsageError('policy: expected show, set or clear');
      }
      const r = await withCore(({ core }) => core.confirmationRules(clientId));
      out.print(clientId === undefined ? `company: ${rulesLine(r.company)}` : [
        `company: ${rulesLine(r.company)}`, `client ${clientId}: ${r.client ? rulesLine(r.client) : 'no rules of its own'}`, `in effect: ${rulesLine(r.effective)}`,
      ].join('\n'), r);
      return 0;
    }

    case 'holds': {
      const f = parse([sub, ...rest].filter((x): x is string => x !== undefined), { all: { type: 'boolean' }, client: { type: 'string' } });
      const list = await withCore(({ core }) => core.listHolds({ open: f.all !== true, ...(f.client !== undefined ? { clientId: intArg(f, 'client') } : {}) }));
      const tz = tzOf();
      out.print(list.map((h) => `${String(h.id).padStart(5)}  ${localTime(h.requestedAt, tz)}  ${h.action} ${h.objectCode}  by ${h.channel} ${h.phone}  ${h.state}`
        + `  (${h.reasons})${h.result ? `  ${h.result}` : ''}${h.decidedBy ? ` by ${h.decidedBy}` : ''}`).join('\n') || 'no held requests', list);
      return 0;
    }

    case 'hold': {
      const f = parse(rest, { id: { type: 'string' } });
      if (sub === 'document') {
        const h = await withCore(({ core }) => core.holdDocument({ challengeId: req(f, 'id'), operator: operatorName(f) }));
        out.print(`hold ${h.id}: ${h.action} of ${h.objectCode} waits for its code, then for confirmation`, h);
        return 0;
      }
      if (sub !== 'confirm' && sub !== 'refuse') throw new UsageError('hold: expected confirm, refuse or document');
      const r = await withCore(({ core }) => core.decideHold(intArg(f, 'id'), { decision: sub, operator: operatorName(f) }));
      if (!r.changed) throw new AppError('CONFLICT', `the request was already decided (${r.hold.state})`);
      out.print(`hold ${r.hold.id}: ${r.hold.state}`, r);
      return 0;
    }

    case 'duress': {
      if (sub !== 'set' && sub !== 'clear' && sub !== 'show') throw new UsageError('duress: expected set, clear or show');
      const f = parse(rest, { client: { type: 'string' }, code: { type: 'string' }, signed: { type: 'boolean' } });
      const clientId = intArg(f, 'client');
      const st = await withCore(({ core }) => {
        if (sub === 'set') return core.setDuressCode({ clientId, code: req(f, 'code'), signed: f.signed === true, operator: operatorName(f) });
        if (sub === 'clear') return core.clearDuressCode({ clientId, operator: operatorName(f) });
        return core.duressStatus(clientId);
      });
      const shown = { set: st.set, since: st.since };
      out.print(st.set ? `client ${clientId}: a duress code is set since ${localTime(st.since ?? '', tzOf())}` : `client ${clientId}: no duress code`, shown);
      return 0;
    }

    case 'alerts': {
      if (sub === 'ack') {
        const f = parse(rest, { id: { type: 'string' } });
        await withCore(({ core }) => core.ackAlert({ id: intArg(f, 'id'), operator: operatorName(f) }));
        out.print('acknowledged', { ok: true });
        return 0;
      }
      const f = parse([sub, ...rest].filter((x): x is string => x !== undefined), { all: { type: 'boolean' } });
      const list = await withCore(({ core }) => core.listAlerts(f.all !== true));
      out.print(list.map((a) => `${String(a.id).padStart(5)}  ${a.createdAt}  ${a.kind}  ${a.objectCode ?? ''} ${a.phone ?? ''}  ${a.detail ?? ''}${a.acknowledgedAt ? `  (ack by ${a.acknowledgedBy})` : ''}`).join('\n') || 'no alerts', list);
      return 0;
    }

    case 'operator': {
      const tz = tzOf();
      // with the year: an expiry is months away
      const when = (iso: string | null): string => (iso ? new Intl.DateTimeFormat('sv-SE', { timeZone: tz, dateStyle: 'short', timeStyle: 'short' }).format(new Date(iso)) : 'never');
      if (sub === 'add') {
        const f = parse(rest, { name: { type: 'string' }, role: { type: 'string' } });
        const role = req(f, 'role');
        if (role !== 'operator' && role !== 'admin') throw new UsageError('--role must be operator or admin');
        const r = await withCore(({ access }) => access.addOperator({ name: req(f, 'name'), role, by: operatorName(f) }));
        out.print(`operator ${r.operator.name} (${r.operator.role}) added; the token expires ${when(r.operator.tokenExpiresAt)}. Token (shown only now, keep it safe):\n${r.token}`,
          { operator: r.operator, token: r.token });
        return 0;
      }
      if (sub === 'list') {
        parse(rest, {});
        const list = await withCore(({ access }) => access.listOperators());
        out.print(list.map((o) => [
          String(o.id).padStart(4), o.name, o.role.padEnd(8), o.state.padEnd(8), `last use ${when(o.lastUsedAt)}`,
          `${o.state === 'expired' ? 'expired' : 'expires'} ${when(o.tokenExpiresAt)}`,
        ].join('  ')).join('\n') || 'no operators', list);
        return 0;
      }
      if (sub === 'disable' || sub === 'enable') {
        const f = parse(rest, { name: { type: 'string' } });
        const r = await withCore(({ access }) => (sub === 'disable' ? access.disableOperator : access.enableOperator).call(access, { name: req(f, 'name'), by: operatorName(f) }));
        out.print(r.changed
          ? `operator ${r.operator.name} ${sub}d${sub === 'disable' ? ': the token answers 401 at once, open consoles are closed' : ''}`
          : `operator ${r.operator.name} was already ${sub}d`, r);
        return 0;
      }
      if (sub === 'rotate') {
        const f = parse(rest, { name: { type: 'string' } });
        const r = await withCore(({ access }) => access.rotateOperator({ name: req(f, 'name'), by: operatorName(f) }));
        out.print(`operator ${r.operator.name}: the old token no longer works; the new one expires ${when(r.operator.tokenExpiresAt)}. Token (shown only now, keep it safe):\n${r.token}`,
          { operator: r.operator, token: r.token });
        return 0;
      }
      throw new UsageError('operator: expected add, list, disable, enable or rotate');
    }

    case 'sms': {
      if (sub !== 'send') throw new UsageError('sms: expected send');
      const f = parse(rest, { phone: { type: 'string' }, text: { type: 'string' } });
      const r = await withCore(({ core }) => core.sendNotice({ phone: req(f, 'phone'), text: req(f, 'text'), operator: operatorName(f) }));
      out.print(`queued as outbox message ${r.outboxId}`, r);
      return 0;
    }

    case 'schedule':
      return await scheduleCommand(sub, rest, out, withCore);

    default:
      throw new UsageError(`unknown command: ${cmd}`);
  }
}

// ---------------------------------------------------------------- schedules

function scheduleLines(s: ObjectSchedule | null, code: string): string {
  if (!s) return `${code}: no schedule`;
  const times = (r: { closed?: boolean; openFrom: string | null; armBy: string | null }): string => (r.closed
    ? 'closed all day'
    : [r.openFrom ? `open-from ${r.openFrom}` : '', r.armBy ? `arm-by ${r.armBy}` : ''].filter(Boolean).join('  ') || 'no rule');
  return [
    `${code}: schedule (off-schedule disarm SMS ${s.notifyOffSchedule ? 'on' : 'off'}; set by ${s.updatedBy ?? '-'} at ${s.updatedAt})`,
    ...s.days.map((d) => `  ${weekdayName(d.weekday)}  ${times(d)}`),
    ...s.exceptions.map((e) => `  ${e.date}  ${times(e)}${e.note ? `  (${e.note})` : ''}`),
  ].join('\n');
}

async function scheduleCommand(sub: string | undefined, rest: string[], out: Out, withCore: <T>(fn: (ctx: CoreContext) => T | Promise<T>) => Promise<T>): Promise<number> {
  const objectOpt = { object: { type: 'string' as const } };
  switch (sub) {
    case 'show': {
      const f = parse(rest, objectOpt);
      const s = await withCore(({ core }) => core.getSchedule(req(f, 'object')));
      out.print(scheduleLines(s, req(f, 'object')), s);
      return 0;
    }
    case 'set': {
      const f = parse(rest, { ...objectOpt, rule: { type: 'string', multiple: true }, sms: { type: 'string' } });
      const rules = (f.rule as unknown as string[] | undefined) ?? [];
      if (rules.length === 0) throw new UsageError('--rule is required (e.g. --rule "mon-fri open-from 07:00 arm-by 20:00")');
      if (f.sms !== undefined && f.sms !== 'on' && f.sms !== 'off') throw new UsageError('--sms must be on or off');
      const days = rules.flatMap((r) => parseRule(r));
      const s = await withCore(({ core }) => core.setSchedule({
        objectCode: req(f, 'object'), days, ...(f.sms !== undefined ? { notifyOffSchedule: f.sms === 'on' } : {}), operator: operatorName(f),
      }));
      out.print(scheduleLines(s, s.objectCode), s);
      return 0;
    }
    case 'clear': {
      const f = parse(rest, objectOpt);
      await withCore(({ core }) => core.clearSchedule({ objectCode: req(f, 'object'), operator: operatorName(f) }));
      out.print(`${req(f, 'object')}: schedule removed`, { objectCode: req(f, 'object'), cleared: true });
      return 0;
    }
    case 'exception': {
      const [action, ...more] = rest;
      if (action === 'add') {
        const f = parse(more, { ...objectOpt, date: { type: 'string' }, closed: { type: 'boolean' }, 'open-from': { type: 'string' }, 'arm-by': { type: 'string' }, note: { type: 'string' } });
        const s = await withCore(({ core }) => core.addScheduleException({
          objectCode: req(f, 'object'), date: req(f, 'date'), closed: f.closed === true,
          armBy: (f['arm-by'] as string | undefined) ?? null, openFrom: (f['open-from'] as string | undefined) ?? null, note: (f.note as string | undefined) ?? null,
          operator: operatorName(f),
        }));
        out.print(scheduleLines(s, s.objectCode), s);
        return 0;
      }
      if (action === 'remove') {
        const f = parse(more, { ...objectOpt, date: { type: 'string' } });
        const s = await withCore(({ core }) => core.removeScheduleException({ objectCode: req(f, 'object'), date: req(f, 'date'), operator: operatorName(f) }));
        out.print(scheduleLines(s, s.objectCode), s);
        return 0;
      }
      throw new UsageError('schedule exception: expected add or remove');
    }
    default:
      throw new UsageError('schedule: expected show, set, clear or exception');
  }
}

async function numberCommand(sub: string | undefined, rest: string[], out: Out, withCore: <T>(fn: (ctx: CoreContext) => T | Promise<T>) => Promise<T>): Promise<number> {
  const phoneOpt = { phone: { type: 'string' as const } };
  switch (sub) {
    case 'add': {
      const f = parse(rest, { ...phoneOpt, client: { type: 'string' }, objects: { type: 'string' }, signed: { type: 'boolean' } });
      const objectCodes = typeof f.objects === 'string' ? f.objects.split(',').map((s) => s.trim()).filter(Boolean) : null;
      const r = await withCore(({ core }) => core.addNumber({
        clientId: intArg(f, 'client'), phone: req(f, 'phone'), objectCodes, signed: f.signed === true, operator: operatorName(f),
      }));
      out.print(r.number.state === 'active'
        ? `${r.number.phone} is active (signed application)`
        : `${r.number.phone} is pending: a confirmation code was sent by SMS (document ${r.challengeId})`, r);
      return 0;
    }
    case 'list': {
      const f = parse(rest, { client: { type: 'string' } });
      const list = await withCore(({ core }) => core.listNumbers(intArg(f, 'client')));
      out.print(list.map((n) => `${n.phone}  ${n.state}${n.blockReason ? ` (${n.blockReason})` : ''}  objects ${n.allObjects ? 'all' : n.objectCodes.join(',')}`).join('\n') || 'no numbers', list);
      return 0;
    }
    case 'confirm': {
      const f = parse(rest, { ...phoneOpt, code: { type: 'string' } });
      const r = await withCore(({ core }) => core.confirmNumber({ phone: req(f, 'phone'), code: req(f, 'code'), operator: operatorName(f) }));
      out.print(confirmLine(r), r);
      return 0;
    }
    case 'resend': {
      const f = parse(rest, phoneOpt);
      const r = await withCore(({ core }) => core.resendConfirmation({ phone: req(f, 'phone'), operator: operatorName(f) }));
      out.print(`a new confirmation code was sent (document ${r.challengeId})`, r);
      return 0;
    }
    case 'change': {
      const f = parse(rest, { ...phoneOpt, to: { type: 'string' }, signed: { type: 'boolean' } });
      const r = await withCore(({ core }) => core.changeNumber({ phone: req(f, 'phone'), to: req(f, 'to'), signed: f.signed === true, operator: operatorName(f) }));
      out.print(`${req(f, 'phone')} removed; ${r.number.phone} is ${r.number.state}${r.challengeId ? ' (confirmation code sent)' : ''}`, r);
      return 0;
    }
    case 'block': {
      const f = parse(rest, { ...phoneOpt, reason: { type: 'string' } });
      const reason = req(f, 'reason');
      if (!BLOCK_REASONS.includes(reason as BlockReason)) throw new UsageError(`--reason must be one of ${BLOCK_REASONS.join(', ')}`);
      const n = await withCore(({ core }) => core.blockNumber({ phone: req(f, 'phone'), reason: reason as BlockReason, operator: operatorName(f) }));
      out.print(`${n.phone} blocked (${reason}); it is refused on every channel`, n);
      return 0;
    }
    case 'unblock': {
      const f = parse(rest, phoneOpt);
      const n = await withCore(({ core }) => core.unblockNumber({ phone: req(f, 'phone'), operator: operatorName(f) }));
      out.print(`${n.phone} is active again`, n);
      return 0;
    }
    case 'remove': {
      const f = parse(rest, phoneOpt);
      const n = await withCore(({ core }) => core.removeNumber({ phone: req(f, 'phone'), operator: operatorName(f) }));
      out.print(`${n.phone} removed`, n);
      return 0;
    }
    default:
      throw new UsageError('number: expected add, list, confirm, resend, change, block, unblock or remove');
  }
}

/** The pid of a service running on this data folder, if one is alive. */
function runningServicePid(dataDir: string): number | null {
  try {
    const pid = Number(readFileSync(join(dataDir, 'zhedel.pid'), 'utf8'));
    if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid) return null;
    process.kill(pid, 0);
    return pid;
  } catch {
    return null;
  }
}

async function mainCli(): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv.length === 0 || (argv.length === 1 && ['help', '--help', '-h'].includes(argv[0] as string))) {
    process.stdout.write(USAGE + '\n');
    return;
  }
  const { ConfigError, loadConfig } = await import('./config.ts');
  const json = argv.includes('--json');
  const out: Out = {
    json,
    print(human, data) {
      process.stdout.write((json ? JSON.stringify(data, null, 2) : human) + '\n');
    },
  };
  let config: Config | undefined;
  const cfg = (): Config => (config ??= loadConfig());
  try {
    process.exitCode = await run(argv, out, cfg);
  } catch (e) {
    const msg = e instanceof UsageError
      ? `zhedel: ${e.message}\n(run "zhedel help" for usage)`
      : e instanceof ConfigError
        ? `zhedel: ${e.message}`
        : isAppError(e)
          ? `zhedel: ${e.code}: ${e.message}`
          : `zhedel: internal error: ${(e as Error).message}`;
    process.stderr.write(msg + '\n');
    process.exitCode = e instanceof UsageError ? 2 : e instanceof ConfigError ? 78 : 1;
  }
}

await mainCli();
