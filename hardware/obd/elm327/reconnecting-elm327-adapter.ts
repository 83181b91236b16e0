// ObdAdapter that survives an unplugged or hung ELM327: reopens the port by the same path, re-runs init, carries on.
//
// A supervisor loop owns one Elm327Adapter per opened ByteLink. When the link ends by itself (adapter pulled,
// EIO, port closed), or the adapter stops answering (`maxConsecutiveTimeouts` timeouts in a row), or init
// fails on a fresh link, the loop waits a back-off (0.5 s doubling to 30 s, ± jitter; reset after a good
// init) and asks the ByteLinkOpener for a new link. States: connecting → ready | ignition-off, and
// disconnected while no link works.
//
// Cancellation rules:
// - Calls made while no initialised adapter is there (disconnected, reopening, init running) reject at once
//   with a temporary ELM_DISCONNECTED; they never wait for a reconnect, so they never hang.
// - Calls in flight when the link ends reject with ELM_DISCONNECTED (from the inner link).
// - connect() starts the supervisor (idempotent) and settles with the outcome of the next open+init attempt:
//   the info, or that attempt's error (the supervisor keeps retrying; watch onStateChange for `ready`).
// - close() stops the loop (a pending back-off sleep is cut short), closes the link, rejects pending
//   connect() calls and every later call with ELM_CLOSED.
import type { ByteLinkOpener } from '../../serial/byte-link.js';
import type {
  AdapterInfo,
  AdapterState,
  DtcKind,
  ObdAdapter,
  RawDtcResponse,
  RawFreezeFrameResponse,
  RawPidResponse,
} from '../obd-adapter.js';
import { Elm327Adapter, type Elm327AdapterOptions } from './elm327-adapter.js';
import { Elm327Error, isElm327Error } from './elm327-errors.js';
import { realTimers, sleep, type Timers } from './timers.js';

export interface ReconnectOptions {
  /** First back-off (default 500 ms); doubles per failed attempt. */
  initialBackoffMs?: number;
  /** Back-off ceiling (default 30 s). */
  maxBackoffMs?: number;
  /** ± fraction of the back-off drawn at random (default 0.2), so a fleet does not retry in lockstep. */
  jitter?: number;
  /** In [0, 1); injectable for tests. */
  random?: () => number;
  /** Timeouts in a row after which the adapter counts as hung and the link is reopened (default 3). */
  maxConsecutiveTimeouts?: number;
  timers?: Timers;
}

interface Waiter {
  resolve: (info: AdapterInfo) => void;
  reject: (error: unknown) => void;
}

/** The delay before reconnect attempt `attempt` (0-based): exponential, capped, jittered. */
export function backoffDelay(attempt: number, options: Required<Pick<ReconnectOptions, 'initialBackoffMs' | 'maxBackoffMs' | 'jitter' | 'random'>>): number {
  const base = Math.min(options.maxBackoffMs, options.initialBackoffMs * 2 ** Math.min(attempt, 30));
  const spread = base * options.jitter * (2 * options.random() - 1);
  return Math.max(0, Math.round(base + spread));
}

export class ReconnectingElm327Adapter implements ObdAdapter {
  private readonly timers: Timers;
  private readonly backoff: Required<Pick<ReconnectOptions, 'initialBackoffMs' | 'maxBackoffMs' | 'jitter' | 'random'>>;
  private readonly maxConsecutiveTimeouts: number;
  private readonly listeners = new Set<(state: AdapterState) => void>();
  private readonly stop = new AbortController();
  private currentState: AdapterState = 'disconnected';
  private current: Elm327Adapter | null = null;
  private supervisor: Promise<void> | null = null;
  private waiters: Waiter[] = [];
  private attemptsSinceSuccess = 0;

  constructor(
    private readonly opener: ByteLinkOpener,
    private readonly options: Elm327AdapterOptions & ReconnectOptions = {},
  ) {
    this.timers = options.timers ?? realTimers;
    this.backoff = {
      initialBackoffMs: options.initialBackoffMs ?? 500,
      maxBackoffMs: options.maxBackoffMs ?? 30_000,
      jitter: options.jitter ?? 0.2,
      random: options.random ?? Math.random,
    };
    this.maxConsecutiveTimeouts = options.maxConsecutiveTimeouts ?? 3;
  }

  get state(): AdapterState {
    return this.currentState;
  }

  /** The current adapter's info, or null while disconnected. */
  get info(): AdapterInfo | null {
    return this.current?.info ?? null;
  }

  /** Open+init attempts that failed since the last success (what the next back-off is computed from). */
  get failedAttempts(): number {
    return this.attemptsSinceSuccess;
  }

