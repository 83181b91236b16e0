// The car lock's KeySetFinality backed by the light client: a key set is final when a proof file shows its LockKeySet transaction in a committed block.
//
// The proof is the chain's transaction proof (`GET /proof/tx/:txId`, format carchain-proof/1) as
// UTF-8 JSON bytes, so the phone can carry it to the lock and the lock checks it offline from the
// genesis validator set it was provisioned with.
import { decodeLockKeySetBody } from '../../../protocol/chain/tx-bodies.js';
import { sha256 } from '../../../protocol/hash.js';
import { LockError } from '../../../protocol/lock/errors.js';
import type { KeySetFinality } from '../../../protocol/lock/key-set.js';
import { equalBytes } from '../../../protocol/wire.js';
import { type TrustedGenesis, verifyProof } from './light-client.js';
import type { ProofFile } from './proof-file.js';

export class ChainKeySetFinality implements KeySetFinality {
  constructor(private readonly genesis: TrustedGenesis) {}

  verify(proof: Uint8Array, expect: { vidHash: Uint8Array; epoch: number; keySetHash: Uint8Array }, _now: number): { height: number; blockTime: number } {
    let file: ProofFile;
    try {
      file = JSON.parse(Buffer.from(proof).toString('utf8')) as ProofFile;
    } catch (cause) {
      throw new LockError('PROOF_INVALID', 'finality proof is not a proof file', { cause });
    }
    let verified: ReturnType<typeof verifyProof>;
    try {
      verified = verifyProof(this.genesis, file);
    } catch (cause) {
      throw new LockError('PROOF_INVALID', `finality proof: ${(cause as Error).message}`, { cause });
    }
    if (verified.kind !== 'tx' || verified.tx.type !== 'LockKeySet') throw new LockError('PROOF_INVALID', `the proven transaction is a ${verified.tx.type}, not a LockKeySet`);
    const body = decodeLockKeySetBody(verified.tx.body);
    if (!equalBytes(body.vidHash, expect.vidHash) || body.epoch !== expect.epoch || !equalBytes(sha256(body.keySet), expect.keySetHash)) {
      throw new LockError('PROOF_INVALID', 'the proven LockKeySet is for another vehicle, epoch or key set');
    }
    return { height: verified.header.height, blockTime: verified.header.time };
  }
}
