// A key set with its finality proof as a file (carchain-lock-keyset/1): what the owner's wallet writes and `lock serve` installs.
//
// JSON, bytes as lowercase hex, the proof as the chain's proof file object; nothing in it is secret
// (the same bytes are on the chain), and the lock verifies all of it before use.
import { readFileSync } from 'node:fs';
import type { ProofFile } from '../../gateway/chain/light/proof-file.js';
import { LockError } from '../../protocol/lock/errors.js';
import { decodeKeySet } from '../../protocol/lock/key-set.js';
import { utf8 } from '../../protocol/wire.js';

export const KEY_SET_FILE_FORMAT = 'carchain-lock-keyset/1';

export interface KeySetFile {
  format: typeof KEY_SET_FILE_FORMAT;
  vidHash: string;
  epoch: number;
  keySet: string;
  /** The LockKeySet transaction's proof (GET /proof/tx/:txId). */
  proof: ProofFile;
}

export interface FinalKeySet {
  keySet: Uint8Array;
  /** The proof file as UTF-8 JSON bytes: what ChainKeySetFinality verifies. */
  proof: Uint8Array;
  epoch: number;
}

export function keySetFileJson(keySet: Uint8Array, proof: ProofFile): KeySetFile {
  const ks = decodeKeySet(keySet).keySet;
  return { format: KEY_SET_FILE_FORMAT, vidHash: Buffer.from(ks.vidHash).toString('hex'), epoch: ks.epoch, keySet: Buffer.from(keySet).toString('hex'), proof };
}

export function readKeySetFile(path: string): FinalKeySet {
  let file: Partial<KeySetFile>;
  try {
    file = JSON.parse(readFileSync(path, 'utf8')) as Partial<KeySetFile>;
  } catch (cause) {
    throw new LockError('KEYSET_INVALID', `${path}: ${(cause as Error).message}`, { cause });
  }
  if (file.format !== KEY_SET_FILE_FORMAT || typeof file.keySet !== 'string' || !/^(?:[0-9a-f]{2})+$/.test(file.keySet) || typeof file.proof !== 'object' || file.proof === null) {
    throw new LockError('KEYSET_INVALID', `${path} is not a ${KEY_SET_FILE_FORMAT} file`);
  }
  const keySet = Uint8Array.from(Buffer.from(file.keySet, 'hex'));
  return { keySet, proof: utf8(JSON.stringify(file.proof)), epoch: decodeKeySet(keySet).keySet.epoch };
}
