import type { Core } from '../../src/core/core.ts';
import type { Clock } from '../../src/core/ports.ts';
import { Telephony } from '../../src/telephony/service.ts';
import { AsteriskSim } from '../sim/asterisk.ts';
import { quietLogger, until } from './sms-harness.ts';

export type Outcome = 'answer' | 'busy' | 'no-answer' | 'reject';

/**
 * The robot's outbound calls against the Asterisk simulator: each dialled number (11 digits)
 * answers, is busy, rings out or rejects as `outcomes` says, and an answered call presses
 * `keys[number]` once it heard a prompt ending in `askedBy`. `cleanups` gets what to undo.
 */
export async function callRig(o: {
  core: Core; clock: Clock; outcomes: Record<string, Outcome>; keys: Record<string, string | null>; askedBy: string;
  cleanups: Array<() => Promise<void> | void>;
}): Promise<{ sim: AsteriskSim; tel: Telephony }> {
  const sim = await AsteriskSim.start({ playbackMs: 5 });
  o.cleanups.push(() => sim.close());
  const tel = new Telephony({
    url: sim.url, user: 'zhedel', password: 'secret', app: 'zhedel', calloutEndpoint: 'PJSIP/{number}@trunk', core: o.core, clock: o.clock,
    timeZone: 'Asia/Almaty', logger: quietLogger, timings: { firstDigitMs: 300, interDigitMs: 200, playbackLimitMs: 500 }, retryDelaysMs: [100],
  });
  tel.start();
  o.cleanups.push(() => tel.stop(300));
  await until(() => tel.link.isConnected(), 5_000, 'ARI');
  sim.onOriginate = (endpoint) => ({ kind: o.outcomes[endpoint.replace(/\D/g, '').slice(0, 11)] ?? 'no-answer' });
  const pressed = new Set<string>();
  const answerer = setInterval(() => {
    for (const c of sim.answered) {
      if (pressed.has(c.id) || !c.prompts.some((p) => p.endsWith(o.askedBy))) continue;
      pressed.add(c.id);
      const key = o.keys[c.channel.caller.number.slice(0, 11)];
      if (key) void c.press(key);
    }
  }, 20);
  o.cleanups.push(() => clearInterval(answerer));
  return { sim, tel };
}
