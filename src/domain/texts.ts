import type { Lang, ObjectStatus } from './types.ts';

/**
 * Every client-facing text, in Russian and Kazakh. SMS texts stay short: Cyrillic goes as
 * UCS-2, 70 characters in one part, 67 per part of a long message.
 */
type Texts = Record<Lang, string>;

const STATUS: Record<ObjectStatus, Texts> = {
  armed: { ru: 'под охраной', kk: 'күзетте' },
  disarmed: { ru: 'снят с охраны', kk: 'күзеттен алынған' },
  alarm: { ru: 'ТРЕВОГА', kk: 'ДАБЫЛ' },
  'no-link': { ru: 'нет связи', kk: 'байланыс жоқ' },
};

export function statusWord(status: ObjectStatus, lang: Lang): string {
  return STATUS[status][lang];
}

const PURPOSE: Record<string, Texts> = {
  disarm: { ru: 'снятие с охраны объекта {object}', kk: 'нысанды{object} күзеттен алу' },
  arm: { ru: 'постановка на охрану {object}', kk: 'нысанды{object} күзетке қою' },
  'sign-in': { ru: 'вход в ZHEDEL ONLINE', kk: 'ZHEDEL ONLINE жүйесіне кіру' },
  'confirm-number': { ru: 'подтверждение номера в ZHEDEL ONLINE', kk: 'ZHEDEL ONLINE нөмірін растау' },
  // a change of the duress code: worded neutrally, whoever reads the phone
  'duress-set': { ru: 'изменение настроек безопасности', kk: 'қауіпсіздік баптауларын өзгерту' },
  'duress-clear': { ru: 'изменение настроек безопасности', kk: 'қауіпсіздік баптауларын өзгерту' },
};

/** What a document does, for a text: "снятие с охраны объекта 4711". */
function purposeText(lang: Lang, purpose: string, objectCode: string | null): string {
  const p = PURPOSE[purpose] ?? { ru: 'подтверждение операции', kk: 'операцияны растау' };
  return lang === 'kk'
    ? p.kk.replace('{object}', objectCode ? ` ${objectCode}` : '')
    : p.ru.replace(' {object}', objectCode ? ` ${objectCode}` : '');
}

/**
 * The SMS that carries a one-time code; it says what the code confirms. Every variant fits
 * one UCS-2 SMS (70 characters) with an 8-digit object code.
 */
export function otpText(lang: Lang, code: string, purpose: string, objectCode: string | null): string {
  const what = purposeText(lang, purpose, objectCode);
  return lang === 'kk' ? `Код ${code}: ${what}. Ешкімге айтпаңыз.` : `Код ${code}: ${what}. Никому не сообщайте.`;
}

/** Formats an instant as "dd.mm HH:MM" in the company's time zone. */
export function formatLocal(iso: string, timeZone: string): string {
  const d = new Date(iso);
  const parts = new Intl.DateTimeFormat('ru-RU', {
    timeZone, day: '2-digit', month: '2-digit', hour: '2-digit', minute: '2-digit', hourCycle: 'h23',
  }).formatToParts(d);
  const get = (t: string): string => parts.find((p) => p.type === t)?.value ?? '';
  return `${get('day')}.${get('month')} ${get('hour')}:${get('minute')}`;
}

export function objectLine(lang: Lang, code: string, status: ObjectStatus, sinceIso: string, tz: string): string {
  const since = formatLocal(sinceIso, tz);
  return lang === 'kk'
    ? `${code}: ${statusWord(status, lang)}, ${since} бастап`
    : `${code}: ${statusWord(status, lang)} с ${since}`;
}

