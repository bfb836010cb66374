/**
 * What must never appear in a log line: a one-time code, a session or operator token, a
 * password, an SMS body with a code. Only structured (JSON) log lines are checked, so a test
 * that prints a code on purpose (the demo tells what the phone received) is not flagged.
 */
const RULES: Array<[string, RegExp]> = [
  ['a code field', /"(code|otp)":"\d{4,8}"/],
  ['a duress code field', /"duress(Code)?":"\d{4,8}"/],
  ['a bearer token', /Bearer [\w-]{20,}/],
  ['a token field', /"(token|access_token|authorization)":"(?!\[redacted\])[^"]{8,}"/],
  ['a token in a URL', /[?&](access_token|token)=(?!\[redacted\])[\w-]{8,}/],
  ['a password field', /"(password|secret)":"(?!\[redacted\])[^"]+"/],
  ['an SMS text with a code', /Код \d{6}/],
];

export function findSecrets(text: string): string[] {
  const found: string[] = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith('{') || !line.includes('"level":')) continue;
    for (const [what, re] of RULES) if (re.test(line)) found.push(`${what}: ${line.slice(0, 300)}`);
  }
  return found;
}
