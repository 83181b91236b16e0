// Starts the ELM327 simulator on a pseudo-terminal: prints {"pty":"/tmp/…/host"} and runs until SIGTERM.
//
//   node --import tsx hardware/sim/run-elm327-pty.ts [--scenario driving] [--baud 38400]
//        [--latency-ms 40] [--search-delay-ms 1500] [--reset-delay-ms 500] [--seed 1]
//        [--time-scale 1] [--can-bits 11|29] [--unplug-after-ms N] [--replug-after-ms N] [--gps]
//
// Point any serial tool at the printed path (`screen /tmp/…/host 38400`). With --gps a second pty
// plays NMEA from the same simulated car (stdout then also carries "gps"). Events (unplugged,
// replugged) go to stderr as JSON lines; stdout stays one line.
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { SerialPortLink } from '../serial/serial-port-link.js';
import { openPtyPair, type PtyPair } from '../serial/pty-pair.js';
import { startElm327Simulator, type Elm327Simulator } from './elm327-simulator.js';
import { startNmeaRoutePlayer, type NmeaRoutePlayer } from './nmea-route-player.js';
import { scenarioByName } from './scenarios.js';
import { scaledClock, systemClock } from './sim-clock.js';
import { VehicleState } from './vehicle-state.js';

const { values } = parseArgs({
  options: {
    scenario: { type: 'string', default: 'driving' },
    baud: { type: 'string', default: '38400' },
    'latency-ms': { type: 'string' },
    'search-delay-ms': { type: 'string', default: '1500' },
    'reset-delay-ms': { type: 'string', default: '500' },
    seed: { type: 'string', default: '1' },
    'time-scale': { type: 'string', default: '1' },
    'can-bits': { type: 'string', default: '11' },
    'unplug-after-ms': { type: 'string' },
    'replug-after-ms': { type: 'string' },
    gps: { type: 'boolean', default: false },
  },
});

const num = (text: string | undefined): number | undefined => {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!Number.isFinite(value)) {
    process.stderr.write(`not a number: ${text}\n`);
    process.exit(2);
  }
  return value;
};

const event = (data: Record<string, unknown>): void => {
  process.stderr.write(`${JSON.stringify(data)}\n`);
};

async function main(): Promise<void> {
  const baudRate = num(values.baud) ?? 38400;
  const unplugAfterMs = num(values['unplug-after-ms']);
  const replugAfterMs = num(values['replug-after-ms']);
  const scenario = scenarioByName(values.scenario ?? 'driving', unplugAfterMs !== undefined ? { unplugAfterMs } : {});
  const clock = scaledClock(systemClock, num(values['time-scale']) ?? 1);
  const state = new VehicleState({ ...scenario.vehicle, profile: scenario.profile, startMs: clock.now() });
  // Our own directory, so a re-plugged adapter reappears under the same path.
  const dir = await mkdtemp(join(tmpdir(), 'carchain-elm327-'));
  const latency = num(values['latency-ms']);

  let pair: PtyPair | undefined;
  let link: SerialPortLink | undefined;
  let simulator: Elm327Simulator | undefined;
  let gpsPair: PtyPair | undefined;
  let gpsLink: SerialPortLink | undefined;
  let player: NmeaRoutePlayer | undefined;
  let shuttingDown = false;

  const plugIn = async (withUnplug: boolean): Promise<void> => {
    pair = await openPtyPair({ dir });
    link = await SerialPortLink.open({ path: pair.devicePath, baudRate });
    simulator = startElm327Simulator({
      link,
      scenario: withUnplug ? scenario : { ...scenario, unplugAfterMs: undefined },
      state,
      clock,
      baudRate,
      ...(latency !== undefined ? { ecuLatencyMs: latency } : {}),
      searchDelayMs: num(values['search-delay-ms']) ?? 1500,
      resetDelayMs: num(values['reset-delay-ms']) ?? 500,
      seed: num(values.seed) ?? 1,
      canIdBits: values['can-bits'] === '29' ? 29 : 11,
      // A pty cannot report an error to its reader; killing socat makes the host's next I/O fail (EIO).
      unplug: async () => {
        event({ event: 'unplugged' });
        await link?.close();
        await pair?.close();
        if (replugAfterMs !== undefined && !shuttingDown) {
          setTimeout(() => {
            if (shuttingDown) return;
            plugIn(false).then(
              () => event({ event: 'replugged', pty: pair?.hostPath }),
              (error: unknown) => event({ event: 'replug-failed', error: String(error) }),
            );
          }, replugAfterMs);
        }
      },
    });
  };

  await plugIn(true);
  const output: Record<string, string> = { pty: pair!.hostPath };
  if (values.gps) {
    await mkdir(join(dir, 'gps'));
    gpsPair = await openPtyPair({ dir: join(dir, 'gps') });
    gpsLink = await SerialPortLink.open({ path: gpsPair.devicePath, baudRate: 9600 });
    player = startNmeaRoutePlayer({ link: gpsLink, speed: { kind: 'vehicle', state }, clock, sentences: ['RMC', 'GGA', 'VTG'] });
    output.gps = gpsPair.hostPath;
  }
  process.stdout.write(`${JSON.stringify(output)}\n`);

  const shutdown = async (): Promise<void> => {
    if (shuttingDown) return;
    shuttingDown = true;
    await player?.stop();
    await gpsLink?.close();
    await gpsPair?.close();
    await simulator?.stop();
    await link?.close();
    await pair?.close();
    await rm(dir, { recursive: true, force: true });
    process.exit(0);
  };
  for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, () => void shutdown());
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
