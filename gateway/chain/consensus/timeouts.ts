// Round timeouts of the Tendermint core: each grows linearly with the round so that after GST they outgrow the delay.
export type TimeoutKind = 'propose' | 'prevote' | 'precommit';

export interface TimeoutSchedule {
  baseMs: number;
  /** Added once per round: timeout(round) = baseMs + round × deltaMs. */
  deltaMs: number;
}

export type TimeoutConfig = Record<TimeoutKind, TimeoutSchedule>;

/** CometBFT's defaults; the block time itself is decided by the caller (when it calls `start`). */
export const DEFAULT_TIMEOUTS: TimeoutConfig = {
  propose: { baseMs: 3000, deltaMs: 500 },
  prevote: { baseMs: 1000, deltaMs: 500 },
  precommit: { baseMs: 1000, deltaMs: 500 },
};

export function timeoutDuration(config: TimeoutConfig, kind: TimeoutKind, round: number): number {
  const s = config[kind];
  return s.baseMs + round * s.deltaMs;
}
