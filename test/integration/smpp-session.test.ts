import { afterEach, describe, expect, it } from 'vitest';
import { SmppSession } from '../../src/sms/session.ts';
import type { SessionOptions, SubmitParams } from '../../src/sms/session.ts';
import { CMD, encodePdu, SmscSim } from '../sim/smsc.ts';
import { quietLogger, until } from '../support/sms-harness.ts';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()?.();
});

async function rig(o: Partial<SessionOptions> = {}, sim?: Parameters<typeof SmscSim.start>[0]): Promise<{ sim: SmscSim; session: SmppSession }> {
  const s = await SmscSim.start({ systemId: 'zhedel', password: 'secret', ...sim });
  cleanups.push(() => s.close());
  const session = new SmppSession({ url: s.url, systemId: 'zhedel', password: 'secret', logger: quietLogger, reconnectDelaysMs: [50], ...o });
  cleanups.push(() => session.stop(500));
  session.start();
  await until(() => session.isBound(), 5_000, 'bound');
  return { sim: s, session };
}

const part = (text: string, to = '77011234567'): SubmitParams => ({
  source: { ton: 5, npi: 0, addr: 'ZHEDEL' }, destination: { ton: 1, npi: 1, addr: to }, dataCoding: 3, esmClass: 0,
  shortMessage: Buffer.from(text, 'latin1'), registeredDelivery: 1,
});

describe('the SMPP session on its own', () => {
  it('answers commands it does not know with generic_nack ESME_RINVCMDID, data_sm too; alert_notification gets nothing', async () => {
    const { sim } = await rig();
    sim.writeRaw(encodePdu(0x00000099, 0, 77));
    sim.writeRaw(encodePdu(0x00000103, 0, 78, Buffer.alloc(20)));
    sim.writeRaw(encodePdu(0x00000102, 0, 79, Buffer.alloc(8)));
    await sim.waitFor(() => sim.pdusIn.filter((p) => p.commandId === CMD.generic_nack).length === 2, 3_000, 'two nacks');
    await new Promise((r) => setTimeout(r, 100));
    expect(sim.pdusIn.filter((p) => p.commandId === CMD.generic_nack).map((p) => [p.sequence, p.status])).toEqual([[77, 3], [78, 3]]);
  });

  it('a command_length out of bounds drops the link, and the session binds again', async () => {
    const { sim, session } = await rig();
    expect(sim.binds).toBe(1);
    sim.writeRaw(Buffer.from([0x00, 0x10, 0x00, 0x00, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 1]));
    await sim.waitFor(() => sim.binds === 2, 5_000, 'bound again');
    await until(() => session.isBound(), 3_000, 'bound');
    sim.writeRaw(Buffer.from([0, 0, 0, 8, 0, 0, 0, 0x15, 0, 0, 0, 0, 0, 0, 0, 2]));
    await sim.waitFor(() => sim.binds === 3, 5_000, 'bound again after a length of 8');
  });

  it('answers every submit in its own way: accepted with its id, nacked, refused at once, timed out, never built', async () => {
    const { sim, session } = await rig({ responseTimeoutMs: 200 });
    expect(await session.submit(part('one'))).toEqual({ status: 'accepted', messageId: sim.submits[0]?.messageId });
    sim.behave({ nackNext: 1 });
    expect(await session.submit(part('two'))).toEqual({ status: 'rejected', commandStatus: 0x08, permanent: false });
    sim.behave({ errorNext: 1, errorStatus: 0x0b });
    expect(await session.submit(part('three'))).toEqual({ status: 'rejected', commandStatus: 0x0b, permanent: true });
    sim.behave({ swallowSubmits: true });
    const t0 = Date.now();
    expect(await session.submit(part('four'))).toEqual({ status: 'timeout' });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(190);
    sim.behave({ swallowSubmits: false });
    expect(await session.submit(part('five', '1'.repeat(21)))).toEqual({ status: 'rejected', commandStatus: 0x08, permanent: true });
    expect(sim.submits.map((s) => s.text)).toEqual(['one', 'two', 'three', 'four']);
    expect(session.stats()).toMatchObject({ submitted: 5, accepted: 1, rejected: 2, timeouts: 1, inFlight: 0, queued: 0 });
  });

  it('sends a window written in one turn, keeps to the window, and settles everything when the link drops', async () => {
    const { sim, session } = await rig({ window: 5 }, { behaviour: { swallowSubmits: true } });
    const outcomes = Array.from({ length: 8 }, (_, i) => session.submit(part(`m${i}`)));
    await sim.waitFor(() => sim.submits.length === 5, 3_000, 'a full window');
    await new Promise((r) => setTimeout(r, 100));
    expect(sim.submits).toHaveLength(5);
    expect(session.stats()).toMatchObject({ inFlight: 5, queued: 3 });
    sim.dropAll();
    // written and unanswered: unknown; what waited in the queue goes out on the next link
    sim.behave({ swallowSubmits: false });
    const settled = await Promise.all(outcomes);
    expect(settled.slice(0, 5)).toEqual(Array.from({ length: 5 }, () => ({ status: 'unknown' })));
    expect(settled.slice(5).map((o) => o.status)).toEqual(['accepted', 'accepted', 'accepted']);
  });

  it('stops: what waits is not sent, the link is unbound', async () => {
    const { sim, session } = await rig({ window: 1 }, { behaviour: { responseDelayMs: 100 } });
    const a = session.submit(part('first'));
    const b = session.submit(part('second'));
    await sim.waitFor(() => sim.submits.length === 1, 3_000, 'the first submit');
    await session.stop(2_000);
    expect(await a).toMatchObject({ status: 'accepted' });
    expect(await b).toEqual({ status: 'not-sent' });
    expect(sim.pdusIn.some((p) => p.commandId === CMD.unbind)).toBe(true);
    expect(await session.submit(part('third'))).toEqual({ status: 'not-sent' });
  });
});
