// Validator liveness as the dashboard shows it: each validator's power, last height it signed and blocks it missed, read from block commits over the chain RPC.
//
// Only the RPC is used (status + blocks), so it works the same for the embedded validator and for
// remote ones. A block's commit lists the precommits that decided it and the block carries the
// validator set of its height, so "missed" counts blocks whose set included the validator but whose
// commit has no precommit from it — a commit needs only 2/3 of the power, so a slow validator misses
// blocks without the chain stalling.
import type { BlockJson, ChainStatus } from '../chain/client/chain-client.js';
import { decodeValidatorSet } from '../chain/consensus/validator-set.js';

/** What liveness needs from the chain: the ChainClient satisfies it. */
export interface ChainReader {
  status(): Promise<ChainStatus>;
  block(height?: number): Promise<BlockJson>;
}

export interface ValidatorLivenessEntry {
  address: string;
  power: number;
  /** Highest height whose commit holds this validator's precommit, among the blocks read (null: none seen). */
  lastSignedHeight: number | null;
  /** Blocks in the window this validator was expected to sign and did not. */
  missed: number;
  /** Blocks in the window this validator was in the set for. */
  expected: number;
}

export interface ChainView {
  chainId: string;
  height: number;
  /** Milliseconds since the epoch (block header time), null before the first block. */
  lastBlockTime: number | null;
  /** The validator set for the next height, with liveness over the last `windowBlocks` blocks read. */
  validators: ValidatorLivenessEntry[];
  windowBlocks: number;
}

interface BlockSigning {
  height: number;
  expected: readonly string[];
  signed: ReadonlySet<string>;
}

export class ValidatorLiveness {
  /** Oldest first, at most windowBlocks long. */
  private readonly window: BlockSigning[] = [];
  private readonly lastSigned = new Map<string, number>();
  private lastRead = 0;

  /**
   * @param windowBlocks blocks over which misses are counted
   * @param blocksPerRefresh most blocks fetched by one refresh: a dashboard opened on a long chain
   *   starts from the recent blocks instead of reading the whole history
   */
  constructor(private readonly chain: ChainReader, readonly windowBlocks = 100, private readonly blocksPerRefresh = 20) {}

  async refresh(): Promise<ChainView> {
    const status = await this.chain.status();
    const from = Math.max(this.lastRead + 1, status.height - this.blocksPerRefresh + 1, 1);
    for (let height = from; height <= status.height; height++) {
      this.record(await this.chain.block(height));
      this.lastRead = height;
    }
    const validators = status.validators.map((v) => {
      let missed = 0;
      let expected = 0;
      for (const b of this.window) {
        if (!b.expected.includes(v.address)) continue;
        expected++;
        if (!b.signed.has(v.address)) missed++;
      }
      return { address: v.address, power: v.power, lastSignedHeight: this.lastSigned.get(v.address) ?? null, missed, expected };
    });
    return { chainId: status.chainId, height: status.height, lastBlockTime: status.lastBlockTime, validators, windowBlocks: this.windowBlocks };
  }

  private record(block: BlockJson): void {
    const height = block.header.height;
    const set = decodeValidatorSet(Uint8Array.from(Buffer.from(block.validatorsHex, 'hex')));
    const signed = new Set(block.commit.precommits.map((p) => p.validator));
    for (const address of signed) this.lastSigned.set(address, Math.max(height, this.lastSigned.get(address) ?? 0));
    this.window.push({ height, expected: set.validators.map((v) => v.address), signed });
    while (this.window.length > this.windowBlocks) this.window.shift();
  }
}
