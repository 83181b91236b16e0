// The owner's trip viewer in headless Chromium against the embedded stack (gateway, validator, a looping simulated dongle, a paired wallet): the figures shown are the wallet library's; a trip opens on its map; a grant made on the page is on the chain.
import t from 'tap';
import { generateKeyPairSync } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import sharp from 'sharp';
import { parseCaitConfig } from '../../firmware/cait/cait-config.js';
import { addMaintenanceJob, openShopTerminal } from '../../firmware/cait/shop-terminal.js';
import { ChainClient } from '../../gateway/chain/client/chain-client.js';
import { utcDay } from '../../protocol/pools.js';
import { startEmbeddedStack, type EmbeddedStack } from '../../tools/stack/embedded-stack.js';
import { STACK_VID } from '../../tools/stack/stack-wallet.js';
import { listGrants } from '../../tools/wallet/grant-flow.js';
import { maintenanceRecords } from '../../tools/wallet/maintenance-records.js';
import { OwnerWallet, type DayRange } from '../../tools/wallet/owner-wallet.js';
import { issueWriteGrant } from '../../tools/wallet/write-grant-flow.js';
import { formatDistance, formatDuration } from '../../tools/wallet/trip-map.js';
import { startWalletUi, type WalletUiHandle } from '../../tools/wallet/ui/wallet-ui-server.js';
import { contrastFailures, horizontalOverflow, launchBrowser, openPage, screenshot, skipWithoutChromium } from './browser.js';

const GRANTEE = '1BoatSLRHtKNngkdXEeobR76b53LETtpyT';
const PLATE = '浙D·137ET';

async function waitFor<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 180_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** The little of the DOM the in-page functions below use (this project compiles without the DOM library). */
declare const document: { querySelector(selector: string): unknown };

const text = async (page: Page, field: string): Promise<string> => ((await page.textContent(`[data-field="${field}"]`)) ?? '').trim();

/** The larger side, in screen pixels, of the box around the drawn track. */
const trackSpan = (page: Page): Promise<number> => page.locator('#trip-map svg g.tracks').evaluate((g) => {
  const r = g.getBoundingClientRect();
  return Math.max(r.width, r.height);
});

async function unlock(page: Page, passphrase: string): Promise<void> {
  await page.locator('#passphrase').fill(passphrase);
  await page.locator('#unlock-form button[type="submit"]').click();
  await page.locator('body[data-state="unlocked"]').waitFor({ timeout: 60_000 });
}

/** Shows the trips again and waits until the page has them. */
async function reloadTrips(page: Page): Promise<void> {
  await page.locator('#range-form button[type="submit"]').click();
  await page.locator('body[data-trips="ready"]').waitFor({ timeout: 120_000 });
}

const skip = skipWithoutChromium();
if (skip !== false) t.comment(skip);

