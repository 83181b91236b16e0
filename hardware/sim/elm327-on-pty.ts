// Runs the ELM327 simulator (and optionally an NMEA player for the same car) on real pseudo-terminals.
//
// Any serial tool, the carchain CLI or the dongle runtime can open the returned path as if it were a
// USB adapter; the real serialport binding is exercised end to end.
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SerialPortLink } from '../serial/serial-port-link.js';
import { openPtyPair, type PtyPair } from '../serial/pty-pair.js';
import { startElm327Simulator, type Elm327Simulator } from './elm327-simulator.js';
import { startNmeaRoutePlayer, type NmeaRoutePlayer } from './nmea-route-player.js';
import { scenarioByName } from './scenarios.js';
import { scaledClock, systemClock } from './sim-clock.js';
import { VehicleState } from './vehicle-state.js';

export interface Elm327OnPtyOptions {
  scenario?: string;
  baudRate?: number;
  latencyMs?: number;
  searchDelayMs?: number;
  resetDelayMs?: number;
  seed?: number;
  /** Simulated seconds per real second. */
  timeScale?: number;
  canIdBits?: 11 | 29;
  unplugAfterMs?: number;
  /** After an unplug, bring a fresh adapter back at the same path this much later. */
  replugAfterMs?: number;
  /** Also play NMEA for the same car on a second pty. */
  gps?: boolean;
  onEvent?: (event: Record<string, unknown>) => void;
}

export interface Elm327OnPty {
  /** The path a client opens (the "USB adapter"). */
  ptyPath: string;
  gpsPath?: string;
  stop(): Promise<void>;
}

export async function startElm327OnPty(options: Elm327OnPtyOptions = {}): Promise<Elm327OnPty> {
  const baudRate = options.baudRate ?? 38400;
  const event = options.onEvent ?? (() => undefined);
  const scenario = scenarioByName(options.scenario ?? 'driving', options.unplugAfterMs !== undefined ? { unplugAfterMs: options.unplugAfterMs } : {});
  const clock = scaledClock(systemClock, options.timeScale ?? 1);
  const state = new VehicleState({ ...scenario.vehicle, profile: scenario.profile, startMs: clock.now() });
  // Our own directory, so a re-plugged adapter reappears under the same path.
  const dir = await mkdtemp(join(tmpdir(), 'carchain-elm327-'));
  let pair: PtyPair | undefined;
  let link: SerialPortLink | undefined;
  let simulator: Elm327Simulator | undefined;
  let gpsPair: PtyPair | undefined;
  let gpsLink: SerialPortLink | undefined;
  let player: NmeaRoutePlayer | undefined;
  let stopped = false;

  const plugIn = async (withUnplug: boolean): Promise<void> => {
    pair = await openPtyPair({ dir });
    link = await SerialPortLink.open({ path: pair.devicePath, baudRate });
    simulator = startElm327Simulator({
      link,
      scenario: withUnplug ? scenario : { ...scenario, unplugAfterMs: undefined },
      state,
      clock,
      baudRate,
      ...(options.latencyMs !== undefined ? { ecuLatencyMs: options.latencyMs } : {}),
      searchDelayMs: options.searchDelayMs ?? 1500,
      resetDelayMs: options.resetDelayMs ?? 500,
      seed: options.seed ?? 1,
      canIdBits: options.canIdBits ?? 11,
      // A pty cannot report an error to its reader; killing socat makes the host's next I/O fail (EIO).
      unplug: async () => {
        event({ event: 'unplugged' });
        await link?.close();
        await pair?.close();
        if (options.replugAfterMs !== undefined && !stopped) {
          setTimeout(() => {
            if (stopped) return;
            plugIn(false).then(
              () => event({ event: 'replugged', pty: pair?.hostPath }),
              (error: unknown) => event({ event: 'replug-failed', error: String(error) }),
            );
          }, options.replugAfterMs);
        }
      },
    });
  };

  await plugIn(true);
  if (options.gps) {
    await mkdir(join(dir, 'gps'));
    gpsPair = await openPtyPair({ dir: join(dir, 'gps') });
    gpsLink = await SerialPortLink.open({ path: gpsPair.devicePath, baudRate: 9600 });
    player = startNmeaRoutePlayer({ link: gpsLink, speed: { kind: 'vehicle', state }, clock, sentences: ['RMC', 'GGA', 'VTG'] });
  }
  return {
    ptyPath: pair!.hostPath,
    ...(gpsPair ? { gpsPath: gpsPair.hostPath } : {}),
    stop: async () => {
      if (stopped) return;
      stopped = true;
      await player?.stop();
      await gpsLink?.close();
      await gpsPair?.close();
      await simulator?.stop();
      await link?.close();
      await pair?.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
