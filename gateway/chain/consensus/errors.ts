// Typed errors of the consensus core: why a proposal, vote, commit or persisted record was refused.
import { CarchainError, type CarchainErrorOptions } from '../../../protocol/errors.js';

export type ConsensusErrorCode =
  | 'DECODE_FAILED' // bytes are not a well-formed proposal / vote / commit / WAL record
  | 'WRONG_CHAIN' // chain id differs from ours
  | 'WRONG_HEIGHT' // not the height being decided (temporary when it is a later height)
  | 'ROUND_TOO_FAR' // a round so far ahead that tracking it would be a memory hazard
  | 'UNKNOWN_VALIDATOR' // signer is not in the validator set
  | 'WRONG_PROPOSER' // a proposal from someone who is not the proposer of that round
  | 'BAD_SIGNATURE' // signature does not verify under the validator's key
  | 'DUPLICATE' // exactly this message was already processed
  | 'CONFLICTING_PROPOSAL' // a second, different proposal for a round (the first is kept)
  | 'EQUIVOCATION' // a second, different vote for one (height, round, type) (evidence emitted)
  | 'INVALID_COMMIT' // a commit that does not carry > 2/3 valid precommits for the value
  | 'INVALID_VALUE' // the application refused the value
  | 'INVALID_VALIDATOR_SET' // empty set, duplicate keys, zero power, power overflow
  | 'STORAGE_FAILED'; // guard or WAL could not be read or written

export class ConsensusError extends CarchainError<ConsensusErrorCode> {
  constructor(code: ConsensusErrorCode, message: string, options: CarchainErrorOptions = {}) {
    super(code, message, options);
  }
}
