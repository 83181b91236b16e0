// The table of every standard mode-01 PID (0x00–0xC4), assembled from the per-range files and indexed by PID.
import { MODE01_PIDS_00_3F } from './mode01-pids-00-3f.js';
import { MODE01_PIDS_40_7F } from './mode01-pids-40-7f.js';
import { MODE01_PIDS_80_C4 } from './mode01-pids-80-c4.js';
import type { Mode01PidDefinition } from './pid-scaling.js';

export type { Mode01PidDefinition, PidValue } from './pid-scaling.js';

/** Every defined PID, in PID order. Frozen: the table is shared by every decoder. */
export const MODE01_PID_TABLE: readonly Mode01PidDefinition[] = Object.freeze(
  [...MODE01_PIDS_00_3F, ...MODE01_PIDS_40_7F, ...MODE01_PIDS_80_C4].sort((a, b) => a.pid - b.pid),
);

const BY_PID: ReadonlyMap<number, Mode01PidDefinition> = (() => {
  const map = new Map<number, Mode01PidDefinition>();
  for (const entry of MODE01_PID_TABLE) {
    // A duplicate would silently shadow a row: fail at load time instead.
    if (map.has(entry.pid)) throw new Error(`duplicate mode-01 PID 0x${entry.pid.toString(16)}`);
    map.set(entry.pid, entry);
  }
  return map;
})();

const BY_NAME: ReadonlyMap<string, Mode01PidDefinition> = new Map(MODE01_PID_TABLE.map((e) => [e.name, e]));

/** The table row for a PID, or undefined when the standard does not define it. */
export function mode01Pid(pid: number): Mode01PidDefinition | undefined {
  return BY_PID.get(pid);
}

/** The table row for a name such as 'RPM', or undefined. */
export function mode01PidByName(name: string): Mode01PidDefinition | undefined {
  return BY_NAME.get(name);
}

/** The supported-PID bitmap PIDs: 0x00, 0x20, …, 0xC0. */
export const MODE01_BITMAP_PIDS: readonly number[] = [0x00, 0x20, 0x40, 0x60, 0x80, 0xa0, 0xc0];
