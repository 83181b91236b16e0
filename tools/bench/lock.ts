// `npm run bench:lock`: car-lock handshake + first command over local TCP vs a plain TCP echo of the same sizes; JSON out.
//
// Both sides run in this one process (like the obd bench), so the numbers include the wallet's
// work too. The lock is the real CarLock (audit log fsynced per command) behind the real TCP
// server; the baseline is an unauthenticated, unencrypted echo with the same two round trips
// and the same frame sizes, measured in the same run.
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { CarLock } from '../../firmware/lock/car-lock.js';
import { connectTcpLockTransport } from '../../firmware/lock/tcp-lock-client.js';
import { startTcpLockServer } from '../../firmware/lock/tcp-lock-server.js';
import { SimulatedLockActuator } from '../../hardware/lock/lock-actuator.js';
import { sha256 } from '../../protocol/hash.js';
import { FrameDecoder, encodeLengthPrefixed } from '../../protocol/lock/framing.js';
import { resolvePrincipal, signKeySet, decodeKeySet, type KeySetFinality } from '../../protocol/lock/key-set.js';
import { LockSession } from '../../protocol/lock/lock-session.js';
import { PhoneSession } from '../../protocol/lock/phone-session.js';
import type { LockTransport } from '../../protocol/lock/transport.js';
import { publicKeyFromPrivate } from '../../protocol/signature.js';
import { utf8 } from '../../protocol/wire.js';
import { LockClient } from '../wallet/lock-client.js';

const N = Number(process.env.BENCH_N ?? 300);
const SUSTAIN_MS = Number(process.env.BENCH_SUSTAIN_MS ?? 3000);

/** Bench only: the handshake is measured, not key-set installation, so the proof is not checked. */
const acceptAnyProof: KeySetFinality = { verify: () => ({ height: 1, blockTime: Date.now() }) };

const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return Math.round(s[Math.min(s.length - 1, Math.floor(q * s.length))]! * 1000) / 1000;
};

async function timeRuns(run: () => Promise<void>): Promise<{ median: number; p99: number }> {
  for (let i = 0; i < 20; i++) await run();
  const ms: number[] = [];
  for (let i = 0; i < N; i++) {
    const start = performance.now();
    await run();
    ms.push(performance.now() - start);
  }
  return { median: quantile(ms, 0.5), p99: quantile(ms, 0.99) };
}

async function sustained(run: () => Promise<void>, concurrency: number): Promise<number> {
  let done = 0;
  const end = performance.now() + SUSTAIN_MS;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < end) {
        await run();
        done++;
      }
    }),
  );
  return Math.round((done / (performance.now() - start)) * 1000);
}

