// Callers waiting for a transaction to be committed: resolved by the node on save, timed out with a temporary error.
import { CarchainError } from '../../../protocol/errors.js';
import type { TxLocation } from '../store/block-store.js';

export class CommitWaitError extends CarchainError<'COMMIT_TIMEOUT' | 'NODE_STOPPED'> {}

interface Waiter {
  resolve(location: TxLocation): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
}

export class CommitWaiters {
  private readonly waiting = new Map<string, Waiter[]>();

  wait(txId: Uint8Array, timeoutMs: number): Promise<TxLocation> {
    const key = Buffer.from(txId).toString('hex');
    return new Promise<TxLocation>((resolve, reject) => {
      const waiter: Waiter = {
        resolve, reject,
        timer: setTimeout(() => {
          this.drop(key, waiter);
          // mayHaveSucceeded: the tx is still in mempools and may commit later.
          reject(new CommitWaitError('COMMIT_TIMEOUT', `tx ${key.slice(0, 16)} not committed within ${timeoutMs} ms`, { temporary: true, mayHaveSucceeded: true }));
        }, timeoutMs),
      };
      const list = this.waiting.get(key) ?? [];
      list.push(waiter);
      this.waiting.set(key, list);
    });
  }

  resolve(txId: Uint8Array, location: TxLocation): void {
    const key = Buffer.from(txId).toString('hex');
    const list = this.waiting.get(key);
    if (list === undefined) return;
    this.waiting.delete(key);
    for (const w of list) {
      clearTimeout(w.timer);
      w.resolve(location);
    }
  }

  cancelAll(): void {
    for (const list of this.waiting.values()) {
      for (const w of list) {
        clearTimeout(w.timer);
        w.reject(new CommitWaitError('NODE_STOPPED', 'node stopped', { temporary: true, mayHaveSucceeded: true }));
      }
    }
    this.waiting.clear();
  }

  private drop(key: string, waiter: Waiter): void {
    const list = this.waiting.get(key)?.filter((w) => w !== waiter) ?? [];
    if (list.length === 0) this.waiting.delete(key);
    else this.waiting.set(key, list);
  }
}
