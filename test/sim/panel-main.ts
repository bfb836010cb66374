/**
 * `npm run panel-sim -- --port 5000 --account 4711 [--key HEX] [--udp] [--host H]`: an alarm
 * panel speaking SIA DC-09 for local use. Reads lines on standard input and sends each as a
 * frame, printing the receiver's answer:
 *   cid 1130 01 003      a Contact ID event (here: burglary, partition 1, zone 3)
 *   sia Nri1/BA3         SIA DC-03 data (here: burglary alarm, area 1, zone 3)
 *   null                 a link test
 *   every 60             a link test every 60 seconds (every 0: stop)
 *   skew -30             the panel's clock 30 s behind (then the receiver answers NAK)
 * With --send "cid 1130 01 003" (repeatable) it sends those lines and exits.
 */
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { PanelSimulator } from './panel.ts';
import type { SendOptions } from './panel.ts';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '5000' }, host: { type: 'string', default: '127.0.0.1' }, account: { type: 'string' },
    key: { type: 'string' }, udp: { type: 'boolean' }, send: { type: 'string', multiple: true },
  },
});
if (!values.account) {
  process.stderr.write('panel-sim: --account is required\n');
  process.exit(2);
}
const account = values.account.toUpperCase();
const panel = new PanelSimulator({
  host: values.host, port: Number(values.port), transport: values.udp ? 'udp' : 'tcp', account, ...(values.key ? { key: values.key } : {}),
});
const out = (line: string): void => {
  process.stdout.write(`${new Date().toISOString().slice(11, 19)}  ${line}\n`);
};
let skewMs = 0;
let timer: NodeJS.Timeout | null = null;

/** One command line; resolves when its answer (if any) was printed. */
async function run(line: string): Promise<void> {
  const [word, ...rest] = line.trim().split(/\s+/);
  const arg = rest.join(' ');
  let o: SendOptions;
  switch ((word ?? '').toLowerCase()) {
    case '': return;
    case 'cid': o = { token: 'ADM-CID', data: `#${account}|${arg}` }; break;
    case 'sia': o = { token: 'SIA-DCS', data: `#${account}|${arg}` }; break;
    case 'null': o = { token: 'NULL' }; break;
    case 'skew':
      skewMs = Number(arg) * 1000;
      out(`clock skew ${skewMs / 1000} s`);
      return;
    case 'every': {
      if (timer) clearInterval(timer);
      timer = null;
      const s = Number(arg);
      if (s > 0) timer = setInterval(() => void run('null'), s * 1000);
      out(s > 0 ? `a link test every ${s} s` : 'periodic link tests stopped');
      return;
    }
    default:
      out(`unknown command: ${word} (cid, sia, null, every, skew)`);
      return;
  }
  try {
    const reply = await panel.send({ ...o, clockSkewMs: skewMs });
    out(`${o.token} ${o.data ?? ''} → ${reply.encrypted ? '*' : ''}${reply.token}${reply.timestamp ? ` ${reply.timestamp}` : ''}${reply.crcOk ? '' : ' (bad CRC)'}`);
  } catch (e) {
    out(`${o.token} ${o.data ?? ''} → ${(e as Error).message}`);
  }
}

if (values.send?.length) {
  for (const line of values.send) await run(line);
  await panel.close();
} else {
  out(`panel ${account} → ${values.host}:${values.port} over ${values.udp ? 'UDP' : 'TCP'}${values.key ? ', encrypted' : ''}; type cid/sia/null/every/skew, Ctrl-D to stop`);
  const rl = createInterface({ input: process.stdin });
  for await (const line of rl) await run(line);
  if (timer) clearInterval(timer);
  await panel.close();
}
