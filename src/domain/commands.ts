/**
 * Commands clients type by SMS and in the online chat, in Russian, Kazakh and Latin.
 * Pure: text in, a command out. Case, extra spaces and punctuation, Ё/Е and a missing object
 * code (when the client has one object) are all fine.
 */
export type Command =
  | { cmd: 'status'; objectCode: string | null }
  | { cmd: 'arm'; objectCode: string | null }
  | { cmd: 'disarm'; objectCode: string | null }
  | { cmd: 'balance' }
  | { cmd: 'help' }
  | { cmd: 'code'; code: string }
  | { cmd: 'unknown' }
  | { cmd: 'schedule'; objectCode: string | null };

type Word = 'status' | 'arm' | 'disarm' | 'balance' | 'help' | 'code' | 'schedule';
const WORDS: Record<string, Word> = {};
function words(cmd: Word, list: string[]): void {
  for (const w of list) WORDS[w] = cmd;
}
words('status', ['СТАТУС', 'СОСТОЯНИЕ', 'КҮЙ', 'КУЙ', 'ЖАҒДАЙ', 'STATUS', 'STATE']);
words('arm', ['ОХРАНА', 'ПОСТАВИТЬ', 'ПОСТАНОВКА', 'ВКЛ', 'ВКЛЮЧИТЬ', 'КҮЗЕТ', 'КУЗЕТ', 'ҚОЮ', 'ARM', 'ON']);
words('disarm', ['СНЯТЬ', 'СНЯТИЕ', 'ОТКЛ', 'ВЫКЛ', 'ВЫКЛЮЧИТЬ', 'АЛУ', 'DISARM', 'OFF']);
words('balance', ['БАЛАНС', 'СЧЕТ', 'ҚАЛДЫҚ', 'BALANCE', 'BAL']);
words('help', ['ПОМОЩЬ', 'СПРАВКА', 'КӨМЕК', 'КОМЕК', 'HELP', '?']);
words('code', ['КОД', 'CODE']);
words('schedule', ['ГРАФИК', 'КЕСТЕ', 'GRAFIK', 'SCHEDULE']);

/** Two-word Kazakh forms: "күзетке қою" (arm), "күзеттен алу" (disarm). */
const PHRASES: Array<[RegExp, 'arm' | 'disarm']> = [
  [/^(КҮЗЕТКЕ|КУЗЕТКЕ) (ҚОЮ|КОЮ)(?= |$)/, 'arm'],
  [/^(КҮЗЕТТЕН|КУЗЕТТЕН) (АЛУ)(?= |$)/, 'disarm'],
  [/^(СНЯТЬ С ОХРАНЫ)(?= |$)/, 'disarm'],
  [/^(ПОСТАВИТЬ НА ОХРАНУ|ПОСТАВИТЬ ПОД ОХРАНУ)(?= |$)/, 'arm'],
];

export const MAX_COMMAND_LENGTH = 160;

export function normaliseText(text: string): string {
  return text
    .normalize('NFC')
    .toUpperCase()
    .replace(/Ё/g, 'Е')
    .replace(/\p{Cc}/gu, ' ')
    .replace(/[.,;:!"'«»()\-_/\\]+/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
}

export function parseCommand(text: string): Command {
  if (typeof text !== 'string' || text.length === 0 || text.length > MAX_COMMAND_LENGTH) return { cmd: 'unknown' };
  let t = normaliseText(text);
  if (t === '') return { cmd: 'unknown' };
  if (t === '?') return { cmd: 'help' };

  // A bare number of 4 to 8 digits is a code being sent back: the six-digit one-time code, or
  // a client's duress code (which must answer exactly as the one-time code does).
  const bare = /^[\d ]+$/.test(t) ? t.replace(/ /g, '') : '';
  if (/^\d{4,8}$/.test(bare)) return { cmd: 'code', code: bare };

  let cmd: Word | undefined;
  for (const [re, c] of PHRASES) {
    const m = re.exec(t);
    if (m) {
      cmd = c;
      t = t.slice(m[0].length).trim();
      break;
    }
  }
  if (!cmd) {
    const [first = '', ...rest] = t.split(' ');
    cmd = WORDS[first];
    if (!cmd) return { cmd: 'unknown' };
    t = rest.join(' ');
  }
  const args = t.split(' ').filter(Boolean);
  if (cmd === 'help') return { cmd: 'help' };
  if (cmd === 'balance') return args.length === 0 ? { cmd: 'balance' } : { cmd: 'unknown' };
  if (cmd === 'code') {
    const code = args.join('');
    return /^\d{4,8}$/.test(code) ? { cmd: 'code', code } : { cmd: 'unknown' };
  }
  if (args.length === 0) return { cmd, objectCode: null };
  if (args.length === 1 && /^\d{3,8}$/.test(args[0] as string)) return { cmd, objectCode: args[0] as string };
  return { cmd: 'unknown' };
}
