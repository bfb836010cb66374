/**
 * The SMSC simulator in a process of its own, for benchmarks that measure the CPU time of the
 * service's process alone. Quiet; talks over the IPC channel: sends { url } once listening,
 * answers 'count' with { submits, cpu } (submits received so far, its own CPU time in µs),
 * forgets what it received on 'reset', answers each submit_sm after argv[2] ms, and ends on 'stop' or when its parent goes away.
 */
import { SmscSim } from '../test/sim/smsc.ts';

// argv[2]: how late each submit_sm is answered, in ms (0: at once)
const sim = await SmscSim.start({ systemId: 'zhedel', password: 'secret', behaviour: { responseDelayMs: Number(process.argv[2] ?? 0) || 0 } });
const send = (m: object): void => {
  process.send?.(m);
};
send({ url: sim.url });
process.on('message', (m) => {
  if (m === 'count') {
    const cpu = process.cpuUsage();
    send({ submits: sim.submits.length, cpu: cpu.user + cpu.system });
  } else if (m === 'reset') {
    sim.submits.splice(0);
    send({ submits: 0 });
  } else if (m === 'stop') {
    void sim.close().finally(() => process.exit(0));
  }
});
process.on('disconnect', () => {
  void sim.close().finally(() => process.exit(0));
});
