// The dashboard's server side over real HTTP: static assets with their CSP, the SSE feed's format and figures against /stats and chain /status, the subscriber limit, shutdown with streams open.
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify from 'fastify';
import type { AddressInfo } from 'node:net';
import type { DashboardSnapshot } from '../../../gateway/api/dashboard-feed.js';
import { registerDashboardRoutes } from '../../../gateway/api/dashboard-routes.js';
import { RecentDevices } from '../../../gateway/api/device-activity.js';
import { parseGatewayConfig } from '../../../gateway/node/gateway-config.js';
import { startGateway } from '../../../gateway/node/gateway-node.js';

interface SseEvent {
  event: string;
  id?: string;
  data: string;
}

/** Opens an event stream and collects parsed events; `close()` ends it from the client side. */
function openStream(url: string): { events: SseEvent[]; raw: () => string; next: (n: number) => Promise<void>; ended: Promise<void>; close: () => void } {
  const events: SseEvent[] = [];
  let text = '';
  let all = '';
  let waiter: { n: number; resolve: () => void } | null = null;
  let endedResolve!: () => void;
  const ended = new Promise<void>((r) => (endedResolve = r));
  const req = request(url, (res) => {
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => {
      all += chunk;
      text += chunk;
      let cut: number;
      while ((cut = text.indexOf('\n\n')) >= 0) {
        const block = text.slice(0, cut);
        text = text.slice(cut + 2);
        const fields = Object.fromEntries(block.split('\n').map((line) => [line.slice(0, line.indexOf(':')), line.slice(line.indexOf(':') + 2)]));
        if (fields.data !== undefined) events.push({ event: fields.event ?? 'message', id: fields.id, data: fields.data });
        if (waiter !== null && events.length >= waiter.n) waiter.resolve();
      }
    });
    res.on('end', () => endedResolve());
    res.on('close', () => endedResolve());
  });
  req.on('error', () => endedResolve());
  req.end();
  return {
    events, raw: () => all, ended, close: () => req.destroy(),
    next: (n) => new Promise<void>((resolve) => {
      if (events.length >= n) resolve();
      else waiter = { n, resolve };
    }),
  };
}

t.test('a gateway serves the dashboard and streams snapshots that agree with /stats and chain /status; stop() ends open streams', async (t) => {
  t.setTimeout(120_000);
  const dir = mkdtempSync(join(tmpdir(), 'carchain-dashboard-routes-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const gateway = await startGateway(parseGatewayConfig({
    gateway: { id: 'dash-routes', dataDir: join(dir, 'gw') }, broker: { embedded: { host: '127.0.0.1', port: 0 } },
    chain: { mode: 'embedded', blockIntervalMs: 200 }, api: { port: 0 },
  }), () => undefined);
  let stopped = false;
  t.teardown(async () => {
    if (!stopped) await gateway.stop();
  });

  for (const [path, type] of [['/', 'text/html'], ['/dashboard', 'text/html'], ['/dashboard/dashboard.js', 'text/javascript'], ['/dashboard/dashboard.css', 'text/css']] as const) {
    const res = await fetch(`${gateway.apiUrl}${path}`);
    t.equal(res.status, 200, `GET ${path}`);
    t.match(res.headers.get('content-type'), type);
    t.match(res.headers.get('content-security-policy'), /default-src 'none'; script-src 'self'/, `${path}: nothing from another origin`);
    const body = await res.text();
    t.notMatch(body, /https?:\/\/(?!www\.w3\.org\/2000\/svg)/, `${path} names no other origin`);
  }

  const before = await (await fetch(`${gateway.chainRpcUrl}/status`)).json() as { height: number; validators: { address: string; power: number }[] };
  const stream = openStream(`${gateway.apiUrl}/v1/events`);
  const second = openStream(`${gateway.apiUrl}/v1/events`);
  await Promise.all([stream.next(3), second.next(1)]);
  t.match(stream.raw(), /^retry: \d+\n\n/, 'the stream starts with the reconnect delay');
  const snaps = stream.events.filter((e) => e.event === 'snapshot').map((e) => JSON.parse(e.data) as DashboardSnapshot);
  t.equal(snaps.length, 3);
  t.same(stream.events.map((e) => Number(e.id)), snaps.map((s) => s.seq), 'the event id is the snapshot sequence');
  t.ok(snaps[1]!.seq > snaps[0]!.seq && snaps[2]!.at >= snaps[1]!.at, 'in order');
  const last = snaps[2]!;
  const stats = await (await fetch(`${gateway.apiUrl}/stats`)).json() as { gatewayId: string; batches: unknown; ingest: { accepted: number } };
  t.equal(last.gatewayId, stats.gatewayId);
  t.same(last.batches, stats.batches);
  t.equal(last.ingest.accepted, stats.ingest.accepted);
  t.equal(last.kv.backend, 'sqlite');
  t.equal(last.chain?.ok, true);
  t.ok(last.chain!.view!.height >= before.height, 'chain height no older than /status read before');
  t.same(last.chain!.view!.validators.map((v) => [v.address, v.power]), before.validators.map((v) => [v.address, v.power]));
  t.equal(last.chain!.view!.validators[0]!.lastSignedHeight, last.chain!.view!.height, 'the only validator signed the latest block');
  t.equal(last.chain!.view!.validators[0]!.missed, 0);
  t.same(last.devices, { brokerClients: 0, recentDevices: 0, windowSeconds: 300 });
  t.ok(last.rate.length >= 1 && last.rate.every((r) => r.recordsPerSecond === 0), 'no records, a flat rate');

  const t0 = Date.now();
  await gateway.stop();
  stopped = true;
  await Promise.all([stream.ended, second.ended]);
  t.pass(`stop() returned with two streams open (${Date.now() - t0} ms) and both streams ended`);
});

