import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/logger.ts';
import { findSecrets } from '../support/log-hygiene.ts';

describe('log hygiene', () => {
  it('finds secrets in log lines', () => {
    expect(findSecrets('{"level":30,"code":"123456"}')).toHaveLength(1);
    expect(findSecrets('{"level":30,"msg":"x","authorization":"Bearer abcdefghijklmnopqrstuvwxyz"}')).toHaveLength(2);
    expect(findSecrets('{"level":30,"req":{"url":"/v1/events?access_token=abcdefghijkl"}}')).toHaveLength(1);
    expect(findSecrets('{"level":30,"text":"Код 123456: вход"}')).toHaveLength(1);
    expect(findSecrets('{"level":30,"password":"[redacted]"}')).toEqual([]);
    expect(findSecrets('not a log line: Код 123456')).toEqual([]);
  });

  it('the logger redacts what code might pass to it by mistake', () => {
    const lines: string[] = [];
    const logger = createLogger('info', { write: (s: string) => { lines.push(s); } });
    logger.info({ code: '123456', token: 'abcdefghijklmnopqrstuvwxyz', password: 'hunter2', body: 'Код 654321', sms: { text: 'Код 111111' } }, 'oops');
    expect(lines).toHaveLength(1);
    expect(findSecrets(lines.join(''))).toEqual([]);
    expect(lines[0]).toContain('[redacted]');
  });
});
