// The clustered KvStore: Redis Cluster through ioredis, one slot per address (hash tags), insert-if-absent in Lua.
//
// A batch is split by address; each address's entries go as one pipeline to the master of its slot
// (script calls, then WAIT when `replicas` > 0, on the same connection so WAIT covers exactly those
// writes). Groups run concurrently. A group answered with a redirection or cluster-down error (a
// failover in progress) is sent again after `retryDelayMs` until the operation deadline; the script is
// idempotent, and an outcome seen in an earlier attempt wins over the `duplicate` a resend reports.
// Durability (docs/kv-store.md): a resolved put is executed on a master; with WAIT it is also on
// `replicas` replicas' memory (not their disk). Without WAIT a failover can lose acknowledged writes.
// Cancellation: none per call; each call is bounded by `operationTimeoutMs` (KV_UNAVAILABLE, temporary;
// for puts mayHaveSucceeded, since ioredis may still deliver the commands after the deadline).
import { Cluster, type ClusterOptions } from 'ioredis';
import { encodeCursor, planRange } from './kv-cursor.js';
import { DEFAULT_PREFIX, PUT_IF_ABSENT_LUA, PUT_RESULT, checkPrefix, indexKey, lexBound, valueKey } from './redis-kv-layout.js';
import { KvError, checkEntry, checkGetKey, type KvEntry, type KvHealth, type KvStore, type PutOutcome, type RangeOptions, type RangePage } from './kv-store.js';

export interface ClusterNodeAddress {
  host: string;
  port: number;
}

export interface RedisClusterKvStoreOptions {
  /** Seed nodes; ioredis discovers the rest. */
  nodes: readonly ClusterNodeAddress[];
  /** Key prefix (default 'cc'); tests use a unique one per run. */
  prefix?: string;
  /** WAIT for this many replicas after every put (default 0 = no WAIT). */
  replicas?: number;
  /** WAIT timeout (default 1000 ms); fewer replicas in time is KV_REPLICATION_TIMEOUT. */
  waitTimeoutMs?: number;
  /** Upper bound of one call, retries included (default 5000 ms). */
  operationTimeoutMs?: number;
  /** Pause before resending a group after a failover error (default 200 ms). */
  retryDelayMs?: number;
  /** Extra ioredis Cluster options (tests shorten timeouts). */
  clusterOptions?: ClusterOptions;
}

type PipelineResult = [Error | null, unknown][];
interface PutCommander {
  ccKvPutIfAbsent(valueKey: string, indexKey: string, record: Buffer, proof: Buffer, receivedAt: string, key: Buffer, wait: string): unknown;
  wait(replicas: number, timeoutMs: number): unknown;
  exec(): Promise<PipelineResult | null>;
}

/** Parses 'host:port,host:port' (the CARCHAIN_REDIS_CLUSTER format). */
export function parseClusterNodes(spec: string): ClusterNodeAddress[] {
  return spec.split(',').map((part) => {
    const match = /^\s*([^\s:]+):(\d{1,5})\s*$/.exec(part);
    if (match === null) throw new KvError('KV_OPEN_FAILED', `bad cluster node '${part}', expected host:port`);
    return { host: match[1]!, port: Number(match[2]) };
  });
}

const buf = (bytes: Uint8Array) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
/** Reply errors that mean "the cluster is moving": resend later. Others are bugs or data problems. */
const TRANSIENT_REPLY = /^(MOVED|ASK|TRYAGAIN|CLUSTERDOWN|LOADING|READONLY|MASTERDOWN|NOREPLICAS|BUSY)\b/;

export class RedisClusterKvStore implements KvStore {
  private readonly cluster: Cluster;
  private readonly prefix: string;
  private readonly replicas: number;
  private readonly waitTimeoutMs: number;
  private readonly operationTimeoutMs: number;
  private readonly retryDelayMs: number;
  private readonly inFlight = new Set<Promise<unknown>>();
  private closed = false;

  /** Connects and waits until the cluster is ready (KV_UNAVAILABLE when it is not within operationTimeoutMs). */
  static async connect(options: RedisClusterKvStoreOptions): Promise<RedisClusterKvStore> {
    const prefix = checkPrefix(options.prefix ?? DEFAULT_PREFIX);
    const replicas = options.replicas ?? 0;
    if (!Number.isSafeInteger(replicas) || replicas < 0) throw new KvError('KV_OPEN_FAILED', 'replicas must be a non-negative integer');
    if (options.nodes.length === 0) throw new KvError('KV_OPEN_FAILED', 'no cluster nodes given');
    const cluster = new Cluster(
      options.nodes.map((n) => ({ host: n.host, port: n.port })),
      { lazyConnect: true, retryDelayOnClusterDown: 200, retryDelayOnFailover: 200, slotsRefreshTimeout: 2000, ...options.clusterOptions },
    );
    cluster.defineCommand('ccKvPutIfAbsent', { numberOfKeys: 2, lua: PUT_IF_ABSENT_LUA });
    // Errors also reach the callers of the commands; without a listener ioredis would log them.
    cluster.on('error', () => undefined);
    const store = new RedisClusterKvStore(cluster, prefix, replicas, options);
    try {
      await withDeadline(cluster.connect(), store.operationTimeoutMs, 'connecting to the cluster');
    } catch (err) {
      cluster.disconnect();
      throw toKvError(err, false);
    }
    return store;
  }