export const T = {
  armed: { ru: 'Объект {code} поставлен под охрану.', kk: '{code} нысаны күзетке қойылды.' },
  alreadyArmed: { ru: 'Объект {code} уже под охраной.', kk: '{code} нысаны күзетте тұр.' },
  disarmed: { ru: 'Объект {code} снят с охраны.', kk: '{code} нысаны күзеттен алынды.' },
  alreadyDisarmed: { ru: 'Объект {code} уже снят с охраны.', kk: '{code} нысаны күзеттен алынған.' },
  codeSent: {
    ru: 'Код подтверждения отправлен отдельным SMS. Ответьте им за 5 минут.',
    kk: 'Растау коды бөлек SMS-пен жіберілді. 5 минут ішінде соны жіберіңіз.',
  },
  codeWrong: { ru: 'Неверный код. Осталось попыток: {left}.', kk: 'Код қате. Қалған әрекет: {left}.' },
  codeDead: { ru: 'Код больше не действует. Запросите новый.', kk: 'Код енді жарамсыз. Жаңасын сұраңыз.' },
  noPending: { ru: 'Нет операции, ожидающей кода.', kk: 'Код күтіп тұрған операция жоқ.' },
  sendLimit: {
    ru: 'Код уже отправлен и действует. Новый — через {sec} с.',
    kk: 'Код жіберілді, әлі жарамды. Жаңасы {sec} секундтан кейін.',
  },
  codeBudget: {
    ru: 'Слишком много кодов за час. Повторите через {min} мин.',
    kk: 'Бір сағатта кодтар тым көп. {min} минуттан кейін қайталаңыз.',
  },
  suspended: {
    ru: 'Услуги приостановлены из-за неоплаты. Пополните счёт, и они возобновятся.',
    kk: 'Төлем болмағандықтан қызмет тоқтатылды. Шотты толтырыңыз, қызмет қайта қосылады.',
  },
  noObject: { ru: 'Такого объекта нет среди ваших.', kk: 'Мұндай нысан сізде жоқ.' },
  chooseObject: { ru: 'Укажите код объекта: {codes}.', kk: 'Нысан кодын көрсетіңіз: {codes}.' },
  help: {
    ru: 'Команды: СТАТУС, ОХРАНА <код>, СНЯТЬ <код>, БАЛАНС, ГРАФИК, ПОМОЩЬ.',
    kk: 'Командалар: КҮЙ, КҮЗЕТ <код>, АЛУ <код>, БАЛАНС, КЕСТЕ, КӨМЕК.',
  },
  balance: { ru: 'Баланс: {amount} тг.', kk: 'Баланс: {amount} тг.' },
  refused: { ru: 'Запрос отклонён.', kk: 'Сұрау қабылданбады.' },
  numberConfirmed: { ru: 'Номер подтверждён. Добро пожаловать в ZHEDEL ONLINE!', kk: 'Нөмір расталды. ZHEDEL ONLINE жүйесіне қош келдіңіз!' },
  numberPending: {
    ru: 'Номер ещё не подтверждён. Ответьте кодом из SMS или обратитесь в Охрану.',
    kk: 'Нөмір әлі расталмаған. SMS-тағы кодпен жауап беріңіз немесе Күзетке хабарласыңыз.',
  },
  held: {
    ru: 'Запрос принят. Для подтверждения позвоним на ваш доверенный номер.',
    kk: 'Сұрау қабылданды. Растау үшін сенімді нөміріңізге қоңырау шаламыз.',
  },
  tooManyRequests: { ru: 'Слишком много запросов. Повторите через несколько минут.', kk: 'Сұраулар тым көп. Бірнеше минуттан кейін қайталаңыз.' },
} as const satisfies Record<string, Texts>;

/** The outcome of a held request, for the number that made it: "Подтверждено: снятие с охраны объекта 4711." */
export function holdText(key: 'holdDone' | 'holdRefused', lang: Lang, action: string, objectCode: string): string {
  const what = purposeText(lang, action, objectCode);
  if (key === 'holdDone') return lang === 'kk' ? `Расталды және орындалды: ${what}.` : `Подтверждено и выполнено: ${what}.`;
  return lang === 'kk' ? `Расталмады, тоқтатылды: ${what}.` : `Не подтверждено, отменено: ${what}.`;
}

