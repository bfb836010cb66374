import { afterEach, describe, expect, it } from 'vitest';
import { Core } from '../../src/core/core.ts';
import { frameId } from '../../src/core/panels.ts';
import { deriveKeys } from '../../src/domain/crypto.ts';
import { cryptoRandom } from '../../src/core/system.ts';
import { makeFixture, seedClient } from '../support/core-fixture.ts';
import type { Fixture } from '../support/core-fixture.ts';

const cleanups: Array<() => void> = [];
afterEach(() => {
  while (cleanups.length) cleanups.pop()?.();
});

function fixture(): Fixture {
  const fx = makeFixture();
  cleanups.push(() => fx.close());
  return fx;
}

const KEY = '00112233445566778899aabbccddeeff';
const burglary = { type: 'alarm', kind: 'burglary', zone: '003', partition: '01', user: null, code: 'E130' };

describe('panel accounts and their messages in the core', () => {
  it('refuses a bad account, key or period and an account of another object, changing nothing', async () => {
    const fx = fixture();
    await seedClient(fx, { codes: ['1234', '5678'] });
    const set = (a: Partial<Parameters<Core['setPanel']>[0]>) => fx.core.setPanel({ objectCode: '1234', account: '12AB', operator: 'op', ...a });
    await expect(set({ account: 'XYZ1' })).rejects.toMatchObject({ code: 'BAD_INPUT' });
    await expect(set({ account: '12' })).rejects.toMatchObject({ code: 'BAD_INPUT' });
    await expect(set({ key: 'abcd' })).rejects.toMatchObject({ code: 'BAD_INPUT' });
    await expect(set({ key: `${KEY}00` })).rejects.toMatchObject({ code: 'BAD_INPUT' });
    await expect(set({ supervisionS: 59 })).rejects.toMatchObject({ code: 'BAD_INPUT' });
    await expect(set({ supervisionS: 7 * 86_400 + 1 })).rejects.toMatchObject({ code: 'BAD_INPUT' });
    await expect(set({ objectCode: '9999' })).rejects.toMatchObject({ code: 'OBJECT_NOT_FOUND' });
    expect(await fx.core.listPanels()).toEqual([]);
    await set({ account: '12ab' });
    await expect(set({ objectCode: '5678' })).rejects.toMatchObject({ code: 'CONFLICT' });
    await expect(fx.core.addObject({ clientId: 1, code: '7777', address: 'x', operator: 'op', panel: { account: '12AB', key: null } })).rejects.toMatchObject({ code: 'CONFLICT' });
    // refused before the object was added
    await expect(fx.core.getObject('7777')).rejects.toMatchObject({ code: 'OBJECT_NOT_FOUND' });
    expect((await fx.core.listPanels()).map((p) => [p.account, p.objectCode])).toEqual([['12AB', '1234']]);
    await expect(fx.core.removePanel({ objectCode: '5678', operator: 'op' })).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it('keeps the key unless given or cleared, seals it, and journals the change without it', async () => {
    const fx = fixture();
    await seedClient(fx);
    const v = await fx.core.setPanel({ objectCode: '1234', account: '12AB', key: KEY.toUpperCase(), supervisionS: 300, operator: 'anna' });
    expect(v).toMatchObject({ account: '12AB', objectCode: '1234', encrypted: true, supervisionS: 300, link: 'up', updatedBy: 'anna' });
    expect(await fx.core.panelKey('12AB')).toEqual({ account: '12AB', objectCode: '1234', key: KEY, unreadable: false });
    // a new period, the key kept; then a new account for the object keeps it too
    await fx.core.setPanel({ objectCode: '1234', account: '12AB', supervisionS: 900, operator: 'anna' });
    await fx.core.setPanel({ objectCode: '1234', account: '34CD', operator: 'anna' });
    expect(await fx.core.panelKey('34CD')).toMatchObject({ key: KEY });
    expect(await fx.core.panelKey('12AB')).toBeNull();
    await fx.core.setPanel({ objectCode: '1234', account: '34CD', key: null, operator: 'anna' });
    expect(await fx.core.panelKey('34CD')).toMatchObject({ key: null, unreadable: false });
    // the period is kept too when not given
    expect((await fx.core.getPanel('1234'))?.supervisionS).toBe(900);
    const sealed = fx.db.prepare('SELECT key_sealed FROM panel_accounts').all();
    expect(JSON.stringify(sealed)).not.toContain(KEY);
    const docs = await fx.core.searchJournal({ action: 'panel-set', limit: 10 });
    expect(docs.map((d) => d.detail)).toEqual([
      'account=34CD encrypted=no supervision=900s',
      'account=34CD encrypted=yes supervision=900s replaces=12AB',
      'account=12AB encrypted=yes supervision=900s',
      'account=12AB encrypted=yes supervision=300s',
    ]);
    expect(JSON.stringify(await fx.core.searchJournal({ limit: 100 }))).not.toMatch(new RegExp(KEY, 'i'));
  });

  it('a key sealed under another service secret is reported unreadable and must be given again', async () => {
    const fx = fixture();
    await seedClient(fx);
    await fx.core.setPanel({ objectCode: '1234', account: '12AB', key: KEY, operator: 'op' });
    const rotated = new Core({ store: fx.store, clock: fx.clock, random: cryptoRandom, keys: deriveKeys('another-secret-0123456789-abcdefghijklmnop'), timeZone: 'Asia/Almaty' });
    expect(await rotated.panelKey('12AB')).toEqual({ account: '12AB', objectCode: '1234', key: null, unreadable: true });
    await expect(rotated.setPanel({ objectCode: '1234', account: '12AB', operator: 'op' })).rejects.toMatchObject({ code: 'CONFLICT' });
    await rotated.setPanel({ objectCode: '1234', account: '12AB', key: KEY, operator: 'op' });
    expect(await rotated.panelKey('12AB')).toMatchObject({ key: KEY, unreadable: false });
  });

  it('records each event of a frame once, as channel panel; an unknown type is kept as trouble; an unknown account records nothing', async () => {
    const fx = fixture();
    await seedClient(fx);
    await fx.core.setPanel({ objectCode: '1234', account: '12AB', operator: 'op' });
    const id = frameId(['', '1', '0042', 'SIA-DCS', 'ts']);
    const msg = { account: '12AB', frameId: id, encrypted: false, events: [burglary, { type: 'odd', kind: null, zone: 'Z1', partition: null, user: null, code: 'QQ' }] };
    const first = await fx.core.recordPanelMessage(msg);
    expect(first.known).toBe(true);
    expect(first.events.map((e) => [e.duplicate, e.row.type, e.row.result, e.row.zone])).toEqual([[false, 'alarm', 'alarm', 3], [false, 'trouble', 'noted', null]]);
    fx.clock.advance(5_000);
    expect(await fx.core.recordPanelMessage(msg)).toMatchObject({ known: true, repeat: true, events: [] });
    expect(fx.db.prepare('SELECT count(*) AS n FROM monitoring_events').get()).toEqual({ n: 2 });
    // another report in between: the old frame is no longer the last one, and counts again (its sequence came round)
    await fx.core.recordPanelMessage({ ...msg, frameId: 'next', events: [burglary] });
    expect(await fx.core.recordPanelMessage(msg)).toMatchObject({ repeat: false });
    // the last report much later is not a repeat either
    fx.clock.advance(10 * 60_000);
    expect(await fx.core.recordPanelMessage(msg)).toMatchObject({ repeat: false });
    expect(fx.db.prepare('SELECT count(*) AS n FROM monitoring_events').get()).toEqual({ n: 7 });
    const docs = await fx.core.searchJournal({ channel: 'panel', limit: 10 });
    expect(docs.slice(-2).map((d) => [d.action, d.auth])).toEqual([['event-trouble', 'dc09-account'], ['event-alarm', 'dc09-account']]);
    expect(docs.find((d) => d.action === 'event-trouble')?.detail).toContain('code=QQ zone-raw=Z1 account=12AB');
    expect(await fx.core.recordPanelMessage({ ...msg, account: '9999', frameId: 'x' })).toEqual({ known: false, repeat: false, objectCode: null, events: [] });
    expect(await fx.core.panelsSeen([{ account: '12AB', atMs: fx.clock.now().getTime() }, { account: '9999', atMs: 0 }])).toEqual(['12AB']);
  });

  it('supervision marks a silent panel lost once, whoever checks; a message brings it back with its SMS', async () => {
    const fx = fixture();
    await seedClient(fx);
    await fx.core.setPanel({ objectCode: '1234', account: '12AB', supervisionS: 60, operator: 'op' });
    await fx.core.operatorRequest({ action: 'arm', objectCode: '1234', operator: 'op' });
    fx.clock.advance(60_000);
    expect(await fx.core.checkPanelSupervision()).toBe(0);
    fx.clock.advance(20_000);
    const other = new Core({ store: fx.store, clock: fx.clock, random: cryptoRandom, keys: deriveKeys('x'.repeat(40)), timeZone: 'Asia/Almaty', instance: 'b' });
    expect(await Promise.all([fx.core.checkPanelSupervision(), other.checkPanelSupervision()])).toEqual(expect.arrayContaining([1, 0]));
    expect((await fx.core.getObject('1234')).status).toBe('no-link');
    expect((await fx.core.getPanel('1234'))?.link).toBe('lost');
    fx.clock.advance(1_000);
    await fx.core.recordPanelMessage({ account: '12AB', frameId: 'f1', encrypted: false, events: [{ type: 'test', kind: null, zone: null, partition: null, user: null, code: 'E602' }] });
    expect((await fx.core.getObject('1234')).status).toBe('armed');
    const kinds = (await fx.core.listOutbox({ limit: 10 })).map((m) => m.kind);
    expect(kinds.filter((k) => k.startsWith('link-')).sort()).toEqual(['link-lost', 'link-restored']);
    const actions = (await fx.core.searchJournal({ channel: 'panel', limit: 10 })).map((d) => d.action);
    expect(actions).toEqual(['event-test', 'event-link-restored', 'event-link-lost']);
  });
});
