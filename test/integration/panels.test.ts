import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.ts';
import { createLogger } from '../../src/logger.ts';
import { startService } from '../../src/main.ts';
import type { RunningService } from '../../src/main.ts';
import { PanelGateway } from '../../src/panels/gateway.ts';
import { PanelSimulator } from '../sim/panel.ts';
import { SmscSim } from '../sim/smsc.ts';
import { zhedel } from '../support/cli.ts';
import { TEST_SECRET, TestClock, tempDir } from '../support/core-fixture.ts';
import { quietLogger, until } from '../support/sms-harness.ts';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()?.();
});

const KEY = '000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f';

interface Rig {
  svc: RunningService;
  smsc: SmscSim;
  env: Record<string, string>;
  port: number;
  logs: () => string;
  db: () => Database.Database;
  panel: (o: { account: string; key?: string; transport?: 'tcp' | 'udp' }) => PanelSimulator;
}

async function rig(o: { clock?: TestClock } = {}): Promise<Rig> {
  const dir = tempDir();
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const smsc = await SmscSim.start();
  cleanups.push(() => smsc.close());
  const env = {
    ZHEDEL_DB: join(dir, 'zhedel.db'), ZHEDEL_SECRET: TEST_SECRET, ZHEDEL_HTTP_PORT: '0', ZHEDEL_SMPP_URL: smsc.url,
    ZHEDEL_ARI_URL: 'http://127.0.0.1:1', ZHEDEL_AMI_PORT: '1', ZHEDEL_DC09_PORT: '0', ZHEDEL_DC09_HOST: '127.0.0.1',
  };
  let text = '';
  const sink = new Writable({
    write(chunk, _e, cb) {
      text += String(chunk);
      cb();
    },
  });
  const svc = await startService(loadConfig(env), createLogger('debug', sink), o.clock ? { clock: o.clock } : {});
  cleanups.push(() => svc.stop('test'));
  const port = svc.panels!.address().port;
  let handle: Database.Database | null = null;
  cleanups.push(() => {
    handle?.close();
  });
  return {
    svc, smsc, env, port, logs: () => text,
    db: () => (handle ??= new Database(env.ZHEDEL_DB, { readonly: true })),
    panel: (p) => {
      const sim = new PanelSimulator({ port, host: '127.0.0.1', transport: p.transport ?? 'tcp', account: p.account, ...(p.key ? { key: p.key } : {}) });
      cleanups.push(() => sim.close());
      return sim;
    },
  };
}

async function seed(r: Rig, o: { code?: string; account: string; key?: string | null; supervisionS?: number; callout?: boolean }): Promise<number> {
  const { core } = r.svc.ctx;
  const client = await core.addClient({ name: 'Shop Owner', balance: 0, operator: 'op' });
  await core.addObject({
    clientId: client.id, code: o.code ?? '4711', address: 'Almaty, Abay 1', calloutEnabled: o.callout ?? false, operator: 'op',
    panel: { account: o.account, key: o.key ?? null, ...(o.supervisionS ? { supervisionS: o.supervisionS } : {}) },
  });
  await core.addNumber({ clientId: client.id, phone: '+77015550101', objectCodes: null, signed: true, operator: 'op' });
  return client.id;
}

