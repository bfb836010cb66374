/**
 * `npm run bench [name...]`: prints one line per figure. Names: core, sms, calls, http, alarms,
 * cli, pg (SQLite and PostgreSQL side by side), panels (the DC-09 receiver); sms:drain, sms:latency, sms:tps, sms:memory run one part
 * of sms. With no name, every benchmark runs.
 */
import { benchAlarms } from './alarms.ts';
import { benchCalls } from './calls.ts';
import { benchCli } from './cli.ts';
import { benchCore } from './core.ts';
import { benchHttp } from './http.ts';
import { benchPanels } from './panels.ts';
import { benchPg } from './pg.ts';
import { benchSms, SMS_PARTS } from './sms.ts';

const benches: Record<string, () => Promise<void>> = {
  core: benchCore,
  sms: benchSms,
  calls: benchCalls,
  http: benchHttp,
  alarms: benchAlarms,
  cli: benchCli,
  pg: benchPg,
  panels: benchPanels,
  ...Object.fromEntries(SMS_PARTS.map((p) => [`sms:${p}`, () => benchSms([p])])),
};

const wanted = process.argv.slice(2);
// with no name, every benchmark once (sms runs its parts itself)
const names = wanted.length ? wanted : Object.keys(benches).filter((n) => !n.includes(':'));
for (const name of names) {
  const run = benches[name];
  if (!run) {
    process.stderr.write(`unknown benchmark ${name}; known: ${Object.keys(benches).join(', ')}\n`);
    process.exit(2);
  }
  process.stdout.write(`# ${name}\n`);
  await run();
}
