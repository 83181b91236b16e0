// Delivers a simulated device's output no faster than its UART could: 10 bits per byte at the baud rate.
//
// Bytes go out in chunks of about 4 ms of line time; each chunk is handed to the link only once its
// last bit would have left the wire, so a reader never sees a response before it could have been
// transmitted. Baud rate 0 means "as fast as possible" (unit tests). Writes to the link are serialised.
import type { ByteLink } from '../serial/byte-link.js';
import type { CancelTimer, SimClock } from './sim-clock.js';

const CHUNK_MS = 4;

export class PacedOutput {
  private queue: number[] = [];
  private timer: CancelTimer | undefined;
  private busyUntil = 0;
  private writes: Promise<void> = Promise.resolve();
  private idleWaiters: (() => void)[] = [];
  private stopped = false;
  private sent = 0;

  constructor(
    private readonly link: ByteLink,
    private readonly clock: SimClock,
    private readonly baudRate: number,
    private readonly onWriteError: (error: unknown) => void,
  ) {}

  /** Bytes handed to the link so far. */
  get bytesSent(): number {
    return this.sent;
  }

  /** Milliseconds of line time for `byteCount` bytes (0 when unpaced). */
  lineTimeMs(byteCount: number): number {
    return this.baudRate > 0 ? (byteCount * 10 * 1000) / this.baudRate : 0;
  }

  send(data: Uint8Array | string): void {
    if (this.stopped) return;
    const bytes = typeof data === 'string' ? Buffer.from(data, 'latin1') : data;
    for (const b of bytes) this.queue.push(b);
    this.pump();
  }

  /** Resolves once everything queued so far has been written to the link (or dropped by stop()). */
  async drained(): Promise<void> {
    while (this.queue.length > 0 || this.timer) await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
    await this.writes;
  }

  /** Drops anything not yet sent; later send() calls are ignored. */
  stop(): void {
    this.stopped = true;
    this.queue = [];
    this.timer?.();
    this.timer = undefined;
    this.wakeIdleWaiters();
  }

  private pump(): void {
    if (this.timer || this.stopped) return;
    if (this.queue.length === 0) {
      this.wakeIdleWaiters();
      return;
    }
    if (this.baudRate <= 0) {
      this.write(Uint8Array.from(this.queue.splice(0)));
      this.wakeIdleWaiters();
      return;
    }
    const chunkBytes = Math.max(1, Math.round((this.baudRate / 10 / 1000) * CHUNK_MS));
    const chunk = Uint8Array.from(this.queue.splice(0, chunkBytes));
    const now = this.clock.now();
    this.busyUntil = Math.max(now, this.busyUntil) + this.lineTimeMs(chunk.length);
    this.timer = this.clock.setTimer(this.busyUntil - now, () => {
      this.timer = undefined;
      this.write(chunk);
      this.pump();
    });
  }

  private write(chunk: Uint8Array): void {
    this.sent += chunk.length;
    this.writes = this.writes.then(() => this.link.write(chunk)).catch((error: unknown) => {
      if (!this.stopped) this.onWriteError(error);
    });
  }

  private wakeIdleWaiters(): void {
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const wake of waiters) wake();
  }
}
