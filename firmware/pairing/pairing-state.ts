// The dongle's persisted pairing state (owner, pool, authorisations) with atomic Save/Load.
import { randomBytes } from 'node:crypto';
import { CarchainError } from '../../protocol/errors.js';
import { readFileIfExists, writeFileAtomic } from '../storage/atomic-file.js';

export interface OwnerRecord {
  vid: string;
  ownerAddress: string;
  ownerPublicKey: string; // hex
  rsaPublicKeySpki: string; // hex
  agent: string;
  setup: { statement: string; ownerSignature: string; deviceSignature: string }; // hex, the DeviceSetup tx payload
}

export interface PoolRecord {
  material: string; // hex of encodePoolMaterial
  /** pool index → encoded pool authorisation (hex) */
  authorisations: Record<string, string>;
}

export interface PairingState {
  version: 1;
  /** One-time secret shown in the pairing code; rotated after every setup and reset. */
  pairingSecret: string;
  owner: OwnerRecord | null;
  pool: PoolRecord | null;
  /** Pools of earlier owners: kept so records already in the outbox can still be sent. */
  retiredPools: PoolRecord[];
  /** Reset nonces already honoured (hex), newest last, bounded. */
  usedResetNonces: string[];
  /** Next trip SESSION_ID. */
  nextSessionId: number;
}

export class PairingStateError extends CarchainError<'PAIRING_STATE_CORRUPT'> {}

export function freshPairingState(): PairingState {
  return { version: 1, pairingSecret: newPairingSecret(), owner: null, pool: null, retiredPools: [], usedResetNonces: [], nextSessionId: 1 };
}

export function newPairingSecret(): string {
  // 10 base32-ish characters: typed by hand from a label if there is no QR scanner.
  const alphabet = 'ABCDEFGHJKMNPQRSTUVWXYZ23456789';
  return Array.from(randomBytes(10), (b) => alphabet[b % alphabet.length]).join('');
}

/** Narrow persistence interface so tests and other storage can stand in. */
export interface PairingStateStore {
  load(): PairingState;
  save(state: PairingState): void;
}

export class FilePairingStateStore implements PairingStateStore {
  constructor(private readonly path: string) {}

  load(): PairingState {
    const raw = readFileIfExists(this.path);
    if (raw === null) {
      const state = freshPairingState();
      this.save(state);
      return state;
    }
    try {
      const state = JSON.parse(raw.toString('utf8')) as PairingState;
      if (state.version !== 1 || typeof state.pairingSecret !== 'string') throw new Error('unknown layout');
      return state;
    } catch (cause) {
      throw new PairingStateError('PAIRING_STATE_CORRUPT', `${this.path} is not a pairing state file`, { cause });
    }
  }

  save(state: PairingState): void {
    writeFileAtomic(this.path, `${JSON.stringify(state, null, 2)}\n`, 0o600);
  }
}

export class MemoryPairingStateStore implements PairingStateStore {
  private state: PairingState = freshPairingState();

  load(): PairingState {
    return structuredClone(this.state);
  }

  save(state: PairingState): void {
    this.state = structuredClone(state);
  }
}
