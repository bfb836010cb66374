import { existsSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import { chromium } from 'playwright-core';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Access } from '../../src/core/access.ts';
import { cryptoRandom } from '../../src/core/system.ts';
import { deriveKeys } from '../../src/domain/crypto.ts';
import { buildApp } from '../../src/http/build-app.ts';
import { createLogger } from '../../src/logger.ts';
import { EventHub } from '../../src/main.ts';
import { makeFixture, seedClient, TEST_SECRET } from '../support/core-fixture.ts';
import type { Fixture } from '../support/core-fixture.ts';

/** Debian's chromium, never a downloaded browser; .ci/run installs it. */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

let fx: Fixture;
let app: FastifyInstance;
let browser: Browser;
let base: string;
let operatorToken: string;
let adminToken: string;
/** An operator of its own: each operator may have only 3 event streams open, and earlier cases leave their pages open. */
let viewerToken: string;

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`headless Chromium is needed at ${CHROMIUM} (Debian package chromium)`);
  const hub = new EventHub();
  fx = makeFixture({ realClock: true, events: hub });
  const access = new Access({ store: fx.store, clock: fx.clock, random: cryptoRandom, keys: deriveKeys(TEST_SECRET), core: fx.core });
  app = await buildApp({ logger: createLogger('silent'), checks: [], core: fx.core, access, hub, rateLimitPerMinute: 0 });
  base = await app.listen({ host: '127.0.0.1', port: 0 });
  operatorToken = (await access.addOperator({ name: 'Console Operator', role: 'operator' })).token;
  adminToken = (await access.addOperator({ name: 'Console Admin', role: 'admin' })).token;
  viewerToken = (await access.addOperator({ name: 'Panel Viewer', role: 'operator' })).token;
  await seedClient(fx, { lang: 'ru' });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await app?.close();
  fx?.close();
});

/** A console page with the token sent in; dialogs accepted. */
async function consoleAs(token: string): Promise<Page> {
  const page = await browser.newPage();
  page.setDefaultTimeout(5_000);
  page.on('dialog', (d) => void d.accept());
  await page.goto(`${base}/console`);
  await page.fill('#token', token);
  await page.click('#loginForm button');
  return page;
}