  private constructor(cluster: Cluster, prefix: string, replicas: number, options: RedisClusterKvStoreOptions) {
    this.cluster = cluster;
    this.prefix = prefix;
    this.replicas = replicas;
    this.waitTimeoutMs = options.waitTimeoutMs ?? 1000;
    this.operationTimeoutMs = options.operationTimeoutMs ?? 5000;
    this.retryDelayMs = options.retryDelayMs ?? 200;
  }

  putIfAbsent(entries: readonly KvEntry[]): Promise<PutOutcome[]> {
    return this.track(true, async (deadline) => {
      for (const entry of entries) checkEntry(entry);
      const outcomes: (PutOutcome | undefined)[] = new Array<PutOutcome | undefined>(entries.length).fill(undefined);
      const groups = new Map<string, number[]>();
      entries.forEach((entry, i) => {
        const group = groups.get(entry.address);
        if (group === undefined) groups.set(entry.address, [i]);
        else group.push(i);
      });
      // allSettled: when one address fails, the call still settles only after every group stopped, so
      // close() (which waits for the call) never races a group that is still writing.
      const settled = await Promise.allSettled([...groups.values()].map((indexes) => this.putGroup(entries, indexes, outcomes, deadline)));
      const failure = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failure !== undefined) throw failure.reason;
      return outcomes.map((o) => o!);
    });
  }

  /** One address's entries (in batch order, so a repeated id sees its first copy) until done or the deadline. */
  private async putGroup(entries: readonly KvEntry[], indexes: number[], outcomes: (PutOutcome | undefined)[], deadline: number): Promise<void> {
    const waitFlag = this.replicas > 0 ? '1' : '0';
    for (;;) {
      const pipeline = this.cluster.pipeline() as unknown as PutCommander;
      for (const i of indexes) {
        const e = entries[i]!;
        pipeline.ccKvPutIfAbsent(
          valueKey(this.prefix, e.address, e.encodedKey), indexKey(this.prefix, e.address),
          buf(e.record), buf(e.originProof), String(e.receivedAt), buf(e.encodedKey), waitFlag,
        );
      }
      if (this.replicas > 0) pipeline.wait(this.replicas, this.waitTimeoutMs);
      let results: PipelineResult;
      let transient: unknown = null;
      try {
        results = (await pipeline.exec()) ?? [];
      } catch (err) {
        if (!isTransient(err)) throw err;
        results = [];
        transient = err;
      }
      indexes.forEach((entryIndex, k) => {
        const [err, reply] = results[k] ?? [null, undefined];
        if (err !== null) {
          if (!isTransient(err)) throw toKvError(err, true);
          transient ??= err;
          return;
        }
        if (reply === undefined) return;
        const outcome = PUT_RESULT[Number(reply) as keyof typeof PUT_RESULT];
        if (outcome === undefined) throw new KvError('KV_BACKEND_ERROR', `unexpected script reply ${JSON.stringify(reply)}`);
        outcomes[entryIndex] ??= outcome;
      });
      if (transient === null && this.replicas > 0) {
        const [err, acked] = results[indexes.length] ?? [new Error('no WAIT reply'), 0];
        if (err !== null && !isTransient(err)) throw toKvError(err, true);
        if (err !== null) transient = err;
        else if (Number(acked) < this.replicas) {
          throw new KvError('KV_REPLICATION_TIMEOUT', `WAIT: ${Number(acked)} of ${this.replicas} replicas within ${this.waitTimeoutMs} ms`, { temporary: true, mayHaveSucceeded: true });
        }
      }
      if (transient === null) return;
      if (Date.now() + this.retryDelayMs >= deadline) throw toKvError(transient, true);
      this.cluster.refreshSlotsCache();
      await sleep(this.retryDelayMs);
    }
  }

  get(address: string, encodedKey: Uint8Array): Promise<KvEntry | null> {
    return this.track(false, async () => {
      checkGetKey(address, encodedKey);
      const [record, proof, receivedAt] = await this.cluster.hmgetBuffer(valueKey(this.prefix, address, encodedKey), 'r', 'p', 't');
      if (record === null || record === undefined) return null;
      return toEntry(address, encodedKey, record, proof, receivedAt);
    });
  }

  range(address: string, start: Uint8Array, end: Uint8Array, options: RangeOptions): Promise<RangePage> {
    return this.track(false, async () => {
      const plan = planRange(address, start, end, options);
      if (plan === null) return { entries: [], nextCursor: null };
      const members = await this.cluster.zrangebylexBuffer(
        indexKey(this.prefix, address), lexBound(plan.fromInclusive, plan.from), lexBound(false, plan.end), 'LIMIT', 0, plan.limit + 1,
      );
      const keys = members.slice(0, plan.limit);
      // Same slot, so one pipeline to one node. The script writes the value before the index member.
      const pipeline = this.cluster.pipeline();
      for (const key of keys) pipeline.hmgetBuffer(valueKey(this.prefix, address, key), 'r', 'p', 't');
      const replies = keys.length === 0 ? [] : ((await pipeline.exec()) ?? []);
      const entries = keys.map((key, i) => {
        const [err, fields] = replies[i] ?? [new Error('missing reply'), null];
        if (err !== null) throw err;
        const [record, proof, receivedAt] = fields as (Buffer | null)[];
        if (record === null || record === undefined) throw new KvError('KV_BACKEND_ERROR', `index member without a value under ${address}`);
        return toEntry(address, key, record, proof, receivedAt);
      });
      const nextCursor = members.length > plan.limit ? encodeCursor(keys[keys.length - 1]!) : null;
      return { entries, nextCursor };
    });
  }

  health(): Promise<KvHealth> {
    const failed = (err: unknown): KvHealth => ({ backend: 'redis-cluster', ok: false, detail: { status: this.cluster.status, error: err instanceof Error ? err.message : String(err) } });
    if (this.closed) return Promise.reject(new KvError('KV_CLOSED', 'the KV store is closed'));
    // The deadline of track() must not turn a hanging cluster into a rejection: health never rejects.
    return this.track(false, async () => {
      const detail: Record<string, unknown> = { status: this.cluster.status, prefix: this.prefix, replicas: this.replicas };
      try {
        const masters = this.cluster.nodes('master');
        detail.masters = masters.map((m) => `${m.options.host}:${m.options.port}`);
        const info = String(await masters[0]!.cluster('INFO'));
        const state = /cluster_state:(\w+)/.exec(info)?.[1] ?? 'unknown';
        detail.clusterState = state;
        return { backend: 'redis-cluster', ok: state === 'ok' && this.cluster.status === 'ready', detail };
      } catch (err) {
        return { backend: 'redis-cluster', ok: false, detail: { ...detail, error: err instanceof Error ? err.message : String(err) } };
      }
    }).catch(failed);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.allSettled([...this.inFlight]);
    try {
      // QUIT waits for each node's replies; a dead node must not hold close() up.
      await withDeadline(this.cluster.quit(), this.operationTimeoutMs, 'QUIT');
    } catch {
      this.cluster.disconnect();
    }
  }

  /** Refuses calls after close(), bounds each by the operation deadline and maps errors. */
  private track<T>(isWrite: boolean, body: (deadline: number) => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new KvError('KV_CLOSED', 'the KV store is closed'));
    const deadline = Date.now() + this.operationTimeoutMs;
    const run = withDeadline(body(deadline), this.operationTimeoutMs, 'KV operation').catch((err: unknown) => {
      throw toKvError(err, isWrite);
    });
    this.inFlight.add(run);
    const forget = () => this.inFlight.delete(run);
    run.then(forget, forget);
    return run;
  }
}

