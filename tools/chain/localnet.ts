// A local chain of N validator processes (`carchain chain start`) on loopback for tests and benchmarks: start, kill -9, pause, restart, faults, block comparison.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { initChainHomes, type InitResult } from '../../gateway/chain/node/chain-home.js';
import { ChainClient, type ChainStatus } from '../../gateway/chain/client/chain-client.js';
import type { TimeoutConfig } from '../../gateway/chain/consensus/timeouts.js';

/** Fast rounds: a validator that is down costs one propose timeout per height it would propose (the liveness tests). */
export const FAST_TIMEOUTS: TimeoutConfig = { propose: { baseMs: 600, deltaMs: 200 }, prevote: { baseMs: 300, deltaMs: 150 }, precommit: { baseMs: 300, deltaMs: 150 } };

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const CLI = join(repoRoot, 'tools/cli/carchain.ts');

async function portFree(port: number): Promise<boolean> {
  return new Promise((done) => {
    const s = createServer();
    s.once('error', () => done(false));
    s.listen(port, '127.0.0.1', () => s.close(() => done(true)));
  });
}

/** A base port with 2·n free ports above it. */
export async function freePortRange(n: number): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    // Below the kernel's ephemeral range (32768+), so outgoing connections cannot take a port between the check and the listen.
    const base = 20_000 + 2 * Math.floor(Math.random() * 6_000);
    let ok = true;
    for (let p = base; p < base + 2 * n && ok; p++) ok = await portFree(p);
    if (ok) return base;
  }
  throw new Error('no free port range');
}

export class Localnet {
  readonly dir = mkdtempSync(join(tmpdir(), 'carchain-localnet-'));
  init!: InitResult;
  readonly procs: (ChildProcess | null)[] = [];
  readonly logs: string[][] = [];

  /** `timeouts`: the genesis round timeouts (the benchmark runs with the production defaults). */
  constructor(readonly size: number, readonly blockIntervalMs = 200, readonly emptyBlockIntervalMs = blockIntervalMs, readonly timeouts: TimeoutConfig = FAST_TIMEOUTS) {}

  async create(patch?: (i: number, config: Record<string, unknown>) => void): Promise<this> {
    const base = await freePortRange(this.size);
    this.init = initChainHomes({ validators: this.size, outDir: this.dir, chainId: 'carchain-test', basePort: base, blockIntervalMs: this.blockIntervalMs, emptyBlockIntervalMs: this.emptyBlockIntervalMs, testMode: true });
    const genesisPath = this.init.genesisFile;
    const genesis = JSON.parse(readFileSync(genesisPath, 'utf8')) as Record<string, unknown>;
    genesis.consensus = { timeouts: this.timeouts };
    const text = `${JSON.stringify(genesis, null, 2)}\n`;
    writeFileSync(genesisPath, text);
    for (const h of this.init.homes) writeFileSync(join(h.home, 'genesis.json'), text);
    if (patch !== undefined) {
      this.init.homes.forEach((h, i) => {
        const path = join(h.home, 'config.yaml');
        const config = parseYaml(readFileSync(path, 'utf8')) as Record<string, unknown>;
        patch(i, config);
        writeFileSync(path, stringifyYaml(config));
      });
    }
    return this;
  }

  rpc(i: number): string {
    return `http://127.0.0.1:${this.init.homes[i]!.rpcPort}`;
  }

  client(i: number): ChainClient {
    return new ChainClient([this.rpc(i)], 5000);
  }

  start(i: number): void {
    // Extra node flags for the validator processes, e.g. CARCHAIN_LOCALNET_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" to profile them.
    const nodeArgs = (process.env.CARCHAIN_LOCALNET_NODE_ARGS ?? '').split(' ').filter((a) => a !== '');
    const child = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', CLI, 'chain', 'start', '--home', this.init.homes[i]!.home], { stdio: ['ignore', 'pipe', 'pipe'] });
    const lines = (this.logs[i] ??= []);
    const collect = (chunk: Buffer): void => {
      for (const line of chunk.toString('utf8').split('\n')) if (line.trim() !== '') lines.push(line);
      if (lines.length > 5000) lines.splice(0, lines.length - 5000);
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    this.procs[i] = child;
  }

  startAll(): void {
    for (let i = 0; i < this.size; i++) this.start(i);
  }

  async kill(i: number, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const child = this.procs[i];
    if (child === null || child === undefined) return;
    this.procs[i] = null;
    if (child.exitCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill(signal);
    await exited;
  }

  pause(i: number): void {
    this.procs[i]?.kill('SIGSTOP');
  }

  resume(i: number): void {
    this.procs[i]?.kill('SIGCONT');
  }

  async close(): Promise<void> {
    for (let i = 0; i < this.size; i++) {
      this.resume(i);
      await this.kill(i);
    }
    rmSync(this.dir, { recursive: true, force: true });
  }

  async status(i: number): Promise<ChainStatus | null> {
    try {
      return await this.client(i).status();
    } catch {
      return null;
    }
  }

  async heights(nodes = this.running()): Promise<number[]> {
    return Promise.all(nodes.map(async (i) => (await this.status(i))?.height ?? -1));
  }

  running(): number[] {
    return this.procs.flatMap((p, i) => (p === null || p === undefined ? [] : [i]));
  }

  async waitForHeight(height: number, timeoutMs = 60_000, nodes = this.running()): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hs = await this.heights(nodes);
      if (hs.every((h) => h >= height)) return;
      if (Date.now() > deadline) throw new Error(`timeout waiting for height ${height}: ${hs.join(',')}\n${this.tail()}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  async maxHeight(nodes = this.running()): Promise<number> {
    return Math.max(...(await this.heights(nodes)));
  }

  /** Compares block ids at every height 1..upTo across the nodes; returns the heights compared. Throws on a fork. */
  async assertNoFork(upTo: number, nodes = this.running()): Promise<number> {
    for (let h = 1; h <= upTo; h++) {
      const ids = await Promise.all(nodes.map(async (i) => (await this.client(i).block(h)).blockId));
      if (new Set(ids).size !== 1) throw new Error(`fork at height ${h}: ${ids.join(' ')}`);
    }
    return upTo;
  }

  async setFaults(i: number, faults: Record<string, unknown>): Promise<void> {
    const res = await fetch(`${this.rpc(i)}/admin/faults`, { method: 'POST', body: JSON.stringify(faults) });
    if (!res.ok) throw new Error(`faults on ${i}: HTTP ${res.status}`);
  }

  address(i: number): string {
    return this.init.homes[i]!.address;
  }

  privateKey(i: number): Uint8Array {
    const key = JSON.parse(readFileSync(join(this.init.homes[i]!.home, 'validator-key.json'), 'utf8')) as { privateKey: string };
    return Uint8Array.from(Buffer.from(key.privateKey, 'hex'));
  }

  tail(n = 15): string {
    return this.logs.map((l, i) => `--- node${i}\n${(l ?? []).slice(-n).join('\n')}`).join('\n');
  }
}
