// Key/value state access for the chain application: the reader interface, a copy-on-write overlay, and an in-memory store.
//
// The application never writes to storage itself: executeBlock runs on an overlay and returns the
// sorted write set; the node persists it (SQLite) together with the block. MemoryState is the
// reference store for tests and tools.
import { compareBytes } from '../../../protocol/wire.js';

export interface StateReader {
  get(key: Uint8Array): Uint8Array | undefined;
  /** Entries whose key starts with `prefix`, in ascending key order (memcmp); at most `limit`. */
  scan(prefix: Uint8Array, limit?: number): Iterable<[Uint8Array, Uint8Array]>;
}

/** value null = delete. */
export type StateWrite = { key: Uint8Array; value: Uint8Array | null };

/** Lowercase hex keeps memcmp order (two characters per byte), so sorted hex = sorted bytes. */
export function keyHex(key: Uint8Array): string {
  return Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString('hex');
}

function hasPrefix(key: Uint8Array, prefix: Uint8Array): boolean {
  if (key.length < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (key[i] !== prefix[i]) return false;
  return true;
}

/** A sorted in-memory key/value store: StateReader + apply(writes). */
export class MemoryState implements StateReader {
  private readonly entries = new Map<string, [Uint8Array, Uint8Array]>();
  private sorted: string[] | null = [];

  get size(): number {
    return this.entries.size;
  }

  get(key: Uint8Array): Uint8Array | undefined {
    return this.entries.get(keyHex(key))?.[1];
  }

  *scan(prefix: Uint8Array, limit = Number.POSITIVE_INFINITY): Iterable<[Uint8Array, Uint8Array]> {
    const order = this.order();
    const start = keyHex(prefix);
    let lo = 0;
    let hi = order.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (order[mid]! < start) lo = mid + 1;
      else hi = mid;
    }
    let yielded = 0;
    for (let i = lo; i < order.length && yielded < limit; i++) {
      const hex = order[i]!;
      if (!hex.startsWith(start)) break;
      const entry = this.entries.get(hex);
      if (entry === undefined) continue;
      yielded++;
      yield [entry[0], entry[1]];
    }
  }

  apply(writes: readonly StateWrite[]): void {
    for (const w of writes) {
      const hex = keyHex(w.key);
      if (w.value === null) {
        if (this.entries.delete(hex)) this.sorted = null;
      } else {
        if (!this.entries.has(hex)) this.sorted = null;
        this.entries.set(hex, [Uint8Array.from(w.key), Uint8Array.from(w.value)]);
      }
    }
  }

  /** Every entry in key order (for comparing two states in tests). */
  dump(): [Uint8Array, Uint8Array][] {
    return [...this.scan(new Uint8Array(0))];
  }

  private order(): string[] {
    if (this.sorted === null) this.sorted = [...this.entries.keys()].sort();
    return this.sorted;
  }
}

/**
 * Pending writes over a base reader. Reads see the pending writes; `scan` merges both in key order.
 * A tx runs on a child overlay that is merged into the block's overlay only when it succeeds, so
 * a failing tx leaves no writes.
 */
export class StateOverlay implements StateReader {
  private readonly pending = new Map<string, StateWrite>();

  constructor(private readonly base: StateReader) {}

  get(key: Uint8Array): Uint8Array | undefined {
    const w = this.pending.get(keyHex(key));
    if (w !== undefined) return w.value ?? undefined;
    return this.base.get(key);
  }

  set(key: Uint8Array, value: Uint8Array): void {
    this.pending.set(keyHex(key), { key: Uint8Array.from(key), value: Uint8Array.from(value) });
  }

  delete(key: Uint8Array): void {
    this.pending.set(keyHex(key), { key: Uint8Array.from(key), value: null });
  }

  *scan(prefix: Uint8Array, limit = Number.POSITIVE_INFINITY): Iterable<[Uint8Array, Uint8Array]> {
    const mine = [...this.pending.entries()].filter(([, w]) => hasPrefix(w.key, prefix)).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    let i = 0;
    let yielded = 0;
    // Pending deletes can hide base entries, so the base may need to supply up to |mine| more.
    const baseLimit = Number.isFinite(limit) ? limit + mine.length : undefined;
    for (const [baseKey, baseValue] of this.base.scan(prefix, baseLimit)) {
      if (yielded >= limit) return;
      // Emit pending entries that sort before this base key.
      while (i < mine.length && compareBytes(mine[i]![1].key, baseKey) < 0) {
        const w = mine[i++]![1];
        if (w.value !== null) {
          yield [w.key, w.value];
          if (++yielded >= limit) return;
        }
      }
      if (i < mine.length && compareBytes(mine[i]![1].key, baseKey) === 0) {
        const w = mine[i++]![1];
        if (w.value !== null) {
          yield [w.key, w.value];
          yielded++;
        }
        continue;
      }
      yield [baseKey, baseValue];
      yielded++;
    }
    while (i < mine.length && yielded < limit) {
      const w = mine[i++]![1];
      if (w.value !== null) {
        yield [w.key, w.value];
        yielded++;
      }
    }
  }

  /** Moves this overlay's writes into `target` (the parent overlay). */
  mergeInto(target: StateOverlay): void {
    for (const w of this.pending.values()) {
      if (w.value === null) target.delete(w.key);
      else target.set(w.key, w.value);
    }
  }

  /** The write set: sorted by key, one write per key. Writes that restore the base value are kept (harmless, deterministic). */
  writes(): StateWrite[] {
    return [...this.pending.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, w]) => ({ key: w.key, value: w.value }));
  }
}