describe('web chat and operator console in headless Chromium', () => {
  it('signs in with a code, arms, disarms with the code, sees the status live; the console blocks the number and the chat session dies', async () => {
    const chat = await browser.newPage();
    await chat.goto(`${base}/chat`);
    await chat.fill('#phone', '8 701 123 45 67');
    await chat.click('#phoneForm button');
    await chat.waitForSelector('#codeForm:not([hidden])');
    await chat.fill('#code', await fx.lastCode('+77011234567'));
    await chat.click('#codeForm button');
    await chat.waitForSelector('#chat:not([hidden])');

    const send = async (text: string): Promise<void> => {
      const count = await chat.locator('.msg.bot').count();
      await chat.fill('#text', text);
      await chat.click('#sendForm button');
      await chat.locator('.msg.bot').nth(count).waitFor();
    };
    await send('СТАТУС');
    expect(await chat.locator('.msg.bot').last().textContent()).toMatch(/^1234: снят с охраны/);
    await send('охрана');
    expect(await chat.locator('.msg.bot').last().textContent()).toBe('Объект 1234 поставлен под охрану.');
    // the live event from the stream
    await chat.waitForSelector('.msg.event:has-text("под охраной")', { timeout: 2_000 });
    fx.clock.advance(61_000);
    await send('снять 1234');
    expect(await chat.locator('.msg.bot').last().textContent()).toContain('Код подтверждения отправлен');
    await send(await fx.lastCode('+77011234567'));
    expect(await chat.locator('.msg.bot').last().textContent()).toBe('Объект 1234 снят с охраны.');
    expect((await fx.core.getObject('1234')).status).toBe('disarmed');
    if (process.env.E2E_SCREENSHOTS) await chat.screenshot({ path: `${process.env.E2E_SCREENSHOTS}/chat.png` });

    const consolePage = await browser.newPage();
    consolePage.on('dialog', (d) => void d.accept());
    await consolePage.goto(`${base}/console`);
    await consolePage.fill('#token', operatorToken);
    await consolePage.click('#loginForm button');
    await consolePage.waitForSelector('#obj-1234');
    expect(await consolePage.locator('#obj-1234 td').nth(3).textContent()).toBe('снят с охраны');
    // a change made elsewhere shows up live on the console
    await fx.core.operatorRequest({ action: 'arm', objectCode: '1234', operator: 'someone' });
    await consolePage.locator('#obj-1234 td:nth-child(4) span.armed').waitFor({ timeout: 3_000 });
    await consolePage.waitForSelector('button[data-phone="+77011234567"]');
    await consolePage.click('button[data-phone="+77011234567"]');
    await consolePage.waitForSelector('#numbers .blocked');
    if (process.env.E2E_SCREENSHOTS) await consolePage.screenshot({ path: `${process.env.E2E_SCREENSHOTS}/console.png`, fullPage: true });

    // the chat's stream is told; the page goes back to sign-in
    await chat.waitForSelector('#signin:not([hidden])', { timeout: 5_000 });
    expect(await chat.textContent('#signinError')).toContain('Сеанс завершён');
    expect((await fx.core.searchJournal({ action: 'number-block' }))[0]).toMatchObject({ operator: 'Console Operator' });
  });

  it('the console shows requests held for confirmation live, confirms one, and holds a document waiting for its code', async () => {
    await seedClient(fx, { phone: '+77021234567', codes: ['4711'], name: 'Held Client' });
    await fx.core.operatorRequest({ action: 'arm', objectCode: '4711', operator: 'op' });
    await fx.core.setCompanyRules({ rules: { callback: { always: true } }, operator: 'admin' });
    try {
      const page = await browser.newPage();
      await page.goto(`${base}/console`);
      await page.fill('#token', operatorToken);
      await page.click('#loginForm button');
      await page.waitForSelector('#obj-4711');
      // a disarm by SMS whose code was right: it appears in the panel by itself
      await fx.core.request({ channel: 'sms', phone: '+77021234567', action: 'disarm', objectCode: '4711' });
      const held = await fx.core.confirm({ channel: 'sms', phone: '+77021234567', code: await fx.lastCode('+77021234567') });
      expect(held.kind).toBe('held');
      const id = (held as { holdId: number }).holdId;
      const confirm = page.locator(`button[data-hold="${id}"][data-decision="confirm"]`);
      await confirm.waitFor({ timeout: 3_000 });
      expect(await page.locator(`#hold-${id} td`).nth(6).textContent()).toBe('ждёт подтверждения');
      await confirm.click();
      await page.locator(`#hold-${id} td.hold-confirmed`).waitFor({ timeout: 3_000 });
      await page.locator('#obj-4711 td:nth-child(4) span.disarmed').waitFor({ timeout: 3_000 });
      expect((await fx.core.getHold(id)).decidedBy).toBe('Console Operator');
      // a disarm waiting for its code is held from the journal
      await fx.core.setCompanyRules({ rules: { callback: { always: false } }, operator: 'admin' });
      await fx.core.operatorRequest({ action: 'arm', objectCode: '4711', operator: 'op' });
      fx.clock.advance(61_000);
      const r = await fx.core.request({ channel: 'app', phone: '+77021234567', action: 'disarm', objectCode: '4711' });
      const doc = (r as { challengeId: string }).challengeId;
      await page.reload();
      await page.click(`button[data-document="${doc}"]`);
      const row = page.locator('#holds tr', { hasText: 'оператор' });
      await row.waitFor({ timeout: 3_000 });
      expect(await row.locator('td').nth(6).textContent()).toBe('ждёт код');
      if (process.env.E2E_SCREENSHOTS) await page.screenshot({ path: `${process.env.E2E_SCREENSHOTS}/console-holds.png`, fullPage: true });
    } finally {
      await fx.core.setCompanyRules({ rules: { callback: { always: false } }, operator: 'admin' });
    }
  });

  it('a duress disarm shows on the console at once as a red alert, acknowledged with the operator\'s name', async () => {
    await seedClient(fx, { phone: '+77031234567', codes: ['8080'], name: 'Duress Client' });
    const clientId = (await fx.core.identify('+77031234567')).client?.id as number;
    await fx.core.setDuressCode({ clientId, code: '5827', signed: true, operator: 'op' });
    await fx.core.operatorRequest({ action: 'arm', objectCode: '8080', operator: 'op' });
    const page = await browser.newPage();
    await page.goto(`${base}/console`);
    await page.fill('#token', operatorToken);
    await page.click('#loginForm button');
    await page.waitForSelector('#obj-8080');
    await fx.core.request({ channel: 'sms', phone: '+77031234567', action: 'disarm', objectCode: '8080' });
    expect(await fx.core.confirm({ channel: 'sms', phone: '+77031234567', code: '5827' })).toMatchObject({ kind: 'done', changed: true });
    const row = page.locator('#alerts tr.alert-duress', { hasText: '8080' });
    await row.waitFor({ timeout: 3_000 });
    expect(await row.locator('td').nth(2).textContent()).toBe('ПРИНУЖДЕНИЕ (код под давлением)');
    await row.locator('button').click();
    await row.waitFor({ state: 'detached', timeout: 3_000 });
    expect((await fx.core.listAlerts(false)).find((a) => a.kind === 'duress' && a.objectCode === '8080')?.acknowledgedBy).toBe('Console Operator');
  });

  it('the console shows, edits and clears an object\'s schedule and its exceptions; a bad week is refused and changes nothing', async () => {
    const page = await consoleAs(operatorToken);
    await page.waitForSelector('#scheduleObject option[value="1234"]', { state: 'attached' });
    await page.waitForSelector('#sd-arm-1');
    expect(await page.textContent('#scheduleState')).toContain('Графика нет');

    for (let d = 1; d <= 5; d++) {
      await page.fill(`#sd-open-${d}`, '07:00');
      await page.fill(`#sd-arm-${d}`, '20:00');
    }
    await page.fill('#sd-arm-6', '22:00');
    await page.uncheck('#scheduleSms');
    await page.click('#scheduleSave');
    await page.waitForSelector('#scheduleState:has-text("Console Operator")');
    const saved = await fx.core.getSchedule('1234');
    expect(saved).toMatchObject({ notifyOffSchedule: false, updatedBy: 'Console Operator' });
    expect(saved!.days).toEqual([
      ...[1, 2, 3, 4, 5].map((weekday) => ({ weekday, openFrom: '07:00', armBy: '20:00' })), { weekday: 6, openFrom: null, armBy: '22:00' },
    ]);

    // not-before later than armed-by: refused, shown, nothing changed
    await page.fill('#sd-open-1', '21:00');
    await page.click('#scheduleSave');
    await page.waitForSelector('#scheduleError:has-text("earlier")');
    expect((await fx.core.getSchedule('1234'))!.days[0]).toEqual({ weekday: 1, openFrom: '07:00', armBy: '20:00' });

    await page.fill('#exDate', '2026-12-31');
    await page.check('#exClosed');
    await page.fill('#exNote', 'Новый год');
    await page.click('#exceptionForm button');
    await page.waitForSelector('#scheduleExceptions tr[data-date="2026-12-31"]');
    expect(await page.locator('#scheduleExceptions tr[data-date="2026-12-31"] td').nth(1).textContent()).toBe('выходной');
    expect((await fx.core.getSchedule('1234'))!.exceptions).toEqual([{ date: '2026-12-31', closed: true, armBy: null, openFrom: null, note: 'Новый год' }]);
    await page.click('#scheduleExceptions tr[data-date="2026-12-31"] button');
    await page.waitForSelector('#scheduleExceptions tr[data-date="2026-12-31"]', { state: 'detached' });
    expect((await fx.core.getSchedule('1234'))!.exceptions).toEqual([]);

    await page.click('#scheduleClear');
    await page.waitForSelector('#scheduleState:has-text("Графика нет")');
    expect(await fx.core.getSchedule('1234')).toBeNull();
    expect((await fx.core.searchJournal({ objectCode: '1234', channel: 'operator', limit: 10 })).filter((d) => d.operator === 'Console Operator').map((d) => d.action))
      .toEqual(expect.arrayContaining(['schedule-set', 'schedule-exception-add', 'schedule-exception-remove', 'schedule-clear']));
  });

  it('the calls tab lists calls with what was done and how they ended, alarm call-outs with their results, and filters them', async () => {
    const c = fx.core;
    await c.callStarted({ id: 'web-in-1', direction: 'in', purpose: 'client', phone: '87011234567', objectCode: '1234' });
    await c.callEnded({ id: 'web-in-1', outcome: 'goodbye', actions: ['status 1234: armed', 'disarm 1234: code sent', 'disarm 1234: done'] });
    await c.callStarted({ id: 'web-co-1', direction: 'out', purpose: 'alarm', phone: '+77051112233', objectCode: '5555', eventId: 42, round: 1 });
    await c.callEnded({ id: 'web-co-1', outcome: 'no-answer' });
    await c.callStarted({ id: 'web-co-2', direction: 'out', purpose: 'alarm', phone: '+77011234567', objectCode: '5555', eventId: 42, round: 1 });
    await c.callEnded({ id: 'web-co-2', outcome: 'acknowledged', actions: ['key 1: acknowledged'] });
    await c.callStarted({ id: 'web-in-2', direction: 'in', purpose: 'client', phone: null });

    const page = await browser.newPage();
    await page.goto(`${base}/console`);
    await page.fill('#token', operatorToken);
    await page.click('#loginForm button');
    await page.waitForSelector('#obj-1234');
    expect(await page.isHidden('#callsTab')).toBe(true);
    await page.click('#tabs button[data-tab="callsTab"]');
    await page.waitForSelector('#calls tr[data-call="web-in-1"]');
    expect(await page.isHidden('#app')).toBe(true);
    const row = async (id: string): Promise<string[]> => page.locator(`#calls tr[data-call="${id}"] td`).allTextContents();
    expect(await page.locator('#calls tr').count()).toBe(4);
    const incoming = await row('web-in-1');
    expect(incoming.slice(2)).toEqual(['входящий', '+77011234567', '1234', 'звонок клиента', 'status 1234: armed; disarm 1234: code sent; disarm 1234: done', 'завершён клиентом']);
    expect(incoming[1]).not.toBe('—');
    expect((await row('web-co-2')).slice(2)).toEqual(['исходящий', '+77011234567', '5555', 'обзвон по тревоге, событие 42, круг 1', 'key 1: acknowledged', 'тревога подтверждена (1)']);
    expect((await row('web-co-1')).slice(5)).toEqual(['обзвон по тревоге, событие 42, круг 1', '', 'нет ответа']);
    expect((await row('web-in-2')).slice(1)).toEqual(['—', 'входящий', 'скрыт', '', 'звонок клиента', '', 'не завершён']);
    if (process.env.E2E_SCREENSHOTS) await page.screenshot({ path: `${process.env.E2E_SCREENSHOTS}/console-calls.png`, fullPage: true });

    // filters: the object's alarm call-outs only; a bad number is explained and lists nothing new
    await page.fill('#callObject', '5555');
    // "по дату" today includes today's calls
    await page.fill('#callUntil', new Intl.DateTimeFormat('en-CA', { timeZone: 'Asia/Almaty' }).format(new Date()));
    await page.click('#callFilters button');
    await expect.poll(() => page.locator('#calls tr').count(), { timeout: 5_000 }).toBe(2);
    expect(await page.locator('#calls tr').evaluateAll((trs) => trs.map((t) => t.getAttribute('data-call')))).toEqual(['web-co-2', 'web-co-1']);
    await page.fill('#callObject', '');
    await page.fill('#callUntil', '');
    await page.fill('#callPhone', '12345');
    await page.click('#callFilters button');
    await page.waitForSelector('#callsError:has-text("Ошибка")');
    // back to the console tab
    await page.click('#tabs button[data-tab="app"]');
    expect(await page.isVisible('#obj-1234')).toBe(true);
    await page.close();
  });

  // last in this file: it moves the shared clock past the panel's supervision period
  it('an admin registers, changes and removes an object\'s alarm panel from the console; the link turns LOST live; the key never reaches the page; an operator sees the table only', async () => {
    await seedClient(fx, { phone: '+77041234567', codes: ['7300', '7301'], name: 'Panel Client' });
    const KEY = '00112233445566778899aabbccddeeff';
    const page = await consoleAs(adminToken);
    await page.waitForSelector('#panelForm:not([hidden])');

    await page.fill('#panelObject', '7300');
    await page.fill('#panelAccount', '7a3f');
    await page.fill('#panelKey', KEY);
    await page.fill('#panelSupervision', '60');
    await page.click('#panelForm button[type="submit"]');
    const row = page.locator('#panel-7A3F');
    await row.waitFor();
    expect(await row.locator('td').allTextContents()).toEqual(['7A3F', '7300', 'да', '1 мин', 'на связи', 'ещё не было', 'ИзменитьУдалить']);
    expect(await page.inputValue('#panelKey')).toBe('');
    expect((await page.content()).toLowerCase()).not.toContain(KEY);
    expect(await fx.core.panelKey('7A3F')).toEqual({ account: '7A3F', objectCode: '7300', key: KEY, unreadable: false });

    // the API's refusals are shown and change nothing: a bad key, the account of another object
    await page.fill('#panelObject', '7301');
    await page.fill('#panelAccount', '7A3F');
    await page.fill('#panelKey', 'abc');
    await page.click('#panelForm button[type="submit"]');
    await page.waitForSelector('#panelsError:has-text("Не сохранено")');
    expect(await page.textContent('#panelsError')).toContain('key');
    await page.fill('#panelKey', '');
    await page.click('#panelForm button[type="submit"]');
    await page.waitForSelector('#panelsError:has-text("belongs to object 7300")');
    expect(await fx.core.getPanel('7301')).toBeNull();

    // a change with the key left empty keeps the key
    await page.click('button[data-edit-panel="7300"]');
    expect(await page.inputValue('#panelAccount')).toBe('7A3F');
    await page.fill('#panelSupervision', '120');
    await page.click('#panelForm button[type="submit"]');
    await page.waitForSelector('#panel-7A3F td:has-text("2 мин")');
    expect(await row.locator('td').nth(2).textContent()).toBe('да');
    expect((await fx.core.panelKey('7A3F'))?.key).toBe(KEY);

    // an operator without the admin role: the table, no form, no buttons
    const viewer = await consoleAs(viewerToken);
    // its event stream is open: the hello names the operator (and tells the role)
    await viewer.waitForSelector('#who:has-text("Panel Viewer")');
    await viewer.locator('#panel-7A3F').waitFor();
    expect(await viewer.isHidden('#panelForm')).toBe(true);
    expect(await viewer.locator('#panels button').count()).toBe(0);

    // silent past its period: supervision marks the link lost, both consoles show it at once
    fx.clock.advance(120_000 + 15_001);
    expect(await fx.core.checkPanelSupervision()).toBe(1);
    for (const p of [page, viewer]) {
      await p.locator('#panel-7A3F.panel-lost').waitFor();
      expect(await p.locator('#panel-7A3F td').nth(4).textContent()).toMatch(/^НЕТ СВЯЗИ с \d\d\.\d\d\.\d{4}, \d\d:\d\d:\d\d$/);
    }
    await page.locator('#alerts tr', { hasText: 'нет связи с прибором' }).waitFor();
    if (process.env.E2E_SCREENSHOTS) await page.screenshot({ path: `${process.env.E2E_SCREENSHOTS}/console-panels.png`, fullPage: true });

    // in clear from now on: the checkbox clears the key
    await page.click('button[data-edit-panel="7300"]');
    await page.check('#panelClear');
    expect(await page.isDisabled('#panelKey')).toBe(true);
    await page.click('#panelForm button[type="submit"]');
    await page.waitForSelector('#panel-7A3F td:nth-child(3):has-text("нет")');
    expect((await fx.core.panelKey('7A3F'))?.key).toBeNull();

    await page.click('button[data-remove-panel="7300"]');
    await row.waitFor({ state: 'detached' });
    expect(await fx.core.getPanel('7300')).toBeNull();
    expect((await fx.core.searchJournal({ objectCode: '7300', channel: 'operator', limit: 10 })).filter((d) => d.operator === 'Console Admin').map((d) => d.action))
      .toEqual(['panel-remove', 'panel-set', 'panel-set', 'panel-set']);
    await viewer.close();
    await page.close();
  });
});
