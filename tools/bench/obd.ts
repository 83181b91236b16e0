// `npm run bench:obd`: OBD sampling rate through a real pty (single- vs multi-PID), record pipeline rate, dongle RSS. JSON.
//
//   samples/s: the ELM327 simulator on a socat pty at 38400 baud with 30–50 ms ECU latency, read through
//              the real serialport binding by the real driver, single-PID vs multi-PID in alternating rounds
//   records/s: seal (RSA-3072) → outbox commit → uplink message signing → remove, vs one record per commit
//   RSS:       `carchain dongle run` (built JS) on the simulated car, paired, publishing to Mosquitto on
//              127.0.0.1:1883, sampled from /proc after warm-up, vs an idle Node process
import { spawn } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { decodePid } from '../../hardware/obd/j1979/mode01.js';
import { Elm327Adapter } from '../../hardware/obd/elm327/elm327-adapter.js';
import { SerialPortLink } from '../../hardware/serial/serial-port-link.js';
import { startElm327OnPty } from '../../hardware/sim/elm327-on-pty.js';
import { SqliteOutbox } from '../../firmware/outbox/sqlite-outbox.js';
import { RecordFactory } from '../../firmware/records/record-factory.js';
import { buildUplinkBatch } from '../../firmware/uplink/uplink-batch.js';
import { masterKeyFromSeed } from '../../protocol/hd-keys.js';
import { devicePoolKey, deviceRoot } from '../../protocol/device-keys.js';
import { poolKeyPair, poolMaterialFor } from '../../protocol/owner-keys.js';
import { authorisePoolKey } from '../../protocol/pool-authorisation.js';
import { derivePoolAddresses, poolIndexForDate } from '../../protocol/pools.js';
import { pairDongle } from '../wallet/pairing-client.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const ROUND_MS = Number(process.env.BENCH_ROUND_MS ?? 3000);
const PIDS = [0x0c, 0x0d, 0x05, 0x04, 0x11, 0x0f];
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const ratio = (a: number, b: number) => Math.round((a / b) * 100) / 100;

async function samplesPerSecond(ptyPath: string, multiPid: boolean): Promise<number> {
  const link = await SerialPortLink.open({ path: ptyPath, baudRate: 38400 });
  const adapter = new Elm327Adapter(link, { multiPid });
  try {
    await adapter.connect();
    await adapter.readPids(PIDS); // warm-up: the first request after init may search
    let samples = 0;
    const start = performance.now();
    while (performance.now() - start < ROUND_MS) {
      for (const r of await adapter.readPids(PIDS)) {
        decodePid(r.pid, r.data);
        samples++;
      }
    }
    return (samples / (performance.now() - start)) * 1000;
  } finally {
    await adapter.close();
  }
}

async function benchSampling() {
  const sim = await startElm327OnPty({ scenario: 'idle', baudRate: 38400 });
  try {
    const single: number[] = [];
    const multi: number[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      single.push(await samplesPerSecond(sim.ptyPath, false));
      multi.push(await samplesPerSecond(sim.ptyPath, true));
    }
    return {
      setup: 'simulator on a socat pty, 38400 baud, 30-50 ms ECU latency; real serialport binding and driver; 6 PIDs per poll',
      samplesPerSec: { multiPid: Math.round(median(multi)), singlePid: Math.round(median(single)), ratio: ratio(median(multi), median(single)) },
      rounds: { multiPid: multi.map(Math.round), singlePid: single.map(Math.round) },
      goal: 'multi-PID >= 3x single-PID',
    };
  } finally {
    await sim.stop();
  }
}

