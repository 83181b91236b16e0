// The gateway dashboard in headless Chromium against a real gateway (embedded broker, SQLite KV, embedded validator) fed by simulated dongles: the figures shown are the API's, live.
import t from 'tap';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import type { Page } from 'playwright-core';
import type { GatewayStats } from '../../gateway/api/gateway-status.js';
import type { ChainStatus } from '../../gateway/chain/client/chain-client.js';
import { parseGatewayConfig } from '../../gateway/node/gateway-config.js';
import { startGateway } from '../../gateway/node/gateway-node.js';
import { runFleet } from '../../tools/sim/fleet.js';
import { contrastFailures, horizontalOverflow, launchBrowser, openPage, screenshot, skipWithoutChromium } from './browser.js';

const DEVICES = 3;
const RECORDS = 40;

const getJson = async <T>(url: string): Promise<T> => (await (await fetch(url)).json()) as T;
/** A figure as the page shows it ("1,234" → 1234). */
const figure = async (page: Page, field: string): Promise<number> => Number((await page.textContent(`[data-field="${field}"]`))!.replace(/,/g, ''));
/** The little of the DOM the page functions below use (this project compiles without the DOM library). */
declare const document: { querySelector(selector: string): { textContent: string | null } | null; body: { dataset: Record<string, string | undefined> } };

/** Waits until the page shows `value` in a field. A function, not a string: the page's CSP forbids eval. */
const fieldIs = (page: Page, field: string, value: string) =>
  page.waitForFunction(([f, v]) => document.querySelector(`[data-field="${f}"]`)?.textContent === v, [field, value] as const, { timeout: 60_000 });

/** Publishes one message that is not an uplink message at all: the gateway acknowledges it and counts a rejection. */
async function publishMalformed(brokerUrl: string): Promise<void> {
  const client = await mqtt.connectAsync(brokerUrl, { protocolVersion: 4, clientId: 'dashboard-test-garbage', reconnectPeriod: 0 });
  try {
    await client.publishAsync('carchain/v1/devices/garbage/uplink', Buffer.from('not an uplink message'), { qos: 1 });
  } finally {
    await client.endAsync();
  }
}

const skip = skipWithoutChromium();
if (skip !== false) t.comment(skip);

