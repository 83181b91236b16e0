// The chain application's public surface: what the node (blocks, mempool, RPC) imports.
export { APP_REJECTION_CODES, AppError, type AppErrorCode, type AppRejectionCode } from './errors.js';
export { MemoryState, StateOverlay, type StateReader, type StateWrite } from './state.js';
export { checkTx, executeBlock, type BlockContext, type BlockExecution, type TxResult } from './state-machine.js';
export { computeAppHash, encodeWriteSet, APP_HASH_TAG } from './app-hash.js';
export { genesisExecution, genesisHash, parseGenesis, serialiseGenesis, type Genesis, type GenesisConsensus } from './genesis.js';
export { EVIDENCE_MAX_AGE } from './staking-handlers.js';
export * from './queries.js';