t.test('trip viewer: unlock, trips and figures as OwnerWallet reads them, a trip map, a grant on the chain, phone size, lock', { skip }, async (t) => {
  t.setTimeout(600_000);
  const dataDir = mkdtempSync(join(tmpdir(), 'carchain-trip-viewer-'));
  let stack: EmbeddedStack | null = null;
  let ui: WalletUiHandle | null = null;
  // One teardown, in order: the viewer, then the stack (the dongle drains into the running gateway), then the directory.
  t.teardown(async () => {
    await ui?.stop();
    await stack?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });
  stack = await startEmbeddedStack({ dataDir, apiPort: 0, brokerPort: 0, timeScale: 60, batchIntervalMs: 500, log: () => undefined });
  const passphrase = readFileSync(stack.wallet.passphraseFile, 'utf8').trim();
  const wallet = await OwnerWallet.open(stack.wallet.path, passphrase);
  const today = utcDay(Date.now());
  // The page's default range: the last 7 UTC days.
  const range: DayRange = { from: utcDay(Date.now() - 6 * 86_400_000), to: today };
  const api = stack.apiUrl;
  // Wait for a trip with a harsh event (the scenario's second drive has one), so its marker is checked too; four trips without one is enough.
  const firstTrips = await waitFor('a trip with a harsh event (or four trips)', async () => {
    const listing = await wallet.listTrips(api, range);
    return listing.trips.some((x) => x.events.length > 0) || listing.trips.length >= 4 ? listing : undefined;
  }, 300_000);
  t.ok(firstTrips.trips.length >= 1, `the wallet library reads ${firstTrips.trips.length} trip(s)`);
  t.equal(firstTrips.rejected.length, 0, 'nothing rejected');

  ui = await startWalletUi({ walletPath: stack.wallet.path, gatewayUrl: api, chainRpcUrl: stack.chainRpcUrl });
  const origin = ui.url.replace(/\/$/, '');
  const browser = await launchBrowser(t);
  const desktop = await openPage(browser, 'desktop', origin);
  const page = desktop.page;
  await page.goto(ui.url);
  await page.locator('body[data-state="locked"]').waitFor();
  t.equal(await page.locator('#app').isHidden(), true, 'nothing but the unlock form before unlocking');

  // A wrong passphrase: a clear message, still locked.
  await page.locator('#passphrase').fill('not the passphrase');
  await page.locator('#unlock-form button[type="submit"]').click();
  await page.locator('[data-field="unlockError"]:not(:empty)').waitFor({ timeout: 60_000 });
  t.match(await text(page, 'unlockError'), /Wrong passphrase/, 'wrong passphrase said in words');
  t.equal(ui.unlocked(), false);

  await unlock(page, passphrase);
  t.equal(ui.unlocked(), true);
  t.match(await text(page, 'owner'), new RegExp(wallet.ownerAddress), 'the owner address shown');
  await page.locator('body[data-trips="ready"]').waitFor({ timeout: 120_000 });

  // The dongle keeps driving: compare once the wallet reads the same trips just before and just after the page did.
  let shown: { trips: number } | null = null;
  for (let attempt = 0; attempt < 10 && shown === null; attempt++) {
    const before = await wallet.listTrips(api, range);
    await reloadTrips(page);
    const after = await wallet.listTrips(api, range);
    if (before.trips.map((x) => x.id).join() !== after.trips.map((x) => x.id).join()) continue;
    const trips = after.trips;
    t.equal(await text(page, 'trips.count'), String(trips.length), `trip count shown = OwnerWallet's (${trips.length})`);
    t.equal(await text(page, 'trips.distance'), formatDistance(trips.reduce((s, x) => s + x.distanceM, 0)), 'total distance matches');
    t.equal(await text(page, 'trips.duration'), formatDuration(trips.reduce((s, x) => s + x.durationS, 0)), 'total driving time matches');
    t.equal(await page.locator('button.trip').count(), trips.length, 'one button per trip');
    for (const trip of trips) {
      const row = page.locator(`button.trip[data-trip-id="${trip.id}"]`);
      t.equal((await row.locator('.distance').textContent())?.trim(), formatDistance(trip.distanceM), `trip ${trip.id}: distance`);
      t.equal((await row.locator('.duration').textContent())?.trim(), formatDuration(trip.durationS), `trip ${trip.id}: duration`);
    }
    t.same(await page.$$eval('#trip-days h3', (hs) => hs.map((h) => h.textContent)), [...new Set(trips.map((x) => new Date(x.start).toISOString().slice(0, 10)))].reverse(), 'trips grouped under their UTC days');
    shown = { trips: trips.length };
  }
  t.ok(shown !== null, 'the page and the wallet agreed on a stable set of trips');

  // Open the first trip: its map and figures.
  // The trip with harsh events, when there is one: its markers are part of what is checked.
  const listed = (await wallet.listTrips(api, range)).trips;
  const trip = listed.find((x) => x.events.length > 0) ?? listed[0]!;

  // A repair shop's job on the trip's day, written under a WriteGrant (so filed under the shop's address, found through the chain).
  const chain = new ChainClient([stack.chainRpcUrl]);
  const shopDir = join(dataDir, 'shop');
  const ticketsDir = join(shopDir, 'tickets');
  const shopConfig = parseCaitConfig({
    terminal: { dataDir: shopDir, ticketsDir }, camera: { directory: join(dataDir, 'frames'), includeExisting: true },
    chain: { rpc: [stack.chainRpcUrl] }, uplink: { brokerUrl: stack.brokerUrl, protocolVersion: 4, deliverTimeoutMs: 60_000 }, log: { level: 'info' },
  }, 'trip viewer test');
  const terminal = openShopTerminal(shopConfig);
  const shopPublicKey = terminal.identity.publicKey;
  terminal.close();
  const writeGrant = await issueWriteGrant({ root: wallet.root, ownerRsaPublicKey: wallet.rsaKeyPair().publicKey, vid: STACK_VID, plate: PLATE, shopPublicKey, chain });
  mkdirSync(ticketsDir, { recursive: true });
  writeFileSync(join(ticketsDir, `${writeGrant.writeGrantId}.json`), JSON.stringify(writeGrant.ticket));
  const job = await addMaintenanceJob(shopConfig, { plate: PLATE, mileageKm: 84_210, work: 'oil change', parts: ['oil-filter'], time: trip.start + 60_000 });
  t.equal(job.delivered, true, 'the shop delivered its maintenance record');
  await waitFor('the owner reads the shop\'s record', async () => {
    const res = await maintenanceRecords({ gatewayUrl: api, chain, ownerAddress: wallet.ownerAddress, vids: [STACK_VID], formats: wallet.formats, rsaPrivateKey: wallet.rsaKeyPair().privateKey });
    return res.records.some((r) => r.recordId === job.recordId) ? true : undefined;
  });

  await page.locator(`button.trip[data-trip-id="${trip.id}"]`).click();
  await page.locator(`body[data-trip="${trip.id}"]`).waitFor({ timeout: 120_000 });
  t.equal(await text(page, 'trip.id'), trip.id);
  t.equal(await text(page, 'trip.distance'), formatDistance(trip.distanceM), 'trip distance = OwnerWallet');
  t.equal(await text(page, 'trip.duration'), formatDuration(trip.durationS), 'trip duration = OwnerWallet');
  t.equal(await text(page, 'trip.maxSpeed'), `${Math.round(trip.maxSpeedKmh)} km/h`, 'max speed = OwnerWallet');
  t.equal(await text(page, 'trip.start'), `${new Date(trip.start).toISOString().slice(0, 10)} ${new Date(trip.start).toISOString().slice(11, 19)} UTC`, 'start time');
  t.equal(await text(page, 'trip.events'), String(trip.events.length), 'harsh events count');
  t.ok(await page.locator('#trip-map svg[role="img"] polyline, #trip-map svg[role="img"] path.track').count() >= 1, 'the SVG track has a polyline');
  t.equal(await page.locator('#trip-map svg circle.start').count(), 1, 'start marker');
  const placeable = trip.events.filter((e) => (e.lat !== undefined && e.lng !== undefined) || (e.t !== undefined && trip.points.some((p) => p.t !== undefined)));
  t.equal(await page.locator('#trip-map svg path.event').count(), placeable.length, `one marker per harsh event with a place (${placeable.length} of ${trip.events.length})`);
  t.equal(await page.locator('#events tbody tr').count(), Math.max(1, trip.events.length), 'one row per harsh event (or the "none" row)');
  t.ok(await page.locator('#trip-map svg').evaluate((svg) => svg.getBoundingClientRect().width > 300), 'the map is drawn at a readable size');
  t.ok(await trackSpan(page) > 150, 'the track fills the map (not squeezed by the legend)');
  await page.locator('#dtcs tbody tr td:not(:empty)').first().waitFor({ timeout: 60_000 });
  const day = utcDay(trip.start);
  const dtcsAfter = (await wallet.records(api, { from: day, to: day }, { format: 'dtc' })).records.length;
  const dtcRows = await page.$$eval('#dtcs tbody tr', (rows) => rows.filter((r) => r.children.length === 4).length);
  t.ok(dtcRows <= dtcsAfter, `DTC rows shown (${dtcRows}) are records the wallet reads (${dtcsAfter})`);
  if (dtcRows === 0) t.match(await page.textContent('#dtcs tbody'), /No trouble codes/, 'no DTCs said in words');
  await page.locator('#maintenance tbody tr td:not(:empty)').first().waitFor({ timeout: 60_000 });
  const jobRows = await page.$$eval('#maintenance tbody tr', (rows) => rows.map((r) => [...r.children].map((c) => c.textContent ?? '')));
  const jobTime = new Date(trip.start + 60_000).toISOString();
  t.equal(jobRows.length, 1, 'one maintenance job on the trip\'s day');
  t.same([jobRows[0]?.[0], jobRows[0]?.[2], jobRows[0]?.[3]], [`${jobTime.slice(0, 10)} ${jobTime.slice(11, 19)}`, 'oil change', '84210 km'], 'the shop\'s job: time, work, mileage');
  t.match(jobRows[0]?.[1], /^1[1-9A-HJ-NP-Za-km-z]{25,34}$/, 'the shop named by its address');

  // Accessibility: landmarks, headings, labels, keyboard, contrast.
  t.equal(await page.locator('header, main, footer').count(), 3, 'banner, main and contentinfo landmarks');
  t.equal(await page.locator('h1').count(), 1, 'one h1');
  t.equal(await page.locator('table:not(:has(caption))').count(), 0, 'every table has a caption');
  t.equal(await page.locator('thead th:not([scope="col"])').count(), 0, 'column headers are scoped');
  const unlabelled = await page.$$eval('input:not([type="checkbox"]), textarea', (els) => els.filter((e) => !e.id || document.querySelector(`label[for="${e.id}"]`) === null).map((e) => e.outerHTML));
  t.same(unlabelled, [], 'every field has a label');
  // Keyboard only, from a fresh load (the session cookie keeps it unlocked): skip link, lock, then Tab to a trip and Enter opens it.
  await page.reload();
  await page.locator('body[data-trips="ready"]').waitFor({ timeout: 120_000 });
  await page.keyboard.press('Tab');
  t.equal(await page.evaluate<string>('document.activeElement.textContent'), 'Skip to the content', 'the first Tab reaches the skip link');
  await page.keyboard.press('Tab');
  t.equal(await page.evaluate<string>('document.activeElement.id'), 'lock', 'then the lock button');
  let tabs = 0;
  for (; tabs < 20 && !(await page.evaluate<boolean>('document.activeElement.classList.contains("trip")')); tabs++) await page.keyboard.press('Tab');
  const focusedTrip = await page.evaluate<string>('document.activeElement.dataset.tripId || ""');
  t.not(focusedTrip, '', `Tab reaches a trip (after the date range form, ${tabs} more presses)`);
  await page.keyboard.press('Enter');
  await page.locator(`body[data-trip="${focusedTrip}"]`).waitFor({ timeout: 120_000 });
  t.equal(await page.evaluate<string>('document.activeElement.id'), 'trip-panel', 'Enter opens the trip and moves focus to it');
  t.same(await contrastFailures(page), [], 'all text ≥ 4.5:1 against its background');

  // A grant made on the page: listed on the page and on the chain.
  const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048, publicExponent: 65537 });
  await page.locator('#grantee').fill(GRANTEE);
  await page.locator('#grantee-key').fill(publicKey.export({ type: 'spki', format: 'pem' }).toString());
  await page.locator('#grant-from').fill(`${today.slice(0, 4)}-${today.slice(4, 6)}-${today.slice(6, 8)}`);
  await page.locator('#grant-to').fill(`${today.slice(0, 4)}-${today.slice(4, 6)}-${today.slice(6, 8)}`);
  await page.locator('#grant-form button[type="submit"]').click();
  await page.locator('body[data-last-grant]').waitFor({ timeout: 120_000 });
  const grantId = (await page.getAttribute('body', 'data-last-grant'))!;
  t.match(grantId, /^[0-9a-f]{64}$/);
  t.match(await text(page, 'status'), /committed at chain height \d+: [1-9]\d* record\(s\) shared/, 'the trips of today were shared');
  const row = page.locator(`#grants tbody tr[data-grant-id="${grantId}"]`);
  await row.waitFor({ timeout: 60_000 });
  t.equal((await row.locator('td').nth(1).textContent())?.trim(), GRANTEE, 'listed with its grantee');
  t.equal((await row.locator('td').nth(4).textContent())?.trim(), 'active');
  const onChain = (await listGrants(wallet.root, chain)).find((g) => g.grantId === grantId);
  t.ok(onChain, 'the grant is on the chain (listGrants)');
  t.equal(onChain?.grantee, GRANTEE);
  t.same(onChain?.formats, ['trip-gps']);
  t.equal(onChain?.active, true);
  const desktopShot = await screenshot(page, 'trip-viewer', 'desktop');
  t.ok(statSync(desktopShot).size > 10_000, `desktop screenshot at ${desktopShot}`);

  // Revoke from the page.
  await row.locator('button.danger').click();
  await page.locator(`#grants tbody tr[data-grant-id="${grantId}"] td:nth-child(5):text-is("revoked")`).waitFor({ timeout: 120_000 });
  t.not((await listGrants(wallet.root, chain)).find((g) => g.grantId === grantId)?.revokedAt, 0, 'revoked on the chain');

  // The phone: its own browser context, so its own unlock (which ends the desktop's session).
  const phone = await openPage(browser, 'phone', origin);
  await phone.page.goto(ui.url);
  await phone.page.locator('body[data-state="locked"]').waitFor();
  await unlock(phone.page, passphrase);
  await phone.page.locator('body[data-trips="ready"]').waitFor({ timeout: 120_000 });
  await phone.page.locator(`button.trip[data-trip-id="${trip.id}"]`).click();
  await phone.page.locator(`body[data-trip="${trip.id}"]`).waitFor({ timeout: 120_000 });
  await phone.page.locator('body[data-grants]').waitFor({ timeout: 60_000 });
  // A mobile browser zooms out to fit a too-wide layout, which hides the overflow from scrollWidth: check the layout width too.
  t.equal(await phone.page.evaluate<number>('window.innerWidth'), 390, 'laid out at the phone\'s width (not zoomed out)');
  t.equal(await horizontalOverflow(phone.page), 0, 'no horizontal scroll at 390×844');
  t.ok(await trackSpan(phone.page) > 120, 'on the phone too the track fills its map');
  t.same(await contrastFailures(phone.page), [], 'contrast on the phone layout');
  const phoneShot = await screenshot(phone.page, 'trip-viewer', 'phone');
  t.ok(statSync(phoneShot).size > 10_000, `phone screenshot at ${phoneShot}`);
  t.equal((await sharp(phoneShot).metadata()).width, 390, 'the phone screenshot is 390 px wide');

  // The desktop's session ended with the phone's unlock: its next data call shows the unlock form again.
  await page.locator('#range-form button[type="submit"]').click();
  await page.locator('body[data-state="locked"]').waitFor({ timeout: 60_000 });

  // Lock on the phone: the server forgets the keys.
  await phone.page.locator('#lock').click();
  await phone.page.locator('body[data-state="locked"]').waitFor();
  t.equal(ui.unlocked(), false, 'lock dropped the wallet from the server');
  t.match(await text(phone.page, 'status'), /Locked/);

  t.same([...desktop.foreignRequests, ...phone.foreignRequests], [], 'nothing requested outside the viewer');
  t.same([...desktop.errors, ...phone.errors].filter((e) => !/Failed to load resource/.test(e)), [], 'no script errors');
});
