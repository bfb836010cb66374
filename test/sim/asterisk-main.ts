/**
 * `npm run asterisk-sim [-- --port 8088 --user zhedel --password secret --callouts ack|silent|busy|no-answer|reject]`:
 * the Asterisk simulator for local use. Prints what the robot plays (with the prompts' text)
 * and answers alarm call-outs and confirmation call-backs as told (`ack`: answers and presses
 * 1; `silent`: answers and waits for keys typed with `press`). Type on standard input:
 *   call 87011234567     a call from that number
 *   press 123#           keys on the current call (the last call in, or the last call-out answered)
 *   hangup               the caller hangs up
 */
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import manifest from '../../prompts/manifest.json' with { type: 'json' };
import { AsteriskSim } from './asterisk.ts';
import type { SimCall } from './asterisk.ts';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '8088' }, user: { type: 'string', default: 'zhedel' }, password: { type: 'string', default: 'secret' },
    callouts: { type: 'string', default: 'ack' },
  },
});
const texts = (manifest as { prompts: Record<string, Record<string, string>> }).prompts;
const sim = await AsteriskSim.start({ user: values.user, password: values.password, playbackMs: 300, port: Number(values.port) });
const out = (line: string): void => {
  process.stdout.write(`${new Date().toISOString().slice(11, 19)}  ${line}\n`);
};
out(`Asterisk simulator: ARI on ${sim.url} (user ${values.user}); call-outs: ${values.callouts}`);
out('type: call <number> | press <keys> | hangup');

const mode = values.callouts ?? 'ack';
sim.onOriginate = () => ({ kind: mode === 'busy' ? 'busy' : mode === 'no-answer' ? 'no-answer' : mode === 'reject' ? 'reject' : 'answer', afterMs: 500 });
let current: SimCall | null = null;
const watched = new Map<SimCall, number>();
const watch = (call: SimCall, label: string): void => {
  watched.set(call, 0);
  out(`${label}`);
  void call.waitForEnd(3_600_000).then(() => out(`call ${call.id} ended`), () => undefined);
};
let lastAnswered = 0;
let lastOriginated = 0;
setInterval(() => {
  if (sim.connectedApps().length && !watched.size && lastOriginated === 0) lastOriginated = -1;
  while (lastOriginated >= 0 && lastOriginated < sim.originated.length) {
    const o = sim.originated[lastOriginated++];
    if (o) out(`robot calls out: ${o.endpoint} → ${o.outcome}`);
  }
  while (lastAnswered < sim.answered.length) {
    const c = sim.answered[lastAnswered++] as SimCall;
    current = c;
    watch(c, `call-out answered (${c.channel.caller.number})`);
  }
  for (const [call, seen] of watched) {
    for (let i = seen; i < call.prompts.length; i++) {
      const [lang, id] = (call.prompts[i] as string).split('/') as [string, string];
      out(`  robot (${lang}): ${texts[id]?.[lang] ?? id}`);
      if ((id === 'alarm-press-1' || id === 'confirm-press') && mode === 'ack' && sim.answered.includes(call)) {
        setTimeout(() => {
          out('  callee presses 1');
          void call.press('1');
        }, 400);
      }
    }
    watched.set(call, call.prompts.length);
  }
}, 100).unref();

createInterface({ input: process.stdin }).on('line', (line) => {
  const [cmd, arg] = line.trim().split(/\s+/);
  if (cmd === 'call' && arg) {
    current = sim.call({ number: arg });
    watch(current, `call from ${arg}`);
  } else if (cmd === 'press' && arg && current) {
    out(`  caller presses ${arg}`);
    void current.press(arg, { gapMs: 150 });
  } else if (cmd === 'hangup' && current) {
    current.hangup();
  } else if (cmd) {
    out('type: call <number> | press <keys> | hangup');
  }
});
const stop = async (): Promise<void> => {
  await sim.close();
  process.exit(0);
};
process.on('SIGINT', () => void stop());
process.on('SIGTERM', () => void stop());