export function t(key: keyof typeof T, lang: Lang, vars: Record<string, string | number> = {}): string {
  return T[key][lang].replace(/\{(\w+)\}/g, (_, k: string) => String(vars[k] ?? ''));
}

const ALARM_KIND: Record<string, Texts> = {
  burglary: { ru: 'проникновение', kk: 'ұрлық' },
  fire: { ru: 'пожар', kk: 'өрт' },
  panic: { ru: 'тревожная кнопка', kk: 'дабыл түймесі' },
  flood: { ru: 'протечка', kk: 'су ағуы' },
  tamper: { ru: 'вскрытие', kk: 'ашылу' },
};

function timeOnly(iso: string, timeZone: string): string {
  return formatLocal(iso, timeZone).slice(6);
}

/**
 * The alarm SMS: object code, address, kind, zone, time — one UCS-2 part (70 characters):
 * the address is shortened to fit, never the rest.
 */
export function alarmText(lang: Lang, a: { code: string; address: string; kind: string; zone: number | null; at: string; timeZone: string }): string {
  const kind = ALARM_KIND[a.kind]?.[lang] ?? a.kind;
  const zone = a.zone !== null ? (lang === 'kk' ? `, аймақ ${a.zone}` : `, зона ${a.zone}`) : '';
  const head = lang === 'kk' ? `ДАБЫЛ ${a.code}` : `ТРЕВОГА ${a.code}`;
  const tail = `: ${kind}${zone}, ${timeOnly(a.at, a.timeZone)}`;
  const room = 70 - head.length - tail.length - 1;
  let address = a.address.trim();
  if (address.length > room) address = room > 3 ? `${address.slice(0, room - 1)}…` : '';
  return `${head}${address ? ` ${address}` : ''}${tail}`;
}

export function restoredText(lang: Lang, code: string, at: string, timeZone: string): string {
  return lang === 'kk' ? `${code} нысаны: дабыл тоқтады, ${timeOnly(at, timeZone)}` : `Объект ${code}: тревога снята, ${timeOnly(at, timeZone)}`;
}

/** The object's panel stopped reporting (its supervision ran out, or the monitoring centre says so). */
export function linkLostText(lang: Lang, code: string, at: string, timeZone: string): string {
  return lang === 'kk' ? `${code} нысаны: күзет құрылғысымен байланыс жоқ, ${timeOnly(at, timeZone)}` : `Объект ${code}: нет связи с охранным прибором, ${timeOnly(at, timeZone)}`;
}

export function linkRestoredText(lang: Lang, code: string, at: string, timeZone: string): string {
  return lang === 'kk' ? `${code} нысаны: құрылғымен байланыс қалпына келді, ${timeOnly(at, timeZone)}` : `Объект ${code}: связь с охранным прибором восстановлена, ${timeOnly(at, timeZone)}`;
}

export const BILLING_TEXT = {
  suspended: {
    ru: 'ZHEDEL: не хватает средств на оплату услуг, они приостановлены. Пополните счёт — услуги возобновятся сразу.',
    kk: 'ZHEDEL: қызмет ақысына қаражат жетпейді, қызмет тоқтатылды. Шотты толтырыңыз — қызмет бірден қайта қосылады.',
  },
  resumed: { ru: 'ZHEDEL: оплата получена, услуги возобновлены.', kk: 'ZHEDEL: төлем алынды, қызмет қайта қосылды.' },
  reminder: {
    ru: 'ZHEDEL: {date} спишется {amount} тг, на счёте {balance} тг. Пополните счёт.',
    kk: 'ZHEDEL: {date} күні {amount} тг алынады, шотта {balance} тг. Шотты толтырыңыз.',
  },
  accessAlert: {
    ru: 'ZHEDEL: замечены подозрительные попытки доступа с вашего номера. Если это не вы, позвоните в Охрану.',
    kk: 'ZHEDEL: нөміріңізден күдікті кіру әрекеттері байқалды. Бұл сіз болмасаңыз, Күзетке қоңырау шалыңыз.',
  },
} as const satisfies Record<string, Texts>;

// ---------------------------------------------------------------- schedules

