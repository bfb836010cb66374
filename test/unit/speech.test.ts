import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import manifest from '../../prompts/manifest.json' with { type: 'json' };
import { knownPrompt, promptIds, sayDigits, sayNumber, sayObject, sayStatus, sayWhen } from '../../src/telephony/speech.ts';

const TZ = 'Asia/Almaty';

describe('what the robot says', () => {
  it('digits one by one', () => {
    expect(sayDigits('4021')).toEqual(['digit-4', 'digit-0', 'digit-2', 'digit-1']);
    expect(sayDigits('12-3')).toEqual(['digit-1', 'digit-2', 'digit-3']);
  });

  it('numbers 0 to 59 only', () => {
    expect(sayNumber(0)).toEqual(['num-0']);
    expect(sayNumber(59)).toEqual(['num-59']);
    expect(() => sayNumber(60)).toThrow(RangeError);
    expect(() => sayNumber(1.5)).toThrow(RangeError);
  });

  it('tells when, in the company time zone (UTC+5)', () => {
    const now = new Date('2026-03-02T10:00:00Z'); // 15:00 local
    expect(sayWhen(new Date('2026-03-02T04:05:00Z'), now, TZ)).toEqual(['today', 'at', 'num-9', 'num-0', 'num-5']);
    // 20:30 UTC on the 1st is 01:30 on the 2nd in Almaty: today
    expect(sayWhen(new Date('2026-03-01T20:30:00Z'), now, TZ)).toEqual(['today', 'at', 'num-1', 'num-30']);
    expect(sayWhen(new Date('2026-03-01T10:00:00Z'), now, TZ)).toEqual(['yesterday', 'at', 'num-15', 'num-0', 'num-0']);
    expect(sayWhen(new Date('2026-02-14T12:45:00Z'), now, TZ)).toEqual(['num-14', 'month-2', 'at', 'num-17', 'num-45']);
  });

  it('status and object', () => {
    const now = new Date('2026-03-02T10:00:00Z');
    const since = new Date('2026-03-02T09:00:00Z');
    expect(sayStatus('no-link', since, now, TZ)[0]).toBe('status-no-link');
    expect(sayObject('77', 'alarm', since, now, 'kk', TZ).slice(0, 4)).toEqual(['object', 'digit-7', 'digit-7', 'status-alarm']);
  });

  it('every prompt any of these can return exists', () => {
    const now = new Date('2026-12-31T18:59:00Z');
    const out = new Set<string>();
    for (let m = 0; m < 400; m++) {
      for (const st of ['armed', 'disarmed', 'alarm', 'no-link'] as const) {
        for (const id of sayObject('0123456789', st, new Date(now.getTime() - m * 3_600_000 * 7), now, 'ru', TZ)) out.add(id);
      }
    }
    for (const id of out) expect(knownPrompt(id)).toBe(true);
  });

  it('every prompt has Russian and Kazakh text and a generated 8 kHz WAV in both', () => {
    const prompts = (manifest as { prompts: Record<string, { ru?: string; kk?: string }> }).prompts;
    expect(promptIds().length).toBeGreaterThan(100);
    for (const id of promptIds()) {
      expect(prompts[id]?.ru?.length).toBeGreaterThan(0);
      expect(prompts[id]?.kk?.length).toBeGreaterThan(0);
      for (const lang of ['ru', 'kk']) expect(existsSync(`prompts/${lang}/${id}.wav`)).toBe(true);
    }
    expect(prompts['status-armed']?.kk).toMatch(/[әғқңөұүһі]/);
  });

  it('the main menu takes under 8 s in both languages (WAV header: data size / byte rate)', () => {
    for (const lang of ['ru', 'kk']) {
      const s = wavSeconds(`prompts/${lang}/main-menu.wav`);
      expect(s, `${lang}/main-menu lasts ${s.toFixed(2)} s`).toBeGreaterThan(1);
      expect(s, `${lang}/main-menu lasts ${s.toFixed(2)} s`).toBeLessThan(8);
    }
  });
});

/** Duration of a PCM WAV file from its chunks: the `data` size over the `fmt ` byte rate. */
function wavSeconds(path: string): number {
  const b = readFileSync(path);
  if (b.toString('ascii', 0, 4) !== 'RIFF' || b.toString('ascii', 8, 12) !== 'WAVE') throw new Error(`${path} is not a WAV file`);
  let byteRate = 0;
  for (let at = 12; at + 8 <= b.length;) {
    const id = b.toString('ascii', at, at + 4);
    const size = b.readUInt32LE(at + 4);
    if (id === 'fmt ') byteRate = b.readUInt32LE(at + 16);
    if (id === 'data') {
      if (!byteRate) throw new Error(`${path}: data before fmt`);
      return size / byteRate;
    }
    at += 8 + size + (size % 2);
  }
  throw new Error(`${path}: no data chunk`);
}
