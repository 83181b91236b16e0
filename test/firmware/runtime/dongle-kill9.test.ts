// kill -9 the real dongle runtime (`carchain dongle run`, simulated car) 20+ times while it records and publishes:
// every record it committed reaches the broker, none is lost, the outbox is never corrupt.
import t from 'tap';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { checkOutboxFile } from '../../../firmware/outbox/outbox-file.js';
import { deviceTopics } from '../../../firmware/mqtt-topics.js';
import { masterKeyFromSeed } from '../../../protocol/hd-keys.js';
import { pairDongle } from '../../../tools/wallet/pairing-client.js';
import { startMosquitto } from '../uplink/fixtures/mosquitto.js';
import { collectUplinks, duplicateSummary } from '../uplink/fixtures/uplink-collector.js';

const KILLS = 20;
const MIN_RECORDS_PER_RUN = 5;
const cli = fileURLToPath(new URL('../../../tools/cli/carchain.ts', import.meta.url));
const seed = Number(process.env.CARCHAIN_FAULT_SEED ?? 7);
let x = seed;
const random = () => ((x = (x * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);

t.test(`kill -9 the dongle ${KILLS} times: every committed record arrives, the outbox stays sound`, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'carchain-dongle-kill9-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const broker = await startMosquitto({ dir });
  t.teardown(() => broker.stop());
  const config = join(dir, 'dongle.yaml');
  writeFileSync(config, [
    `device: { dataDir: ${join(dir, 'data')} }`,
    'obd: { port: "sim:driving", snapshotIntervalMs: 1000, simTimeScale: 20, pids: { "0C": 1000, "0D": 1000 } }',
    `uplink: { brokerUrl: "${broker.url}", healthIntervalMs: 60000 }`,
    'pairing: { port: 0 }',
    'log: { level: info }',
  ].join('\n'));

  const committed = new Set<string>();
  const start = async (): Promise<{ child: ChildProcess; deviceId: string; pairingUrl: string }> => {
    const child = spawn(process.execPath, ['--import', 'tsx', cli, 'dongle', 'run', '--config', config], { stdio: ['ignore', 'pipe', 'inherit'] });
    return new Promise((resolve, reject) => {
      createInterface({ input: child.stdout }).on('line', (line) => {
        let entry: { msg?: string; ids?: string[]; deviceId?: string; pairing?: string };
        try {
          entry = JSON.parse(line);
        } catch {
          return;
        }
        // Logged only after enqueue() returned, i.e. after COMMIT: the ground truth of what was taken.
        if (entry.msg === 'records committed') for (const id of entry.ids ?? []) committed.add(id);
        if (entry.msg === 'dongle started') resolve({ child, deviceId: entry.deviceId!, pairingUrl: entry.pairing! });
      });
      child.once('exit', (code) => reject(new Error(`dongle exited early (${code})`)));
    });
  };
  const killHard = async (child: ChildProcess) => {
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  };

  let run = await start();
  // The stand-in gateway subscribes before the dongle is paired, so it sees the very first record.
  const collector = await collectUplinks(broker.url, deviceTopics(run.deviceId).uplink, { clientId: 'dongle-kill9-gateway', clean: false, protocolVersion: 5, properties: { sessionExpiryInterval: 600 } });
  t.teardown(() => collector.close());
  const info = (await (await fetch(`${run.pairingUrl}/pairing`)).json()) as { pairingCode: string };
  await pairDongle({ url: run.pairingUrl, pairingCode: info.pairingCode, root: masterKeyFromSeed(new Uint8Array(64).fill(0x42)), vid: 'LBVNU79049SB81546', vehicleIndex: 0, poolSize: 8, agent: 'test' });

  for (let i = 0; i < KILLS; i++) {
    await new Promise((r) => setTimeout(r, 300 + Math.floor(random() * 1200)));
    // On a loaded machine a run may not reach its first commit in that time: make sure the kills land
    // among commits (a few per run on average) rather than only ever during start-up.
    const wanted = (i + 1) * MIN_RECORDS_PER_RUN;
    for (const deadline = Date.now() + 30_000; committed.size < wanted && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 50));
    await killHard(run.child);
    const check = checkOutboxFile(join(dir, 'data', 'outbox.db'));
    t.ok(check.ok, `kill ${i + 1}: integrity ${check.problems.join('; ') || 'ok'}`);
    run = await start();
  }
  t.ok(committed.size >= KILLS * MIN_RECORDS_PER_RUN, `${committed.size} records committed across ${KILLS + 1} runs`);
  const missing = await collector.waitForAll(committed, 60_000);
  t.same(missing, [], 'every committed record reached the broker');
  const stopped = new Promise<number | null>((resolve) => run.child.once('exit', resolve));
  run.child.kill('SIGTERM');
  t.equal(await stopped, 0, 'a graceful stop after all that');
  t.same(collector.problems, [], 'every message verified');
  t.comment(`duplicates absorbed later by the gateway: ${JSON.stringify(duplicateSummary(collector.counts))}`);
});
