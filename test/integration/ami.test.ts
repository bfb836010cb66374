import { afterEach, describe, expect, it } from 'vitest';
import { AmiMonitor } from '../../src/telephony/ami.ts';
import { AmiSim } from '../sim/ami.ts';
import { quietLogger, until } from '../support/sms-harness.ts';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()?.();
});

describe('AMI health', () => {
  it('logs in, reports the trunk registration, notices a lost registration and reconnects', async () => {
    const sim = await AmiSim.start();
    cleanups.push(() => sim.close());
    const ami = new AmiMonitor({ host: '127.0.0.1', port: sim.port, user: 'zhedel', secret: 'secret', logger: quietLogger, pollMs: 100, retryDelaysMs: [100] });
    ami.start();
    cleanups.push(() => ami.stop());
    const check = ami.readiness();
    await until(() => check.check().detail?.includes('trunk'), 3_000, 'registered');
    expect(check.check()).toEqual({ ok: true, detail: 'trunk: Registered' });
    sim.registrations.set('trunk', 'Rejected');
    await until(() => !check.check().ok, 3_000, 'registration lost');
    expect(check.check().detail).toBe('trunk: Rejected');
    sim.registrations.set('trunk', 'Registered');
    sim.dropAll();
    await until(() => !ami.isConnected(), 2_000, 'disconnected');
    await until(() => ami.isConnected() && check.check().ok, 5_000, 'reconnected');
    expect(sim.actions.filter((a) => a.action?.toLowerCase() === 'login').length).toBeGreaterThanOrEqual(2);
  });

  it('a refused login is reported, not thrown', async () => {
    const sim = await AmiSim.start('zhedel', 'other');
    cleanups.push(() => sim.close());
    const ami = new AmiMonitor({ host: '127.0.0.1', port: sim.port, user: 'zhedel', secret: 'secret', logger: quietLogger, retryDelaysMs: [100] });
    ami.start();
    cleanups.push(() => ami.stop());
    await until(() => sim.actions.length >= 2, 3_000, 'login tried twice');
    expect(ami.readiness().check().ok).toBe(false);
  });

  it('nothing listening: keeps retrying quietly', async () => {
    const ami = new AmiMonitor({ host: '127.0.0.1', port: 1, user: 'zhedel', secret: 'secret', logger: quietLogger, retryDelaysMs: [50] });
    ami.start();
    cleanups.push(() => ami.stop());
    await new Promise((r) => setTimeout(r, 300));
    expect(ami.readiness().check()).toMatchObject({ ok: false });
  });
});