  onStateChange(listener: (state: AdapterState) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  connect(): Promise<AdapterInfo> {
    if (this.stop.signal.aborted) return Promise.reject(closedError());
    const adapter = this.current;
    if (adapter !== null && adapter.info !== null && (adapter.state === 'ready' || adapter.state === 'ignition-off')) {
      return Promise.resolve(adapter.info);
    }
    const outcome = new Promise<AdapterInfo>((resolve, reject) => this.waiters.push({ resolve, reject }));
    this.supervisor ??= this.supervise().catch(() => undefined);
    return outcome;
  }

  supportedPids(): Promise<number[]> {
    return this.call((a) => a.supportedPids());
  }

  readPids(pids: readonly number[]): Promise<RawPidResponse[]> {
    return this.call((a) => a.readPids(pids));
  }

  readFreezeFrame(pids: readonly number[], frame: number): Promise<RawFreezeFrameResponse[]> {
    return this.call((a) => a.readFreezeFrame(pids, frame));
  }

  readDtcs(kind: DtcKind): Promise<RawDtcResponse[]> {
    return this.call((a) => a.readDtcs(kind));
  }

  readVin(): Promise<string | null> {
    return this.call((a) => a.readVin());
  }

  readCalibrationIds(): Promise<string[]> {
    return this.call((a) => a.readCalibrationIds());
  }

  batteryVoltage(): Promise<number | null> {
    return this.call((a) => a.batteryVoltage());
  }

  async close(): Promise<void> {
    if (!this.stop.signal.aborted) this.stop.abort();
    this.settleWaiters(null, closedError());
    this.setState('closed');
    const adapter = this.current;
    this.current = null;
    // The supervisor is not awaited: it may sit in opener.open(); it sees the abort and closes what it gets.
    await adapter?.close();
  }

  private setState(state: AdapterState): void {
    if (this.currentState === state || this.currentState === 'closed') return;
    this.currentState = state;
    for (const listener of [...this.listeners]) listener(state);
  }

  private settleWaiters(info: AdapterInfo | null, error: unknown): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const waiter of waiters) {
      if (info !== null) waiter.resolve(info);
      else waiter.reject(error);
    }
  }

  private async call<T>(operation: (adapter: Elm327Adapter) => Promise<T>): Promise<T> {
    if (this.stop.signal.aborted) throw closedError();
    const adapter = this.current;
    if (adapter === null || adapter.info === null || (adapter.state !== 'ready' && adapter.state !== 'ignition-off')) {
      throw new Elm327Error('ELM_DISCONNECTED', `the ELM327 on ${this.opener.description} is not connected (state ${this.currentState})`, {
        temporary: true,
      });
    }
    try {
      return await operation(adapter);
    } catch (error) {
      if (isElm327Error(error, 'ELM_TIMEOUT') && adapter.consecutiveTimeouts >= this.maxConsecutiveTimeouts) {
        // The adapter hung (some clones and Bluetooth bridges do): drop the link; the supervisor reopens it.
        void adapter.close().catch(() => undefined);
      }
      throw error;
    }
  }

  private async supervise(): Promise<void> {
    while (!this.stop.signal.aborted) {
      const adapter = await this.openAndInit();
      if (adapter !== null) {
        await this.untilEnded(adapter);
        if (this.current === adapter) this.current = null;
        if (this.stop.signal.aborted) return;
        this.setState('disconnected');
      }
      const delay = backoffDelay(this.attemptsSinceSuccess, this.backoff);
      this.attemptsSinceSuccess++;
      await sleep(this.timers, delay, this.stop.signal);
    }
  }

  /** One open + init attempt; the adapter when it worked, null after reporting the failure. */
  private async openAndInit(): Promise<Elm327Adapter | null> {
    this.setState('connecting');
    let adapter: Elm327Adapter;
    try {
      const link = await this.opener.open();
      if (this.stop.signal.aborted) {
        await link.close();
        return null;
      }
      adapter = new Elm327Adapter(link, this.options);
    } catch (error) {
      this.failAttempt(error);
      return null;
    }
    this.current = adapter;
    adapter.onStateChange((state) => {
      if (this.current !== adapter) return;
      if (state === 'ready' || state === 'ignition-off' || state === 'connecting') this.setState(state);
    });
    try {
      const info = await adapter.connect();
      this.attemptsSinceSuccess = 0;
      this.settleWaiters(info, null);
      return adapter;
    } catch (error) {
      if (this.current === adapter) this.current = null;
      await adapter.close().catch(() => undefined);
      this.failAttempt(error);
      return null;
    }
  }

  private failAttempt(error: unknown): void {
    if (this.stop.signal.aborted) return;
    this.setState('disconnected');
    this.settleWaiters(null, error);
  }

  /** Resolves when the adapter's link has ended (disconnected, or closed because it hung). */
  private untilEnded(adapter: Elm327Adapter): Promise<void> {
    return new Promise((resolve) => {
      if (adapter.state === 'disconnected' || adapter.state === 'closed') {
        resolve();
        return;
      }
      const off = adapter.onStateChange((state) => {
        if (state === 'disconnected' || state === 'closed') {
          off();
          resolve();
        }
      });
    });
  }
}

function closedError(): Elm327Error {
  return new Elm327Error('ELM_CLOSED', 'the adapter was closed');
}
