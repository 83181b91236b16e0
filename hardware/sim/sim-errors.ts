// Typed errors for the simulators (bad scenario names, impossible options).
import { CarchainError } from '../../protocol/errors.js';

export type SimulatorErrorCode = 'SIM_UNKNOWN_SCENARIO' | 'SIM_INVALID_OPTION';

/** A simulator was asked for something it cannot do; never temporary. */
export class SimulatorError extends CarchainError<SimulatorErrorCode> {}
