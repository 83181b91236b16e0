// Keeps one outgoing connection attempt alive per configured peer address: dial, handshake, hand over, back off, repeat.
//
// Back-off is capped exponential with jitter (each delay uniform in [½, 1] × min(max, base·2^n)),
// so a restarted validator is found again within about `maxMs` and a dead one costs a dial every
// `maxMs`, while a crowd of peers does not reconnect in lock-step. Once the peer behind an address
// is known, the dialer does not dial while that peer is connected by any link (e.g. one it dialled
// to us), which is what stops two nodes that list each other from re-dialling forever.
import { connect, type Socket } from 'node:net';
import type { LogFn } from '../../log.js';
import { NetError } from './errors.js';
import { SecretConnection, type SecretConnectionOptions } from './secret-connection.js';

export interface DialTarget {
  host: string;
  port: number;
}

export interface BackoffOptions {
  baseMs: number;
  maxMs: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { baseMs: 100, maxMs: 5000 };

export function backoffDelay(attempt: number, options: BackoffOptions, random: () => number = Math.random): number {
  const ceiling = Math.min(options.maxMs, options.baseMs * 2 ** Math.min(attempt, 30));
  return Math.round(ceiling * (0.5 + random() / 2));
}

export interface DialerHost {
  handshakeOptions: SecretConnectionOptions;
  backoff: BackoffOptions;
  log: LogFn;
  /** Takes an authenticated outgoing connection; resolves when that link has closed (at once if refused). */
  adopt(connection: SecretConnection): Promise<void>;
  isConnected(address: string): boolean;
  /** Resolves when `address` has no link left (or the network stops). */
  disconnected(address: string): Promise<void>;
}

export class Dialer {
  private stopped = false;
  private socket: Socket | undefined;
  private readonly wakers = new Set<() => void>();
  /** The peer last reached at this target, once known. */
  private knownPeer: string | undefined;
  readonly done: Promise<void>;

  constructor(
    readonly target: DialTarget,
    private readonly host: DialerHost,
  ) {
    this.done = this.run();
  }

  stop(): void {
    this.stopped = true;
    this.socket?.destroy();
    for (const wake of this.wakers) wake();
    this.wakers.clear();
  }

  private async run(): Promise<void> {
    let attempt = 0;
    while (!this.stopped) {
      if (this.knownPeer !== undefined && this.host.isConnected(this.knownPeer)) {
        await this.host.disconnected(this.knownPeer);
        attempt = 0;
        await this.sleep(backoffDelay(0, this.host.backoff));
        continue;
      }
      try {
        const connection = await this.dialOnce();
        this.knownPeer = connection.remoteAddress;
        attempt = 0;
        await this.host.adopt(connection);
      } catch (err) {
        if (this.stopped) return;
        const code = err instanceof NetError ? err.code : 'CLOSED';
        if (code === 'SELF_CONNECTION') {
          this.host.log('warn', 'peer address is our own; not dialling it again', { ...this.target });
          return;
        }
        this.host.log('debug', 'dial failed', { ...this.target, code, error: (err as Error).message, attempt });
        attempt++;
      }
      await this.sleep(backoffDelay(attempt, this.host.backoff));
    }
  }

  private async dialOnce(): Promise<SecretConnection> {
    const socket = await new Promise<Socket>((resolve, reject) => {
      const s = connect({ host: this.target.host, port: this.target.port });
      this.socket = s;
      const timer = setTimeout(() => {
        s.destroy();
        reject(new NetError('HANDSHAKE_TIMEOUT', 'TCP connect timed out', { temporary: true }));
      }, this.host.handshakeOptions.handshakeTimeoutMs ?? 5000);
      const onError = (cause: Error): void => {
        clearTimeout(timer);
        s.destroy();
        reject(new NetError('CLOSED', `connect to ${this.target.host}:${this.target.port} failed: ${cause.message}`, { cause, temporary: true }));
      };
      // stop() destroys the socket, which emits 'close' but no 'error'.
      const onClose = (): void => onError(new Error('socket closed before connecting'));
      s.once('connect', () => {
        clearTimeout(timer);
        s.removeListener('error', onError);
        s.removeListener('close', onClose);
        resolve(s);
      });
      s.once('error', onError);
      s.once('close', onClose);
    });
    if (this.stopped) {
      socket.destroy();
      throw new NetError('CLOSED', 'dialer stopped');
    }
    return SecretConnection.handshake(socket, this.host.handshakeOptions);
  }

  /** Resolves after `ms`, or at once when the dialer is stopped. */
  private sleep(ms: number): Promise<void> {
    if (this.stopped) return Promise.resolve();
    return new Promise((resolve) => {
      const wake = (): void => {
        clearTimeout(timer);
        this.wakers.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      this.wakers.add(wake);
    });
  }
}
