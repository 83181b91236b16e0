// The last-signed guard: the one place that decides whether this validator may sign, so that no
// restart, replay or bug can make it sign two different things at one (height, round, type).
//
// Rule (checked before every signature, recorded durably before the signature leaves the process):
// - the same (height, round, kind) signed before → allowed only for the same value id (re-signing
//   identical content yields identical bytes thanks to RFC 6979, which is what WAL replay does);
// - otherwise (height, round, step) must not be lower than the highest one signed so far, with
//   step order proposal < prevote < precommit.
// Entries of heights below the newest are pruned: nothing can be signed there any more anyway.
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { ConsensusError } from './errors.js';
import { type SignedKind, valueKey } from './messages.js';

export interface LastSignedGuard {
  /** True when signing is allowed; the permission is persisted before this returns. */
  mayAndRecordSign(kind: SignedKind, height: number, round: number, valueId: Uint8Array | null): boolean;
}

const STEP: Record<SignedKind, number> = { proposal: 0, prevote: 1, precommit: 2 };

export interface GuardState {
  height: number;
  round: number;
  step: number;
  /** "height/round/kind" → value key ("nil" or hex). */
  signed: Record<string, string>;
}

function initialState(): GuardState {
  return { height: 0, round: 0, step: -1, signed: {} };
}

/** The rule itself over a state; `persist` runs before a permission is granted. */
export class GuardRule implements LastSignedGuard {
  constructor(
    private state: GuardState,
    private readonly persist: (state: GuardState) => void,
  ) {}

  get snapshot(): GuardState {
    return structuredClone(this.state);
  }

  mayAndRecordSign(kind: SignedKind, height: number, round: number, valueId: Uint8Array | null): boolean {
    const key = `${height}/${round}/${kind}`;
    const value = valueKey(valueId);
    const previous = this.state.signed[key];
    if (previous !== undefined) return previous === value;
    const s = this.state;
    const step = STEP[kind];
    const lower = height < s.height || (height === s.height && (round < s.round || (round === s.round && step < s.step)));
    if (lower) return false;
    const signed: Record<string, string> = {};
    if (height === s.height) Object.assign(signed, s.signed);
    signed[key] = value;
    const next: GuardState = { height, round, step, signed };
    this.persist(next); // throws → no permission, nothing signed
    this.state = next;
    return true;
  }
}

/** In-memory guard: for tests and the simulation, where the object itself stands for the disk. */
export class MemoryLastSignedGuard extends GuardRule {
  constructor() {
    super(initialState(), () => undefined);
  }
}

/**
 * File-backed guard: JSON state written to `path.tmp`, fsync'd, renamed over `path`, then the
 * directory fsync'd, so a crash leaves either the old or the new state, never a torn one.
 */
export class FileLastSignedGuard extends GuardRule {
  private constructor(state: GuardState, path: string) {
    super(state, (next) => writeAtomically(path, JSON.stringify(next)));
  }

  static open(path: string): FileLastSignedGuard {
    let state = initialState();
    let text: string | undefined;
    try {
      text = readFileSync(path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
        throw new ConsensusError('STORAGE_FAILED', `guard ${path}: ${(err as Error).message}`, { cause: err });
      }
    }
    if (text !== undefined) state = parseState(text, path);
    return new FileLastSignedGuard(state, path);
  }
}

function parseState(text: string, path: string): GuardState {
  try {
    const raw = JSON.parse(text) as GuardState;
    const ok =
      Number.isSafeInteger(raw.height) && Number.isSafeInteger(raw.round) && Number.isInteger(raw.step) &&
      typeof raw.signed === 'object' && raw.signed !== null &&
      Object.values(raw.signed).every((v) => typeof v === 'string');
    if (!ok) throw new Error('fields missing or of the wrong type');
    return raw;
  } catch (err) {
    // A corrupt guard must stop the validator: guessing could mean a double sign.
    throw new ConsensusError('STORAGE_FAILED', `guard ${path} is unreadable: ${(err as Error).message}`, { cause: err });
  }
}

function writeAtomically(path: string, text: string): void {
  const tmp = `${path}.tmp`;
  try {
    const fd = openSync(tmp, 'w');
    try {
      writeSync(fd, text);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
    const dir = openSync(dirname(path), 'r');
    try {
      fsyncSync(dir);
    } finally {
      closeSync(dir);
    }
  } catch (err) {
    throw new ConsensusError('STORAGE_FAILED', `guard ${path}: ${(err as Error).message}`, { cause: err, mayHaveSucceeded: true });
  }
}
