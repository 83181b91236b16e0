// The lock actuator seam: what the dongle asks of the car's locks, ignition and trunk, and a simulator of it.
import { LockError } from '../../protocol/lock/errors.js';
import type { LockCommand } from '../../protocol/lock/commands.js';

export interface ActuatorState {
  locked: boolean;
  engineOn: boolean;
  trunkOpen: boolean;
}

/** Commands that move something; `status` and `unblock` are answered by the lock without the actuator. */
export type ActuatorCommand = Exclude<LockCommand, 'status' | 'unblock'>;

export interface LockActuator {
  /** Carries out the command; rejects with LockError('ACTUATOR_FAILED') when the hardware does not. */
  execute(command: ActuatorCommand): Promise<ActuatorState>;
  state(): ActuatorState;
}

/** Bit 0 locked, bit 1 engine on, bit 2 trunk open: the state byte of a RSP frame. */
export function encodeActuatorState(s: ActuatorState): number {
  return (s.locked ? 1 : 0) | (s.engineOn ? 2 : 0) | (s.trunkOpen ? 4 : 0);
}

export function decodeActuatorState(bits: number): ActuatorState {
  return { locked: (bits & 1) !== 0, engineOn: (bits & 2) !== 0, trunkOpen: (bits & 4) !== 0 };
}

/**
 * A car body in memory: locked, engine off, trunk closed at start. Rules of a real car kept
 * because tests rely on them: the engine starts only when unlocked; locking closes the trunk
 * lid latch; `jam()` makes the next commands fail as a seized motor would. `history` records
 * every executed command for assertions.
 */
export class SimulatedLockActuator implements LockActuator {
  private current: ActuatorState = { locked: true, engineOn: false, trunkOpen: false };
  private jammed = false;
  readonly history: ActuatorCommand[] = [];

  constructor(private readonly delayMs = 0) {}

  jam(jammed = true): void {
    this.jammed = jammed;
  }

  state(): ActuatorState {
    return { ...this.current };
  }

  async execute(command: ActuatorCommand): Promise<ActuatorState> {
    if (this.delayMs > 0) await new Promise((resolve) => setTimeout(resolve, this.delayMs));
    if (this.jammed) throw new LockError('ACTUATOR_FAILED', `actuator jammed during ${command}`);
    const s = this.current;
    switch (command) {
      case 'unlock':
        s.locked = false;
        break;
      case 'lock':
        s.locked = true;
        s.trunkOpen = false;
        break;
      case 'start':
        if (s.locked) throw new LockError('ACTUATOR_FAILED', 'engine start refused while the doors are locked');
        s.engineOn = true;
        break;
      case 'stop':
        s.engineOn = false;
        break;
      case 'trunk':
        s.trunkOpen = true;
        break;
      default: {
        const never: never = command;
        throw new RangeError(`unknown actuator command ${String(never)}`);
      }
    }
    this.history.push(command);
    return this.state();
  }
}
