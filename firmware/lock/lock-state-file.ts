// The lock's persistent state (key set, its finality proof, time floor, blocked flag) in one atomically replaced, fsynced file.
//
// One file, replaced whole (temp file, fsync, rename, fsync dir): after a power loss it holds the
// old state or the new one, never a mix. The lock writes a new key set here *before* it uses it,
// so a restart can only come back with the newer epoch — never roll back to the older set.
import { readFileIfExists, writeFileAtomic } from '../storage/atomic-file.js';
import { LockError } from '../../protocol/lock/errors.js';

export interface PersistedLockState {
  /** The signed key set bytes, or null before the first one was installed. */
  keySet: Uint8Array | null;
  proof: Uint8Array | null;
  proofHeight: number;
  proofBlockTime: number;
  /** Highest trusted time the lock has seen (ms); never moves backwards. */
  timeFloor: number;
  blocked: boolean;
}

export const EMPTY_LOCK_STATE: PersistedLockState = {
  keySet: null,
  proof: null,
  proofHeight: 0,
  proofBlockTime: 0,
  timeFloor: 0,
  blocked: false,
};

interface StateJson {
  version: 1;
  keySet: string | null;
  proof: string | null;
  proofHeight: number;
  proofBlockTime: number;
  timeFloor: number;
  blocked: boolean;
}

const hex = (b: Uint8Array | null) => (b === null ? null : Buffer.from(b).toString('hex'));
const unhex = (s: unknown) => (typeof s === 'string' && /^([0-9a-f]{2})*$/.test(s) ? new Uint8Array(Buffer.from(s, 'hex')) : null);

export class LockStateFile {
  constructor(readonly path: string) {}

  load(): PersistedLockState {
    let raw: Buffer | null;
    try {
      raw = readFileIfExists(this.path);
    } catch (cause) {
      throw new LockError('STORAGE_FAILED', `cannot read ${this.path}`, { cause });
    }
    if (raw === null) return { ...EMPTY_LOCK_STATE };
    try {
      const j = JSON.parse(raw.toString('utf8')) as Partial<StateJson>;
      const num = (v: unknown) => {
        if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw new Error('bad number');
        return v;
      };
      if (j.version !== 1 || typeof j.blocked !== 'boolean') throw new Error('bad version or flag');
      const keySet = j.keySet === null ? null : unhex(j.keySet);
      const proof = j.proof === null ? null : unhex(j.proof);
      if ((j.keySet !== null && keySet === null) || (j.proof !== null && proof === null)) throw new Error('bad hex');
      return { keySet, proof, proofHeight: num(j.proofHeight), proofBlockTime: num(j.proofBlockTime), timeFloor: num(j.timeFloor), blocked: j.blocked };
    } catch (cause) {
      throw new LockError('STORAGE_FAILED', `${this.path} is corrupt`, { cause });
    }
  }

  save(state: PersistedLockState): void {
    const j: StateJson = {
      version: 1,
      keySet: hex(state.keySet),
      proof: hex(state.proof),
      proofHeight: state.proofHeight,
      proofBlockTime: state.proofBlockTime,
      timeFloor: state.timeFloor,
      blocked: state.blocked,
    };
    try {
      writeFileAtomic(this.path, JSON.stringify(j));
    } catch (cause) {
      throw new LockError('STORAGE_FAILED', `cannot write ${this.path}`, { cause });
    }
  }
}