export const SCHEDULE_TEXT = {
  notArmed: {
    ru: 'ZHEDEL: объект {code} не под охраной, по графику — до {time}.',
    kk: 'ZHEDEL: {code} нысаны күзетте емес, кесте бойынша {time} дейін.',
  },
  notArmedClosed: {
    ru: 'ZHEDEL: объект {code} не под охраной, сегодня по графику выходной.',
    kk: 'ZHEDEL: {code} нысаны күзетте емес, бүгін кесте бойынша демалыс.',
  },
  offSchedule: {
    ru: 'ZHEDEL: объект {code} снят с охраны в {time}, вне графика.',
    kk: 'ZHEDEL: {code} нысаны {time} кестеден тыс күзеттен алынды.',
  },
  none: { ru: 'У объекта {code} нет графика.', kk: '{code} нысанының кестесі жоқ.' },
  head: { ru: 'График объекта {code}:', kk: '{code} нысанының кестесі:' },
  closed: { ru: 'выходной', kk: 'демалыс' },
  free: { ru: 'без ограничений', kk: 'шектеусіз' },
  openFrom: { ru: 'снятие с {time}', kk: 'алу {time} бастап' },
  armBy: { ru: 'охрана до {time}', kk: 'күзет {time} дейін' },
} as const satisfies Record<string, Texts>;

const WEEKDAY_SHORT: Record<Lang, string[]> = {
  ru: ['Пн', 'Вт', 'Ср', 'Чт', 'Пт', 'Сб', 'Вс'],
  kk: ['Дс', 'Сс', 'Ср', 'Бс', 'Жм', 'Сн', 'Жс'],
};

function fill(text: string, vars: Record<string, string>): string {
  return text.replace(/\{(\w+)\}/g, (_, k: string) => vars[k] ?? '');
}

/** One schedule text of `SCHEDULE_TEXT` with its values. */
export function scheduleNotice(key: 'notArmed' | 'notArmedClosed' | 'offSchedule' | 'none', lang: Lang, vars: { code: string; time?: string }): string {
  return fill(SCHEDULE_TEXT[key][lang], { code: vars.code, time: vars.time ?? '' });
}

/** The local time ("HH:MM") of an instant. */
export function localClock(iso: string, timeZone: string): string {
  return timeOnly(iso, timeZone);
}

function timesText(lang: Lang, r: { closed?: boolean; armBy: string | null; openFrom: string | null }): string {
  if (r.closed) return SCHEDULE_TEXT.closed[lang];
  const parts = [
    ...(r.openFrom ? [fill(SCHEDULE_TEXT.openFrom[lang], { time: r.openFrom })] : []),
    ...(r.armBy ? [fill(SCHEDULE_TEXT.armBy[lang], { time: r.armBy })] : []),
  ];
  return parts.length > 0 ? parts.join(', ') : SCHEDULE_TEXT.free[lang];
}

/**
 * An object's schedule as text (the answer to ГРАФИК): the week in groups of days with the
 * same times, then the exceptions of the coming days (at most `maxExceptions`).
 */
export function scheduleText(
  lang: Lang, code: string,
  s: { groups: Array<{ from: number; to: number; armBy: string | null; openFrom: string | null }>; exceptions: Array<{ date: string; closed: boolean; armBy: string | null; openFrom: string | null }> } | null,
  maxExceptions = 5,
): string {
  if (!s) return scheduleNotice('none', lang, { code });
  const names = WEEKDAY_SHORT[lang];
  const lines = [fill(SCHEDULE_TEXT.head[lang], { code })];
  for (const g of s.groups) {
    const days = g.from === g.to ? names[g.from - 1] : `${names[g.from - 1]}-${names[g.to - 1]}`;
    lines.push(`${days}: ${timesText(lang, g)}`);
  }
  for (const e of s.exceptions.slice(0, maxExceptions)) lines.push(`${e.date.slice(8, 10)}.${e.date.slice(5, 7)}: ${timesText(lang, e)}`);
  return lines.join('\n');
}
