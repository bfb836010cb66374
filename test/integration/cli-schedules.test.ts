import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../support/core-fixture.ts';
import { zhedel } from '../support/cli.ts';

let env: Record<string, string>;
beforeAll(() => {
  env = { ZHEDEL_DB: join(tempDir(), 'data', 'zhedel.db') };
});

async function ok(args: string[]): Promise<string> {
  const r = await zhedel(args, env);
  if (r.code !== 0) throw new Error(`zhedel ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  return r.stdout;
}

describe('zhedel schedule', () => {
  it('sets, shows and clears a schedule and its exceptions; bad input exits non-zero with one line and changes nothing', async () => {
    const client = JSON.parse(await ok(['client', 'add', '--name', 'ТОО Дүкен', '--json'])) as { id: number };
    await ok(['object', 'add', '--client', String(client.id), '--code', '4711', '--address', 'Алматы, Абая 1']);
    expect(await ok(['schedule', 'show', '--object', '4711'])).toBe('4711: no schedule\n');

    const bad = await zhedel(['schedule', 'set', '--object', '4711', '--rule', 'mon-fri arm-by 25:00'], env);
    expect(bad.code).toBe(1);
    expect(bad.stderr.trim().split('\n')).toEqual(['zhedel: BAD_INPUT: arm-by must be a time HH:MM (00:00 to 23:59)']);
    const noRule = await zhedel(['schedule', 'set', '--object', '4711'], env);
    expect(noRule.code).toBe(2);
    expect(noRule.stderr).toContain('--rule is required');
    expect(await ok(['schedule', 'show', '--object', '4711'])).toBe('4711: no schedule\n');

    const set = await ok(['schedule', 'set', '--object', '4711', '--rule', 'mon-fri open-from 07:00 arm-by 20:00', '--rule', 'sat arm-by 22:00', '--sms', 'off', '--operator', 'anna']);
    expect(set).toContain('off-schedule disarm SMS off; set by anna');
    expect(set).toContain('  Fri  open-from 07:00  arm-by 20:00\n  Sat  arm-by 22:00');
    expect(await ok(['schedule', 'exception', 'add', '--object', '4711', '--date', '2026-12-31', '--closed', '--note', 'New Year'])).toContain('  2026-12-31  closed all day  (New Year)');
    const exceptionBad = await zhedel(['schedule', 'exception', 'add', '--object', '4711', '--date', '2026-12-32', '--closed'], env);
    expect(exceptionBad.code).toBe(1);
    expect(await ok(['schedule', 'exception', 'add', '--object', '4711', '--date', '2026-03-08', '--arm-by', '15:00'])).toContain('  2026-03-08  arm-by 15:00');

    const shown = JSON.parse(await ok(['schedule', 'show', '--object', '4711', '--json'])) as { days: unknown[]; exceptions: Array<{ date: string }>; notifyOffSchedule: boolean };
    expect(shown.days).toHaveLength(6);
    expect(shown.notifyOffSchedule).toBe(false);
    expect(shown.exceptions.map((e) => e.date)).toEqual(['2026-03-08', '2026-12-31']);
    expect(await ok(['schedule', 'exception', 'remove', '--object', '4711', '--date', '2026-03-08'])).not.toContain('2026-03-08');
    expect(await ok(['schedule', 'clear', '--object', '4711'])).toBe('4711: schedule removed\n');
    expect((await zhedel(['schedule', 'clear', '--object', '4711'], env)).stderr).toBe('zhedel: NOT_FOUND: object 4711 has no schedule\n');
    expect(await ok(['journal', '--object', '4711'])).toContain('schedule-clear');
  });
});
