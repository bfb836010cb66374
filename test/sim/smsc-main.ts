/**
 * `npm run smsc-sim [-- --port 2775 --system-id zhedel --password secret]`: the SMSC simulator
 * for local use. Prints every SMS the service sends (joined parts too), answers with delivery
 * receipts, and sends messages from a phone typed on standard input:
 *   mo +77011234567 СТАТУС
 */
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { SmscSim } from './smsc.ts';
import type { Submit } from './smsc.ts';

const { values } = parseArgs({
  options: { port: { type: 'string', default: '2775' }, 'system-id': { type: 'string' }, password: { type: 'string' }, 'no-receipts': { type: 'boolean' } },
});
const sim = await SmscSim.start({
  port: Number(values.port),
  ...(values['system-id'] ? { systemId: values['system-id'] } : {}),
  ...(values.password !== undefined ? { password: values.password } : {}),
  behaviour: { autoReceiptMs: values['no-receipts'] ? -1 : 500 },
});
const out = (line: string): void => {
  process.stdout.write(`${new Date().toISOString().slice(11, 19)}  ${line}\n`);
};
out(`SMSC simulator listening on ${sim.url}`);
out('type: mo <number> <text>   to send an SMS from a phone; Ctrl-C to stop');

let seen = 0;
let lastBinds = 0;
setInterval(() => {
  if (sim.binds !== lastBinds) {
    lastBinds = sim.binds;
    out(`bind #${sim.binds} (${sim.boundCount} bound now)`);
  }
  while (seen < sim.submits.length) {
    const s = sim.submits[seen++] as Submit;
    const coding = s.dataCoding === 8 ? 'UCS-2' : s.dataCoding === 0 ? 'GSM-7' : `dc=${s.dataCoding}`;
    const part = s.concat ? ` part ${s.concat.seq}/${s.concat.total} ref ${s.concat.ref}` : '';
    out(`SMS to +${s.destination.addr} from ${s.source.addr} [${coding}${part}] id=${s.messageId ?? '-'}${s.validityPeriod ? ` valid ${s.validityPeriod}` : ''}: ${s.text ?? '(binary)'}`);
    if (s.concat && s.concat.seq === s.concat.total) {
      const whole = sim.textsTo(s.destination.addr).at(-1);
      if (whole) out(`   whole message (${whole.length} characters): ${whole}`);
    }
  }
}, 100).unref();

const rl = createInterface({ input: process.stdin });
rl.on('line', (line) => {
  const m = /^\s*mo\s+(\+?\d+)\s+(.+)$/i.exec(line);
  if (!m) {
    if (line.trim()) out('usage: mo <number> <text>');
    return;
  }
  // a phone's number as an SMSC reports it: international, without '+' (8701… becomes 7701…)
  const from = (m[1] as string).replace(/^\+/, '').replace(/^8(\d{10})$/, '7$1');
  try {
    sim.sendMo({ from, text: m[2] as string });
    out(`SMS from +${from}: ${m[2]}`);
  } catch (e) {
    out(`cannot send: ${(e as Error).message}`);
  }
});
const stop = async (): Promise<void> => {
  await sim.close();
  process.exit(0);
};
process.on('SIGINT', () => void stop());
process.on('SIGTERM', () => void stop());