describe('alarm panels over SIA DC-09 into the service', () => {
  it('an encrypted Contact ID burglary is acknowledged, sets the alarm, reaches the client by SMS at the SMSC, and is journalled as channel panel; its repeat changes nothing', async () => {
    const r = await rig();
    await seed(r, { account: '12AB', key: KEY });
    await r.svc.ctx.core.operatorRequest({ action: 'arm', objectCode: '4711', operator: 'op' });
    const panel = r.panel({ account: '12AB', key: KEY });
    const reply = await panel.send({ token: 'ADM-CID', data: '#12AB|1130 01 003' });
    expect(reply).toMatchObject({ token: 'ACK', encrypted: true, account: '12AB', crcOk: true });
    expect((await r.svc.ctx.core.getObject('4711')).status).toBe('alarm');
    const texts = await until(() => (r.smsc.textsTo('77015550101').length > 0 ? r.smsc.textsTo('77015550101') : null), 10_000, 'the alarm SMS at the SMSC');
    expect(texts[0]).toMatch(/^ТРЕВОГА 4711 .*: проникновение, зона 3, \d\d:\d\d$/);
    const journal = await r.svc.ctx.core.searchJournal({ objectCode: '4711', limit: 20 });
    const ev = journal.find((j) => j.action === 'event-alarm');
    expect(ev).toMatchObject({ channel: 'panel', auth: 'dc09-aes', outcome: 'accepted', reason: 'alarm' });
    expect(ev?.detail).toContain('code=E130');
    expect(ev?.detail).toContain('partition=01');
    // the same frame again (its ACK lost): acknowledged, not processed twice
    const again = await panel.exchange(Buffer.from(panel.message({ token: 'ADM-CID', data: '#12AB|1130 01 003', replay: true })));
    expect(again.token).toBe('ACK');
    expect(r.db().prepare("SELECT count(*) AS n FROM monitoring_events WHERE type = 'alarm'").get()).toEqual({ n: 1 });
    // the key reached neither the log nor the database in clear
    expect(r.logs()).not.toContain(KEY);
    const stored = r.db().prepare('SELECT key_sealed FROM panel_accounts').get() as { key_sealed: string };
    expect(stored.key_sealed).not.toContain(KEY);
    expect(stored.key_sealed.length).toBeGreaterThan(KEY.length);
    // the receiver's counters on /metrics
    const metrics = await (await fetch(`${r.svc.address}/metrics`)).text();
    expect(metrics).toMatch(/^zhedel_dc09_frames\{answer="ack"\} 2$/m);
    expect(metrics).toMatch(/^zhedel_dc09_connections 1$/m);
  });

  it('a repeat reaching another receiver on the same database is acknowledged and recorded once', async () => {
    const r = await rig();
    await seed(r, { account: '5555' });
    const other = new PanelGateway({ core: r.svc.ctx.core, logger: quietLogger, host: '127.0.0.1', port: 0, windowMs: 20_000 });
    await other.start();
    cleanups.push(() => other.stop());
    const a = r.panel({ account: '5555' });
    const frame = a.message({ token: 'ADM-CID', data: '#5555|1130 01 007' });
    expect((await a.exchange(frame)).token).toBe('ACK');
    const b = new PanelSimulator({ port: other.address().port, host: '127.0.0.1', transport: 'tcp', account: '5555' });
    cleanups.push(() => b.close());
    expect((await b.exchange(frame)).token).toBe('ACK');
    // sent again with the same sequence but a new timestamp, as panels retransmit
    const later = a.message({ token: 'ADM-CID', data: '#5555|1130 01 007', replay: true, clockSkewMs: 3_000 });
    expect(later.equals(frame)).toBe(false);
    expect((await b.exchange(later)).token).toBe('ACK');
    expect(r.db().prepare("SELECT count(*) AS n FROM monitoring_events WHERE type = 'alarm'").get()).toEqual({ n: 1 });
    // the next report is recorded
    expect((await a.send({ token: 'ADM-CID', data: '#5555|3130 01 007' })).token).toBe('ACK');
    expect(r.db().prepare("SELECT count(*) AS n FROM monitoring_events WHERE type = 'restore'").get()).toEqual({ n: 1 });
  });

  it('SIA DC-03 over UDP: closing and opening by a user arm and disarm the object; an unknown code is kept as trouble with its raw code', async () => {
    const r = await rig();
    await seed(r, { account: '0777' });
    const panel = r.panel({ account: '0777', transport: 'udp' });
    expect((await panel.send({ token: 'SIA-DCS', data: '#0777|Nri1/CL5' })).token).toBe('ACK');
    expect((await r.svc.ctx.core.getObject('4711')).status).toBe('armed');
    expect((await panel.send({ token: 'SIA-DCS', data: '#0777|Nri1/OP5' })).token).toBe('ACK');
    expect((await r.svc.ctx.core.getObject('4711')).status).toBe('disarmed');
    expect((await panel.send({ token: 'SIA-DCS', data: '#0777|NZZ12' })).token).toBe('ACK');
    const journal = await r.svc.ctx.core.searchJournal({ objectCode: '4711', limit: 20 });
    expect(journal.filter((j) => j.channel === 'panel').map((j) => j.action)).toEqual(['event-trouble', 'event-disarm', 'event-arm']);
    expect(journal.find((j) => j.action === 'event-trouble')?.detail).toContain('code=ZZ');
    expect(journal.find((j) => j.action === 'event-arm')?.detail).toContain('user=5');
  });

  it('a clear frame from an account that has a key is refused (DUH) and changes nothing', async () => {
    const r = await rig();
    await seed(r, { account: '12AB', key: KEY });
    const clear = r.panel({ account: '12AB' });
    expect((await clear.send({ token: 'ADM-CID', data: '#12AB|1130 01 003' })).token).toBe('DUH');
    expect((await r.svc.ctx.core.getObject('4711')).status).toBe('disarmed');
    expect(r.db().prepare('SELECT count(*) AS n FROM monitoring_events').get()).toEqual({ n: 0 });
  });

  it('an unknown account is acknowledged and put before the operators once, not once per message', async () => {
    const r = await rig();
    await seed(r, { account: '1111' });
    const stranger = r.panel({ account: '9999' });
    expect((await stranger.send({ token: 'ADM-CID', data: '#9999|1130 01 003' })).token).toBe('ACK');
    expect((await stranger.send({ token: 'ADM-CID', data: '#9999|1130 01 004' })).token).toBe('ACK');
    const alerts = await r.svc.ctx.core.listAlerts();
    expect(alerts.map((a) => a.kind)).toEqual(['panel-unknown']);
    expect(alerts[0]?.detail).toContain('account 9999');
    expect(alerts[0]?.detail).toContain('E130');
    expect(r.db().prepare('SELECT count(*) AS n FROM monitoring_events').get()).toEqual({ n: 0 });
    expect(r.svc.panels!.stats.unknownSuppressed).toBe(1);
  });

  it('an account registered from the command line while the service runs is served at once', async () => {
    const r = await rig();
    const client = await r.svc.ctx.core.addClient({ name: 'Late Client', balance: 0, operator: 'op' });
    const added = await zhedel(['object', 'add', '--client', String(client.id), '--code', '5120', '--address', 'Astana', '--panel-account', 'a1b2', '--dc09-key', KEY.slice(0, 32)], r.env, 60_000);
    expect(added.code).toBe(0);
    expect(added.stdout).toContain('panel A1B2  object 5120  encrypted  supervision 600 s');
    expect(added.stdout).not.toContain(KEY.slice(0, 32));
    const panel = r.panel({ account: 'A1B2', key: KEY.slice(0, 32) });
    expect((await panel.send({ token: 'ADM-CID', data: '#A1B2|1110 00 001' })).token).toBe('ACK');
    expect((await r.svc.ctx.core.getObject('5120')).status).toBe('alarm');
    const listed = await zhedel(['panel', 'list', '--json'], r.env, 60_000);
    expect(JSON.parse(listed.stdout)).toEqual([expect.objectContaining({ account: 'A1B2', objectCode: '5120', encrypted: true, link: 'up' })]);
    expect(listed.stdout).not.toContain(KEY.slice(0, 32));
  }, 120_000);

  it('supervision: a panel silent past its period goes to "no link" with an SMS and an alert; its next link test brings it back', async () => {
    const clock = new TestClock('real');
    const r = await rig({ clock });
    await seed(r, { account: '4242', supervisionS: 60 });
    await r.svc.ctx.core.operatorRequest({ action: 'arm', objectCode: '4711', operator: 'op' });
    const panel = r.panel({ account: '4242' });
    expect((await panel.send({ token: 'NULL' })).token).toBe('ACK');
    await r.svc.panels!.flush();
    expect(await r.svc.ctx.core.checkPanelSupervision()).toBe(0);
    clock.advance(70_000);
    // within the period plus its grace: still up
    expect(await r.svc.ctx.core.checkPanelSupervision()).toBe(0);
    clock.advance(10_000);
    expect(await r.svc.ctx.core.checkPanelSupervision()).toBe(1);
    expect(await r.svc.ctx.core.checkPanelSupervision()).toBe(0);
    expect((await r.svc.ctx.core.getObject('4711')).status).toBe('no-link');
    expect((await r.svc.ctx.core.listAlerts()).map((a) => a.kind)).toEqual(['no-link']);
    await until(() => r.smsc.textsTo('77015550101').some((t) => t.includes('нет связи')), 10_000, 'the no-link SMS');
    // the panel is heard again (its clock follows the receiver's)
    // an empty write first (as the timer does when nothing came): later writes still happen
    await r.svc.panels!.flush();
    expect((await panel.send({ token: 'NULL', clockSkewMs: 80_000 })).token).toBe('ACK');
    // written by the receiver's own timer, within its 2 s
    await until(async () => (await r.svc.ctx.core.getObject('4711')).status === 'armed', 10_000, 'the link restored by the timed write');
    await until(() => r.smsc.textsTo('77015550101').some((t) => t.includes('восстановлена')), 10_000, 'the link-restored SMS');
    const panels = await r.svc.ctx.core.listPanels();
    expect(panels[0]).toMatchObject({ account: '4242', link: 'up', lostAt: null });
    const journal = await r.svc.ctx.core.searchJournal({ objectCode: '4711', limit: 20 });
    expect(journal.filter((j) => j.channel === 'panel').map((j) => j.action)).toEqual(['event-link-restored', 'event-link-lost']);
  }, 60_000);

  it('garbage and oversized input on one connection never stops another panel from being served', async () => {
    const r = await rig();
    await seed(r, { account: '3131' });
    const { connect } = await import('node:net');
    const junk = connect(r.port, '127.0.0.1');
    cleanups.push(() => {
      junk.destroy();
    });
    await new Promise<void>((resolve) => junk.once('connect', () => resolve()));
    const closed = new Promise<void>((resolve) => junk.once('close', () => resolve()));
    junk.on('error', () => undefined);
    junk.write(Buffer.concat([Buffer.from('\n'), Buffer.alloc(4096, 0x41)]));
    await closed;
    const panel = r.panel({ account: '3131' });
    expect((await panel.send({ token: 'ADM-CID', data: '#3131|1602 00 000' })).token).toBe('ACK');
    expect(r.svc.panels!.stats.droppedConnections).toBeGreaterThanOrEqual(1);
  });
});