t.test('a feed over its subscriber limit answers 503 with a temporary error and serves the others', async (t) => {
  const app = Fastify();
  registerDashboardRoutes(app, {
    maxSubscribers: 1,
    stats: () => Promise.resolve({
      gatewayId: 'limit', batches: { sealed: 0, anchored: 0, pendingLeaves: 0 }, kv: { backend: 'none', ok: true, detail: {} },
      ingest: { messages: 0, accepted: 0, duplicates: 0, conflicts: 0, rejectedMessages: 0, rejectedByReason: {} as never, storeFailures: 0, groups: 0, connected: true },
    }),
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  t.teardown(() => app.close());
  const first = openStream(`${url}/v1/events`);
  await first.next(1);
  const refused = await fetch(`${url}/v1/events`);
  t.equal(refused.status, 503);
  t.same(await refused.json(), { error: { code: 'TOO_MANY_SUBSCRIBERS', message: 'too many dashboard connections', temporary: true } });
  first.close();
  await first.ended;
  // The slot frees when the client goes away.
  for (let i = 0; i < 50; i++) {
    const again = openStream(`${url}/v1/events`);
    await Promise.race([again.next(1), again.ended]);
    again.close();
    if (again.events.length > 0) return t.pass('a new subscriber is served once the first left');
    await new Promise((r) => setTimeout(r, 100));
  }
  t.fail('the slot never freed');
});

t.test('recent devices: distinct ids from uplink topics within the window', (t) => {
  let now = 1_000_000;
  const recent = new RecentDevices(60_000, () => now);
  recent.sawTopic('carchain/v1/devices/1AAA/uplink');
  recent.sawTopic('carchain/v1/devices/1BBB/uplink');
  recent.sawTopic('carchain/v1/devices/1AAA/uplink');
  recent.sawTopic('carchain/v1/devices/1CCC/state');
  recent.sawTopic('something/else');
  t.equal(recent.count(), 2, 'two devices; other topics ignored');
  now += 30_000;
  recent.sawTopic('carchain/v1/devices/1BBB/uplink');
  now += 40_000;
  t.equal(recent.count(), 1, '1AAA left the window, 1BBB was seen again');
  now += 60_001;
  t.equal(recent.count(), 0);
  t.end();
});