/** Echo server answering each frame with a frame of the size the lock would send back. */
async function startEcho(replySize: (frameLength: number) => number): Promise<{ server: Server; port: number }> {
  const server = createServer((socket) => {
    socket.setNoDelay(true);
    const d = new FrameDecoder();
    socket.on('data', (c: Buffer) => {
      for (const f of d.push(c)) {
        const n = replySize(f.length);
        if (n > 0) socket.write(encodeLengthPrefixed(new Uint8Array(n)));
      }
    });
    socket.on('error', () => socket.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as { port: number }).port };
}

const dir = mkdtempSync(join(tmpdir(), 'carchain-bench-lock-'));
const lockPriv = sha256(utf8('bench/lock'));
const ownerPriv = sha256(utf8('bench/owner'));
const vidHash = sha256(utf8('BENCHVIN000000001'));
const lock = CarLock.open({ dir, vidHash, lockPrivateKey: lockPriv, finality: acceptAnyProof, actuator: new SimulatedLockActuator() });
const keySet = signKeySet(
  { vidHash, epoch: 1, lockPublicKey: publicKeyFromPrivate(lockPriv), ownerPublicKey: publicKeyFromPrivate(ownerPriv), issuedAt: Date.now(), delegates: [], revoked: [] },
  ownerPriv,
);
lock.updateKeySet(keySet, new Uint8Array(1));
const server = await startTcpLockServer(lock);

// Frame sizes of one honest exchange, for the echo baseline.
const sizes: { sent: number[]; received: number[] } = { sent: [], received: [] };
{
  const t = await connectTcpLockTransport(server.port);
  const spy: LockTransport = {
    send: (f) => (sizes.sent.push(f.length), t.send(f)),
    receive: async (ms) => {
      const f = await t.receive(ms);
      sizes.received.push(f.length);
      return f;
    },
    close: () => t.close(),
  };
  const c = await LockClient.connect(spy, { vidHash, lockPublicKey: publicKeyFromPrivate(lockPriv), privateKey: ownerPriv });
  await c.run('status');
  await c.close();
}

const lockRun = async () => {
  const c = await LockClient.connect(await connectTcpLockTransport(server.port), { vidHash, lockPublicKey: publicKeyFromPrivate(lockPriv), privateKey: ownerPriv });
  await c.run('status');
  await c.close();
};

// HELLO → CHALLENGE; AUTH (no reply); CMD → RSP.
const [helloSize, authSize, cmdSize] = sizes.sent as [number, number, number];
const [challengeSize, rspSize] = sizes.received as [number, number];
const echo = await startEcho((n) => (n === helloSize ? challengeSize : n === cmdSize ? rspSize : 0));
const echoRun = async () => {
  const t = await connectTcpLockTransport(echo.port);
  await t.send(new Uint8Array(helloSize));
  await t.receive();
  await t.send(new Uint8Array(authSize));
  await t.send(new Uint8Array(cmdSize));
  await t.receive();
  await t.close();
};

// The same exchange with no I/O at all: both state machines in memory (pure CPU cost of the crypto).
const ks = decodeKeySet(keySet).keySet;
const pureRun = () => {
  const now = Date.now();
  const l = new LockSession({
    vidHash,
    lockPrivateKey: lockPriv,
    epoch: 1,
    resolve: (k, t) => resolvePrincipal(ks, k, { trustedNow: t, clockBelowFloor: false, proofBlockTime: now, stalenessMs: 1e9 }),
  });
  const p = new PhoneSession({ vidHash, lockPublicKey: publicKeyFromPrivate(lockPriv), privateKey: ownerPriv });
  l.onAuth(p.onChallenge(l.onHello(p.hello(now), now), now), now);
  const rc = l.receiveCommand(p.command('status', now).frame, now);
  p.onResponse(l.sealResponse(rc.counter, '', 0, now));
  return Promise.resolve();
};
const pure = await timeRuns(pureRun);
const auditDir = mkdtempSync(join(tmpdir(), 'carchain-bench-audit-'));
const { AuditLogFile } = await import('../../firmware/lock/audit-log-file.js');
const audit = AuditLogFile.open(join(auditDir, 'audit.log'), vidHash, lockPriv, publicKeyFromPrivate(lockPriv));
const auditAppend = await timeRuns(() => {
  audit.append({ time: Date.now(), epoch: 1, event: 'command', publicKey: null, detail: 'status ok' });
  return Promise.resolve();
});
audit.close();
rmSync(auditDir, { recursive: true, force: true });

const handshake = await timeRuns(lockRun);
const baseline = await timeRuns(echoRun);
const perSecond = await sustained(lockRun, 1);
const perSecond4 = await sustained(lockRun, 4);
const baselinePerSecond = await sustained(echoRun, 1);

await server.close();
lock.close();
await new Promise<void>((resolve) => echo.server.close(() => resolve()));
rmSync(dir, { recursive: true, force: true });

const ratio = (a: number, b: number) => Math.round((a / b) * 100) / 100;
console.log(
  JSON.stringify(
    {
      bench: 'lock',
      runs: N,
      frameBytes: { hello: helloSize, challenge: challengeSize, auth: authSize, command: cmdSize, response: rspSize },
      handshakePlusFirstCommandMs: handshake,
      baselineEchoMs: baseline,
      ratioMedian: ratio(handshake.median, baseline.median),
      breakdownMs: { pureHandshakeBothSidesNoIo: pure, auditAppendWithFsync: auditAppend },
      loadAverage1m: loadavg()[0],
      handshakesPerSecond: { sequential: perSecond, concurrency4: perSecond4, baselineEchoSequential: baselinePerSecond },
      goalMedianMsBelow: 20,
      goalMet: handshake.median < 20,
    },
    null,
    2,
  ),
);
