/**
 * `npm run prompts [-- --force]`: makes the robot's voice prompts from prompts/manifest.json
 * with espeak-ng (voices ru and kk) and sox: prompts/<lang>/<id>.wav, 8 kHz mono 16-bit PCM,
 * normalised, silence trimmed at both ends. A prompt whose text has not changed since the last
 * run (prompts/checksums.json) is left alone, so studio recordings dropped in place survive
 * unless their text changes or --force is given.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..', 'prompts');
const force = process.argv.includes('--force');
const manifest = JSON.parse(readFileSync(join(root, 'manifest.json'), 'utf8')) as { prompts: Record<string, Record<string, string>> };
const sumsFile = join(root, 'checksums.json');
const sums: Record<string, string> = existsSync(sumsFile) ? JSON.parse(readFileSync(sumsFile, 'utf8')) as Record<string, string> : {};

function need(cmd: string, pkg: string): void {
  try {
    execFileSync(cmd, ['--version'], { stdio: 'ignore' });
  } catch {
    process.stderr.write(`${cmd} is missing: install the Debian package ${pkg} (apt-get install ${pkg})\n`);
    process.exit(1);
  }
}
need('espeak-ng', 'espeak-ng');
need('sox', 'sox');

const tmp = mkdtempSync(join(tmpdir(), 'zhedel-prompts-'));
let made = 0;
let kept = 0;
try {
  for (const [id, texts] of Object.entries(manifest.prompts)) {
    for (const lang of ['ru', 'kk']) {
      const text = texts[lang];
      if (!text) throw new Error(`prompt ${id} has no ${lang} text`);
      const out = join(root, lang, `${id}.wav`);
      const key = `${lang}/${id}`;
      const sum = createHash('sha256').update(text).digest('hex').slice(0, 16);
      if (!force && sums[key] === sum && existsSync(out)) {
        kept++;
        continue;
      }
      mkdirSync(join(root, lang), { recursive: true });
      const raw = join(tmp, 'raw.wav');
      execFileSync('espeak-ng', ['-v', lang, '-s', '150', '-w', raw, text]);
      execFileSync('sox', [raw, '-r', '8000', '-c', '1', '-b', '16', '-e', 'signed-integer', out,
        'norm', '-1', 'silence', '1', '0.05', '0.1%', 'reverse', 'silence', '1', '0.05', '0.1%', 'reverse', 'pad', '0', '0.15']);
      sums[key] = sum;
      made++;
    }
  }
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
writeFileSync(sumsFile, JSON.stringify(Object.fromEntries(Object.entries(sums).sort()), null, 1) + '\n');
process.stdout.write(`prompts: ${made} made, ${kept} unchanged\n`);
