import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { formatLocal } from '../../src/domain/texts.ts';

/**
 * The command line's local time (TZ set to the zone, Date fields) must read exactly as the
 * service's formatLocal (an Intl formatter). It sets the process's TZ, so it runs in a child.
 */
describe('the command line prints times as the service does', () => {
  const instants = [
    '2024-02-29T18:30:00.000Z', // Almaty still on UTC+6
    '2024-03-01T00:30:00.000Z', // the night Kazakhstan moved to UTC+5
    '2024-03-01T18:30:00.000Z',
    '2026-12-31T19:05:00.000Z', // new year in Almaty
    '2026-06-15T03:59:59.999Z',
    '2026-03-29T00:30:00.000Z', // a DST change in Europe
  ];

  it.each(['Asia/Almaty', 'Asia/Aqtobe', 'Europe/Moscow', 'Europe/Berlin', 'UTC'])('%s', (zone) => {
    const script = `
      import { localTime } from './src/local-time.ts';
      process.stdout.write(JSON.stringify(${JSON.stringify(instants)}.map((i) => localTime(i, ${JSON.stringify(zone)}))));`;
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8', env: { PATH: process.env.PATH ?? '', TZ: 'America/New_York' } });
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout)).toEqual(instants.map((i) => formatLocal(i, zone)));
  });
});
