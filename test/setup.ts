import { afterAll } from 'vitest';
import { findSecrets } from './support/log-hygiene.ts';

/**
 * The log hygiene gate: everything this test file's process writes to stdout and stderr is
 * scanned; a code, a token or a password in clear in any log line fails the run.
 */
const seen: string[] = [];
for (const stream of [process.stdout, process.stderr]) {
  const write = stream.write.bind(stream) as (chunk: unknown, ...rest: unknown[]) => boolean;
  stream.write = ((chunk: unknown, ...rest: unknown[]) => {
    const text = typeof chunk === 'string' ? chunk : Buffer.isBuffer(chunk) ? chunk.toString('utf8') : '';
    if (text) seen.push(...findSecrets(text));
    return write(chunk, ...rest);
  }) as typeof stream.write;
}

afterAll(() => {
  if (seen.length > 0) throw new Error(`secrets reached the log:\n${seen.slice(0, 5).join('\n')}`);
});