t.test('dashboard shows the live gateway: figures match /stats and chain /status, no foreign requests, fits a phone', { skip }, async (t) => {
  t.setTimeout(240_000);
  const dir = mkdtempSync(join(tmpdir(), 'carchain-dashboard-test-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const gateway = await startGateway(parseGatewayConfig({
    gateway: { id: 'dashboard-test', dataDir: join(dir, 'gateway') },
    broker: { embedded: { host: '127.0.0.1', port: 0 } },
    kv: { backend: 'sqlite' },
    chain: { mode: 'embedded', blockIntervalMs: 200, anchorIntervalMs: 200 },
    batches: { intervalMs: 200 },
    api: { port: 0 },
  }), () => undefined);
  let stopped = false;
  t.teardown(async () => {
    if (!stopped) await gateway.stop();
  });
  const api = gateway.apiUrl;
  const rpc = gateway.chainRpcUrl!;
  const before = await getJson<ChainStatus>(`${rpc}/status`);

  const browser = await launchBrowser(t);
  const desktop = await openPage(browser, 'desktop', api);
  await desktop.page.goto(`${api}/dashboard`);
  await fieldIs(desktop.page, 'gatewayId', 'dashboard-test');
  await fieldIs(desktop.page, 'ingest.accepted', '0');
  t.equal(await desktop.page.textContent('[data-field="kv.ok"]'), 'answering', 'KV health shown in words');

  // Records arrive while the page is open: the feed must carry them, not a reload.
  const fleet = await runFleet({ devices: DEVICES, recordsPerDevice: RECORDS, brokerUrl: gateway.brokerUrl, dir: join(dir, 'fleet'), protocolVersion: 4 });
  t.equal(fleet.recordIds.length, DEVICES * RECORDS);
  await publishMalformed(gateway.brokerUrl);
  let stats = await getJson<GatewayStats>(`${api}/stats`);
  for (let i = 0; i < 600 && !(stats.ingest.accepted === DEVICES * RECORDS && stats.ingest.rejectedMessages === 1 && stats.batches.pendingLeaves === 0
    && stats.batches.sealed > 0 && stats.batches.anchored === stats.batches.sealed); i++) {
    await new Promise((r) => setTimeout(r, 100));
    stats = await getJson<GatewayStats>(`${api}/stats`);
  }
  t.equal(stats.ingest.accepted, DEVICES * RECORDS, 'the gateway stored every record');
  t.equal(stats.batches.anchored, stats.batches.sealed, 'every batch anchored');

  const page = desktop.page;
  await fieldIs(page, 'ingest.accepted', stats.ingest.accepted.toLocaleString('en-US'));
  await fieldIs(page, 'batches.anchored', String(stats.batches.anchored));
  const statusBefore = await getJson<ChainStatus>(`${rpc}/status`);
  // The page's next snapshot is read after statusBefore.
  const seq = Number(await page.getAttribute('body', 'data-seq'));
  await page.waitForFunction((s) => Number(document.body.dataset.seq) > s, seq, { timeout: 30_000 });
  const shownHeight = await figure(page, 'chain.height');
  const statusAfter = await getJson<ChainStatus>(`${rpc}/status`);
  const statsAfter = await getJson<GatewayStats>(`${api}/stats`);
  t.ok(shownHeight >= before.height && shownHeight >= statusBefore.height && shownHeight <= statusAfter.height,
    `chain height shown (${shownHeight}) within /status read before (${statusBefore.height}) and after (${statusAfter.height})`);
  t.ok(shownHeight > before.height, 'the chain grew while anchoring, and the page shows it');
  t.equal(await page.textContent('[data-field="chain.chainId"]'), statusAfter.chainId);
  t.equal(await figure(page, 'ingest.accepted'), statsAfter.ingest.accepted, 'accepted matches /stats');
  t.equal(await figure(page, 'ingest.duplicates'), statsAfter.ingest.duplicates, 'duplicates match /stats');
  t.equal(await figure(page, 'ingest.conflicts'), statsAfter.ingest.conflicts, 'conflicts match /stats');
  t.equal(await figure(page, 'ingest.rejectedMessages'), 1, 'the malformed message is counted');
  t.equal(await figure(page, 'batches.sealed'), statsAfter.batches.sealed, 'sealed batches match /stats');
  t.equal(await figure(page, 'batches.anchored'), statsAfter.batches.anchored, 'anchored batches match /stats');
  t.equal(await figure(page, 'batches.pendingLeaves'), 0);
  const reasons = await page.$$eval('#rejections tbody tr', (rows) => rows.map((r) => [r.children[0]!.textContent, r.children[1]!.textContent]));
  t.same(Object.fromEntries(reasons), Object.fromEntries(Object.entries(statsAfter.ingest.rejectedByReason).map(([k, v]) => [k, String(v)])), 'rejections by reason match /stats');
  t.equal(Object.values(statsAfter.ingest.rejectedByReason).reduce((a, b) => a + b, 0), 1, 'one rejection, under whichever reason the verifier gives');

  const validators = await page.$$eval('#validators tbody tr', (rows) => rows.map((r) => [...r.children].map((c) => c.textContent)));
  t.equal(validators.length, statusAfter.validators.length, 'one row per validator');
  t.equal(validators[0]![0], statusAfter.validators[0]!.address);
  t.equal(validators[0]![1], String(statusAfter.validators[0]!.power));
  t.match(validators[0]![3], /^0 \/ [1-9]/, 'the only validator missed no block');
  t.equal(validators[0]![4], 'signing');

  t.equal(await figure(page, 'devices.recentDevices'), DEVICES + 1, 'device ids in uplink topics: each dongle, and the garbage publisher (topics are not authenticated)');
  t.equal(await figure(page, 'devices.brokerClients'), 0, 'every device disconnected after the fleet finished');
  const summary = await page.textContent('[data-field="rate.summary"]');
  const peak = Number(/peak (\d+(?:\.\d+)?)/.exec(summary ?? '')?.[1]);
  t.ok(peak > 0, `the sparkline saw records arrive (${summary})`);
  t.equal(await page.locator('#rate-chart svg[role="img"] polyline').count(), 1, 'sparkline drawn as inline SVG');
  t.match(await page.textContent('#rate-chart svg title'), /records\/s/, 'the chart has a text alternative');

  // Accessibility: landmarks, headings, table semantics, keyboard, contrast.
  t.equal(await page.locator('header, main, footer').count(), 3, 'banner, main and contentinfo landmarks');
  t.same(await page.$$eval('h1, h2', (hs) => hs.map((h) => h.tagName)), ['H1', 'H2', 'H2', 'H2', 'H2', 'H2']);
  t.equal(await page.locator('table:not(:has(caption))').count(), 0, 'every table has a caption');
  t.equal(await page.locator('thead th:not([scope="col"])').count(), 0, 'column headers are scoped');
  await page.keyboard.press('Tab');
  t.equal(await page.evaluate<string>('document.activeElement.textContent'), 'Skip to the figures', 'the first Tab reaches the skip link');
  await page.keyboard.press('Tab');
  t.equal(await page.evaluate<string>('document.activeElement.id'), 'pause', 'then the pause button');
  await page.keyboard.press('Enter');
  t.equal(await page.getAttribute('#pause', 'aria-pressed'), 'true', 'Enter pauses');
  await page.keyboard.press('Space');
  t.equal(await page.getAttribute('#pause', 'aria-pressed'), 'false', 'Space resumes');
  t.same(await contrastFailures(page), [], 'all text ≥ 4.5:1 against its background');
  const desktopShot = await screenshot(page, 'dashboard', 'desktop');
  t.ok(statSync(desktopShot).size > 10_000, `desktop screenshot at ${desktopShot}`);

  const phone = await openPage(browser, 'phone', api);
  await phone.page.goto(`${api}/dashboard`);
  await fieldIs(phone.page, 'ingest.accepted', stats.ingest.accepted.toLocaleString('en-US'));
  await fieldIs(phone.page, 'chain.chainId', statusAfter.chainId);
  t.equal(await horizontalOverflow(phone.page), 0, 'no horizontal scroll at 390×844');
  t.same(await contrastFailures(phone.page), [], 'contrast on the phone layout');
  const phoneShot = await screenshot(phone.page, 'dashboard', 'phone');
  t.ok(statSync(phoneShot).size > 10_000, `phone screenshot at ${phoneShot}`);

  // Stopping the gateway with two event streams open must not hang; the pages then say they lost the feed.
  await gateway.stop();
  stopped = true;
  await fieldIs(page, 'feed', 'Reconnecting…');

  t.same([...desktop.foreignRequests, ...phone.foreignRequests], [], 'nothing requested outside the gateway');
  t.same([...desktop.errors, ...phone.errors].filter((e) => !/ERR_CONNECTION_REFUSED|Failed to load resource/.test(e)), [], 'no script errors');
});