function benchRecordPipeline(dir: string) {
  const owner = masterKeyFromSeed(new Uint8Array(64).fill(3));
  const material = poolMaterialFor(owner, 0, 8);
  const addresses = derivePoolAddresses(material);
  const rsa = generateKeyPairSync('rsa', { modulusLength: 3072, publicExponent: 65537 });
  const factory = new RecordFactory({ vid: 'LBVNU79049SB81546', ownerRsaPublicKey: rsa.publicKey, poolAddresses: addresses, userSeed: material.userSeed });
  const now = Date.now();
  const index = poolIndexForDate(material.userSeed, now, 8);
  const k = devicePoolKey(deviceRoot(new Uint8Array(32).fill(1)), index);
  const keys = { authorisation: authorisePoolKey(poolKeyPair(owner, 0, index).privateKey, { devicePublicKey: k.publicKey, notBefore: now - 1e9, notAfter: now + 1e9 }), privateKey: k.privateKey };
  const pids = { RPM: 812, SPEED: 42, COOLANT_TEMP: 88, ENGINE_LOAD: 21.6, THROTTLE_POS: 14.1, INTAKE_TEMP: 31 };
  const run = (perCommit: number, total: number): number => {
    const outbox = SqliteOutbox.open({ path: join(dir, `bench-${perCommit}-${Math.random()}.db`) });
    let seq = 0;
    const start = performance.now();
    while (seq < total) {
      const batch = Array.from({ length: perCommit }, () => factory.snapshot({ t: now, seq: seq++, pids }));
      outbox.enqueue(batch);
      for (let entries = outbox.peekBatch({ maxRecords: 64, maxBytes: 512 * 1024 }); entries.length; entries = outbox.peekBatch({ maxRecords: 64, maxBytes: 512 * 1024 })) {
        const built = buildUplinkBatch(entries, () => keys, now);
        if (built.kind !== 'message') throw new Error(`unexpected batch ${built.kind}`);
        outbox.remove(entries.map((e) => e.id));
      }
    }
    const rate = (total / (performance.now() - start)) * 1000;
    outbox.close();
    return rate;
  };
  const batched: number[] = [];
  const single: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    batched.push(run(16, 640));
    single.push(run(1, 160));
  }
  return {
    setup: 'obd-snapshot records sealed to RSA-3072, committed (WAL, synchronous=FULL), signed into uplink messages of <= 64, removed',
    recordsPerSec: { sixteenPerCommit: Math.round(median(batched)), onePerCommit: Math.round(median(single)), ratio: ratio(median(batched), median(single)) },
    rounds: { sixteenPerCommit: batched.map(Math.round), onePerCommit: single.map(Math.round) },
  };
}

function rssMb(pid: number): number | null {
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Math.round((Number(match[1]) / 1024) * 10) / 10 : null;
  } catch {
    return null;
  }
}

async function sampleRss(pid: number, warmupMs: number, samples: number): Promise<number[]> {
  await new Promise((r) => setTimeout(r, warmupMs));
  const out: number[] = [];
  for (let i = 0; i < samples; i++) {
    const v = rssMb(pid);
    if (v !== null) out.push(v);
    await new Promise((r) => setTimeout(r, 1000));
  }
  return out;
}

async function benchRss(dir: string) {
  const cli = fileURLToPath(new URL('../../dist/tools/cli/carchain.js', import.meta.url));
  if (!existsSync(cli)) return { skipped: 'run `npm run build` first (the RSS figure is for the built JS, not tsx)' };
  writeFileSync(join(dir, 'dongle.yaml'), [
    `device: { dataDir: ${join(dir, 'data')} }`,
    'obd: { port: "sim:driving", snapshotIntervalMs: 5000, simTimeScale: 5 }',
    'gps: { port: "sim:route" }',
    'uplink: { brokerUrl: "mqtt://127.0.0.1:1883", healthIntervalMs: 10000 }',
    'pairing: { port: 0 }',
    'log: { level: info }',
  ].join('\n'));
  const dongle = spawn(process.execPath, [cli, 'dongle', 'run', '--config', join(dir, 'dongle.yaml')], { stdio: ['ignore', 'pipe', 'inherit'] });
  const idle = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
  try {
    const started = await waitForLine(dongle, 10_000);
    if (started.pairing) {
      const info = (await (await fetch(`${started.pairing}/pairing`)).json()) as { pairingCode: string };
      await pairDongle({ url: started.pairing, pairingCode: info.pairingCode, root: masterKeyFromSeed(new Uint8Array(64).fill(7)), vid: 'LBVNU79049SB81546', vehicleIndex: 0, poolSize: 8, agent: 'bench' });
    }
    const [dongleRss, idleRss] = await Promise.all([sampleRss(dongle.pid!, 10_000, 20), sampleRss(idle.pid!, 10_000, 20)]);
    return {
      setup: 'built `carchain dongle run`, simulated car (x5 time), simulated GPS, paired, publishing to 127.0.0.1:1883; VmRSS sampled 1/s for 20 s after 10 s warm-up',
      rssMb: { dongle: median(dongleRss), idleNode: median(idleRss), dongleMax: Math.max(...dongleRss) },
      goal: 'dongle < 100 MB',
    };
  } finally {
    dongle.kill('SIGTERM');
    idle.kill('SIGTERM');
  }
}

function waitForLine(child: ReturnType<typeof spawn>, timeoutMs: number): Promise<{ pairing?: string }> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve({}), timeoutMs);
    createInterface({ input: child.stdout! }).on('line', (line) => {
      try {
        const entry = JSON.parse(line) as { msg?: string; pairing?: string };
        if (entry.msg === 'dongle started') {
          clearTimeout(timer);
          resolve({ pairing: entry.pairing });
        }
      } catch {
        // not a log line
      }
    });
  });
}

const dir = mkdtempSync(join(tmpdir(), 'carchain-bench-obd-'));
try {
  const report = {
    bench: 'obd',
    node: process.version,
    statistic: `median over ${ROUNDS} rounds`,
    sampling: await benchSampling(),
    recordPipeline: benchRecordPipeline(dir),
    dongleRss: await benchRss(dir),
  };
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
