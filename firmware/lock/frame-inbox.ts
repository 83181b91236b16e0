// The receive side of a lock transport: frames that arrived before anyone asked, and askers waiting for a frame.
import { LockError } from '../../protocol/lock/errors.js';

interface Waiter {
  resolve: (frame: Uint8Array) => void;
  reject: (error: Error) => void;
}

export class FrameInbox {
  private readonly frames: Uint8Array[] = [];
  private readonly waiters: Waiter[] = [];
  private closedWith: LockError | null = null;

  /** `describe` names the link in the timeout message (e.g. "relay lock-LBVNU…"). */
  constructor(private readonly describe = '') {}

  /** The error the transport was closed with, or null while it is open. */
  get closed(): LockError | null {
    return this.closedWith;
  }

  /** A frame from the link: to the oldest waiter, else queued. */
  push(frame: Uint8Array): void {
    const waiter = this.waiters.shift();
    if (waiter) waiter.resolve(frame);
    else this.frames.push(frame);
  }

  /** Closes once (TRANSPORT_CLOSED with `why`); every waiter is rejected, queued frames stay readable. */
  close(why: string): void {
    if (this.closedWith !== null) return;
    this.closedWith = new LockError('TRANSPORT_CLOSED', why);
    for (const waiter of this.waiters.splice(0)) waiter.reject(this.closedWith);
  }

  /** The next frame; TRANSPORT_CLOSED when none arrives within `timeoutMs` or the link closes. */
  receive(timeoutMs = 10_000): Promise<Uint8Array> {
    const ready = this.frames.shift();
    if (ready !== undefined) return Promise.resolve(ready);
    if (this.closedWith !== null) return Promise.reject(this.closedWith);
    return new Promise<Uint8Array>((resolve, reject) => {
      const waiter: Waiter = {
        resolve: (frame) => {
          clearTimeout(timer);
          resolve(frame);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      };
      const timer = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(waiter), 1);
        reject(new LockError('TRANSPORT_CLOSED', `no frame${this.describe ? ` from the ${this.describe}` : ''} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiters.push(waiter);
    });
  }
}
