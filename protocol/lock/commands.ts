// The commands a lock carries out, their wire codes and the permission bit a delegate needs for each.
import { LockError } from './errors.js';

/** Wire code of each command (u8). Never renumber: codes are inside signed key sets and audit logs. */
export const LOCK_COMMAND_CODES = { unlock: 1, lock: 2, start: 3, stop: 4, trunk: 5, status: 6, unblock: 7 } as const;

export type LockCommand = keyof typeof LOCK_COMMAND_CODES;

/** Commands a delegate can be granted; `unblock` is the owner's alone and has no permission bit. */
export const DELEGABLE_COMMANDS = ['unlock', 'lock', 'start', 'stop', 'trunk', 'status'] as const satisfies readonly LockCommand[];

export function permissionBit(command: LockCommand): number {
  if (command === 'unblock') return 0;
  return 1 << (LOCK_COMMAND_CODES[command] - 1);
}

/** Every bit a key set may carry; any other bit makes the key set invalid. */
export const ALL_PERMISSIONS = DELEGABLE_COMMANDS.reduce((bits, c) => bits | permissionBit(c), 0);

export function permissionsOf(commands: readonly LockCommand[]): number {
  let bits = 0;
  for (const c of commands) {
    if (c === 'unblock') throw new RangeError('unblock cannot be delegated');
    bits |= permissionBit(c);
  }
  return bits;
}

const BY_CODE = new Map<number, LockCommand>(Object.entries(LOCK_COMMAND_CODES).map(([name, code]) => [code, name as LockCommand]));

export function commandFromCode(code: number): LockCommand {
  const command = BY_CODE.get(code);
  if (command === undefined) throw new LockError('BAD_FRAME', `unknown command code ${code}`);
  return command;
}