function toEntry(address: string, encodedKey: Uint8Array, record: Buffer, proof: Buffer | null | undefined, receivedAt: Buffer | null | undefined): KvEntry {
  return {
    address,
    encodedKey: new Uint8Array(encodedKey),
    record: new Uint8Array(record),
    originProof: new Uint8Array(proof ?? Buffer.alloc(0)),
    receivedAt: Number(receivedAt?.toString('latin1') ?? 0),
  };
}

function isTransient(err: unknown): boolean {
  if (!(err instanceof Error) || err instanceof KvError) return false;
  // ReplyError: the server answered; only cluster-state answers are worth a resend.
  if (err.name === 'ReplyError') return TRANSIENT_REPLY.test(err.message);
  // Anything else from ioredis is about the connection: closed, refused, reset, all nodes failed.
  return true;
}

function toKvError(err: unknown, isWrite: boolean): unknown {
  if (err instanceof KvError) return err;
  if (!(err instanceof Error)) return err;
  if (isTransient(err)) {
    return new KvError('KV_UNAVAILABLE', `redis cluster: ${err.message}`, { cause: err, temporary: true, mayHaveSucceeded: isWrite });
  }
  return new KvError('KV_BACKEND_ERROR', `redis cluster: ${err.message}`, { cause: err });
}

class DeadlineError extends Error {}

function withDeadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new DeadlineError(`${what} did not finish within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
