// `carchain sim fleet` as a process: several paired dongles publish through a private Mosquitto into a running gateway.
import t from 'tap';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startGateway } from '../../gateway/node/gateway-node.js';
import { parseGatewayConfig } from '../../gateway/node/gateway-config.js';
import { startMosquitto } from '../firmware/uplink/fixtures/mosquitto.js';

const cli = fileURLToPath(new URL('../../tools/cli/carchain.ts', import.meta.url));

t.test('4 dongles × 60 records reach the gateway exactly once', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'carchain-fleet-test-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const broker = await startMosquitto({ dir });
  t.teardown(() => broker.stop());
  const gateway = await startGateway(parseGatewayConfig({ gateway: { id: 'fleet-test', dataDir: join(dir, 'gw') }, broker: { url: broker.url }, api: { port: 0 }, batches: { intervalMs: 100 } }), () => undefined);
  t.teardown(() => gateway.stop());

  const fleet = spawn(process.execPath, ['--import', 'tsx', cli, 'sim', 'fleet', '--devices', '4', '--records', '60', '--broker', broker.url, '--json'], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  fleet.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const [code] = (await once(fleet, 'exit')) as [number];
  t.equal(code, 0);
  const summary = JSON.parse(out);
  t.same([summary.devices, summary.records], [4, 240]);

  let stats = await gateway.stats();
  for (let i = 0; i < 100 && stats.ingest.accepted < 240; i++) {
    await new Promise((r) => setTimeout(r, 100));
    stats = await gateway.stats();
  }
  t.equal(stats.ingest.accepted, 240, 'every record stored');
  t.equal(stats.ingest.rejectedMessages, 0);
  t.equal(stats.ingest.conflicts, 0);
  for (let i = 0; i < 50 && (await gateway.stats()).batches.pendingLeaves > 0; i++) await new Promise((r) => setTimeout(r, 100));
  t.equal((await gateway.stats()).batches.pendingLeaves, 0, 'all sealed into batches');
  const metrics = await (await fetch(`${gateway.apiUrl}/metrics`)).text();
  t.match(metrics, /carchain_records_total\{outcome="accepted"\} 240/);
});
