// The real dongle process on a real pty adapter that is pulled mid-trip and plugged back: it reconnects and keeps recording.
import t from 'tap';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { masterKeyFromSeed } from '../../../protocol/hd-keys.js';
import { pairDongle } from '../../../tools/wallet/pairing-client.js';
import { startMosquitto } from '../uplink/fixtures/mosquitto.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));

t.test('adapter unplugged mid-trip: the dongle reconnects by path and keeps committing records', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'carchain-dongle-unplug-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const broker = await startMosquitto({ dir });
  t.teardown(() => broker.stop());

  // The simulator on a pty (x10 time), pulled after 250 simulated s (25 s real: a loaded CI machine may
  // take 10 s or more to start and pair the dongle, and the pull must land mid-trip) and plugged back
  // 3 s later at the same path.
  const sim = spawn(process.execPath, ['--import', 'tsx', join(root, 'hardware/sim/run-elm327-pty.ts'), '--scenario', 'driving', '--time-scale', '10', '--unplug-after-ms', '250000', '--replug-after-ms', '3000'], { stdio: ['ignore', 'pipe', 'pipe'] });
  t.teardown(() => { if (sim.exitCode === null) sim.kill('SIGKILL'); });
  const simEvents: string[] = [];
  createInterface({ input: sim.stderr }).on('line', (l) => simEvents.push(l));
  const [line] = (await once(createInterface({ input: sim.stdout }), 'line')) as [string];
  const { pty } = JSON.parse(line) as { pty: string };

  writeFileSync(join(dir, 'dongle.yaml'), [
    `device: { dataDir: ${join(dir, 'data')} }`,
    `obd: { port: "${pty}", snapshotIntervalMs: 1000, pids: { "0C": 1000, "0D": 1000 } }`,
    `uplink: { brokerUrl: "${broker.url}" }`,
    'pairing: { port: 0 }',
    'log: { level: debug }',
  ].join('\n'));
  const dongle: ChildProcess = spawn(process.execPath, ['--import', 'tsx', join(root, 'tools/cli/carchain.ts'), 'dongle', 'run', '--config', join(dir, 'dongle.yaml')], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.teardown(() => { if (dongle.exitCode === null) dongle.kill('SIGKILL'); });
  const log: { msg: string; t: number; ids?: string[]; pairing?: string; state?: string }[] = [];
  const started = new Promise<string>((resolve) => {
    createInterface({ input: dongle.stdout! }).on('line', (l) => {
      try {
        const entry = { ...(JSON.parse(l) as { msg: string; pairing?: string; ids?: string[]; state?: string }), t: Date.now() };
        log.push(entry);
        if (entry.msg === 'dongle started') resolve(entry.pairing!);
      } catch {
        // not a log line
      }
    });
  });
  const pairingUrl = await started;
  const info = (await (await fetch(`${pairingUrl}/pairing`)).json()) as { pairingCode: string };
  await pairDongle({ url: pairingUrl, pairingCode: info.pairingCode, root: masterKeyFromSeed(new Uint8Array(64).fill(0x24)), vid: 'LBVNU79049SB81546', vehicleIndex: 0, poolSize: 8, agent: 'test' });

  const deadline = Date.now() + 120_000;
  const replugged = () => simEvents.some((e) => e.includes('replugged'));
  const states = () => log.filter((e) => e.msg === 'adapter state');
  const readyAgainAt = () => {
    const lost = states().findIndex((e) => e.state === 'disconnected');
    return lost < 0 ? undefined : states().slice(lost).find((e) => e.state === 'ready')?.t;
  };
  const committedAfter = (at: number | undefined) => at !== undefined && log.some((e) => e.msg === 'records committed' && e.t > at);
  while (Date.now() < deadline && !(replugged() && committedAfter(readyAgainAt()))) {
    await new Promise((r) => setTimeout(r, 250));
  }
  const unpluggedAt = log.find((e) => e.msg === 'adapter state' && e.state === 'disconnected')?.t ?? 0;
  t.ok(log.some((e) => e.msg === 'records committed' && e.t < unpluggedAt), 'records were being committed before the pull (mid-trip)');
  t.ok(simEvents.some((e) => e.includes('unplugged')), 'the adapter was pulled');
  t.ok(replugged(), 'and plugged back');
  t.ok(states().some((e) => e.state === 'disconnected'), `the driver noticed (${states().map((e) => e.state).join(' → ')})`);
  t.ok(readyAgainAt(), 'the driver reopened the path and re-ran init');
  t.ok(committedAfter(readyAgainAt()), 'records are committed again after reconnecting');
  t.equal(dongle.exitCode, null, 'the dongle never crashed');
  dongle.kill('SIGTERM');
  const [code] = (await once(dongle, 'exit')) as [number | null];
  t.equal(code, 0);
  sim.kill('SIGTERM');
});
