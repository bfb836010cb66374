import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';

describe('npm run demo', () => {
  it('plays the whole story and logs no error', async () => {
    const child = spawn(process.execPath, ['bin/run-ts.js', 'scripts/demo.ts'], { env: { PATH: process.env.PATH ?? '' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { out += d.toString(); });
    const code = await new Promise((r) => child.once('exit', r));
    expect(out).toContain('Объект поставлен под охрану.');
    expect(out).toMatch(/SMS to the phone: 4021: под охраной/);
    expect(out).toMatch(/SMS to the phone: Код \d{6}: снятие с охраны объекта 4021/);
    expect(out).toContain('SMS to the phone: Объект 4021 снят с охраны.');
    expect(out).toMatch(/SMS to the phone: ТРЕВОГА 4021 Алматы, Достык 5: проникновение, зона 3/);
    expect(out).toContain('Спасибо, получение тревоги подтверждено.');
    // a night disarm waits for the call-back, key 1 on it carries it out
    expect(out).toContain('SMS to the phone: Запрос принят. Для подтверждения позвоним на ваш доверенный номер.');
    expect(out).toContain('object 4021 is still: armed');
    expect(out).toContain('Чтобы подтвердить, нажмите 1. Чтобы отказать, нажмите 2.');
    expect(out).toContain('SMS to the phone: Подтверждено и выполнено: снятие с охраны объекта 4021.');
    // the duress code: a plain disarm to whoever watches, a silent alarm to the operators, nothing to the client
    expect(out).toMatch(/caller presses 7390# {2}\(the duress code\)\n {4}robot \(ru\): Объект снят с охраны\./);
    expect(out).toMatch(/operators' console, silently: alert #\d+ duress/);
    expect(out).toContain('SMS to the phone besides the code: none');
    // an alarm panel over SIA DC-09: acknowledged, armed by its closing, its burglary reaches the client by SMS and call-out
    expect(out).toContain('panel → *NULL   (link test)  ← *ACK');
    expect(out).toContain('panel → *ADM-CID #4711|3401 01 002  (closing by user 2)  ← *ACK');
    expect(out).toContain('object 4711 is now: armed');
    expect(out).toContain('panel → *ADM-CID #4711|1130 01 003  (burglary, zone 3)  ← *ACK');
    expect(out).toMatch(/SMS to the phone: ТРЕВОГА 4711 Алматы, Абая 10: проникновение, зона 3, 03:12/);
    expect(out).toMatch(/the robot calls \+77015551234; the client answers:\n(?: {4}robot \(ru\): .*\n)+ {4}caller presses 1 {2}\(acknowledge\)\n {4}robot \(ru\): Спасибо, получение тревоги подтверждено\./);
    expect(out).toMatch(/journal #\d+ panel event-arm accepted \(status\), auth dc09-aes: .*code=R401 partition=01 user=002 account=4711/);
    expect(out).toMatch(/journal #\d+ panel event-alarm accepted \(alarm\), auth dc09-aes: .*code=E130 partition=01 account=4711/);
    expect(out).toMatch(/#\d+ phone {6}alarm-ack {6}executed \(acknowledged\), auth caller-id\nJournal verification/);
    expect(out).toMatch(/Journal verification: intact, \d+ records/);
    expect(out).toMatch(/Service log: \d+ lines, 0 at error level\./);
    expect(out).toContain('Demo: OK');
    expect(code).toBe(0);
  }, 90_000);
});
