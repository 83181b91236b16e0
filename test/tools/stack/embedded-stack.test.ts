// The one-command embedded stack: records flow from the simulated dongle to anchored batches; a second start resumes; `carchain stack` stops cleanly on Ctrl-C.
import t from 'tap';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { LogFn } from '../../../firmware/outbox/outbox.js';
import { startEmbeddedStack, type AnchoredBatch, type EmbeddedStack } from '../../../tools/stack/embedded-stack.js';

const cli = fileURLToPath(new URL('../../../tools/cli/carchain.ts', import.meta.url));

async function waitFor<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 120_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

const getJson = async <T>(url: string): Promise<{ status: number; body: T }> => {
  const res = await fetch(url);
  return { status: res.status, body: (await res.json()) as T };
};

t.test('in process: dongle records are anchored; a restart resumes with the same dongle, wallet, chain and records', async (t) => {
  t.setTimeout(300_000);
  const dataDir = mkdtempSync(join(tmpdir(), 'carchain-stack-'));
  const running: EmbeddedStack[] = [];
  // Stop before removing the directory: a validator still running would write into a deleted one.
  t.teardown(async () => {
    for (const stack of running) await stack.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });
  const committed: string[] = [];
  const log: LogFn = (_level, message, fields) => {
    if (message === 'records committed' && Array.isArray(fields?.ids)) committed.push(...(fields.ids as string[]));
  };
  const anchored: AnchoredBatch[] = [];
  const options = { dataDir, apiPort: 0, brokerPort: 0, timeScale: 60, batchIntervalMs: 500, log, onBatchAnchored: (b: AnchoredBatch) => anchored.push(b) };

  const first = await startEmbeddedStack(options);
  running.push(first);
  t.equal(first.resumed, false);
  t.equal(first.wallet.created, true);
  t.equal(first.dongle.pairingCode(), null, 'the wallet paired the dongle');
  t.equal(statSync(first.wallet.path).mode & 0o777, 0o600, 'wallet file is private');
  t.equal(statSync(first.wallet.passphraseFile).mode & 0o777, 0o600, 'passphrase file is private');
  const firstRecord = await waitFor('a committed record', () => committed[0]);
  const proof = await waitFor('its anchored proof', async () => {
    const r = await getJson<{ anchor?: { height: number } | null }>(`${first.apiUrl}/v1/records/${firstRecord}/proof`);
    return r.status === 200 && r.body.anchor ? r.body : undefined;
  });
  t.ok(proof.anchor!.height > 0, 'the record is in an anchored batch');
  t.ok(anchored.length > 0, 'onBatchAnchored reported it');
  const health = await getJson<{ ok: boolean }>(`${first.apiUrl}/health`);
  t.equal(health.status, 200);
  const { body: before } = await getJson<{ height: number }>(`${first.chainRpcUrl}/status`);
  const deviceId = first.deviceId;
  await first.stop();
  const committedBeforeStop = committed.length;

  const second = await startEmbeddedStack(options);
  running.push(second);
  t.equal(second.resumed, true);
  t.equal(second.wallet.created, false, 'the wallet is reused, not recreated');
  t.equal(second.deviceId, deviceId, 'the same dongle identity');
  t.equal(second.wallet.ownerAddress, first.wallet.ownerAddress);
  const { body: after } = await getJson<{ height: number }>(`${second.chainRpcUrl}/status`);
  t.ok(after.height >= before.height, `the chain resumes at its height (${before.height} → ${after.height})`);
  const again = await getJson<{ anchor?: { height: number } | null }>(`${second.apiUrl}/v1/records/${firstRecord}/proof`);
  t.equal(again.status, 200, 'a record anchored before the restart still has its proof');
  t.equal(again.body.anchor?.height, proof.anchor!.height);
  // Every record the dongle committed before the stop reaches the gateway (the outbox drained or resumes).
  const lastBefore = committed[committedBeforeStop - 1]!;
  await waitFor('the last record committed before the stop', async () => {
    const r = await fetch(`${second.apiUrl}/v1/records/${lastBefore}/proof`);
    await r.body?.cancel();
    return r.status === 200 || r.status === 202 ? true : undefined;
  });
  t.pass('the last record committed before the stop is at the gateway');
});

t.test('as a process: `carchain stack --json` reports up, anchored batches, and stops on SIGINT with exit 0', async (t) => {
  t.setTimeout(300_000);
  const dataDir = mkdtempSync(join(tmpdir(), 'carchain-stack-cli-'));
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }));
  const child = spawn(process.execPath, ['--import', 'tsx', cli, 'stack', '--json', '--data-dir', dataDir, '--api-port', '0', '--broker-port', '0', '--time-scale', '60'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  t.teardown(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  const events: Record<string, unknown>[] = [];
  createInterface({ input: child.stdout }).on('line', (line) => events.push(JSON.parse(line) as Record<string, unknown>));

  const up = await waitFor('the up line', () => events.find((e) => e.event === 'up'), 180_000);
  t.match(up, { resumed: false, apiUrl: /^http:\/\/127\.0\.0\.1:\d+$/, brokerUrl: /^mqtt:\/\/127\.0\.0\.1:\d+$/ });
  const stats = await getJson<{ ingest: { accepted: number } }>(`${String(up.apiUrl)}/stats`);
  t.equal(stats.status, 200);
  const batch = await waitFor('a batch-anchored line', () => events.find((e) => e.event === 'batch-anchored'), 180_000);
  t.ok(Number(batch.size) > 0 && Number(batch.height) > 0, `batch ${String(batch.batchId)} of ${String(batch.size)} at height ${String(batch.height)}`);
  child.kill('SIGINT');
  t.equal(await exited, 0, `exit 0 after SIGINT (stderr: ${stderr.slice(-500)})`);
  t.ok(events.some((e) => e.event === 'stopped'), 'said it stopped');
});
