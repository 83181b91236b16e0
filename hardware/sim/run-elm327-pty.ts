// Starts the ELM327 simulator on a pseudo-terminal: prints {"pty":"/tmp/…/host"} and runs until SIGTERM.
//
//   node --import tsx hardware/sim/run-elm327-pty.ts [--scenario driving] [--baud 38400]
//        [--latency-ms 40] [--search-delay-ms 1500] [--reset-delay-ms 500] [--seed 1]
//        [--time-scale 1] [--can-bits 11|29] [--unplug-after-ms N] [--replug-after-ms N] [--gps]
//
// Point any serial tool at the printed path (`screen /tmp/…/host 38400`). With --gps a second pty
// plays NMEA from the same simulated car (stdout then also carries "gps"). Events (unplugged,
// replugged) go to stderr as JSON lines; stdout stays one line.
import { parseArgs } from 'node:util';
import { startElm327OnPty } from './elm327-on-pty.js';

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

async function main(): Promise<void> {
  const running = await startElm327OnPty({
    scenario: values.scenario ?? 'driving',
    baudRate: num(values.baud) ?? 38400,
    latencyMs: num(values['latency-ms']),
    searchDelayMs: num(values['search-delay-ms']),
    resetDelayMs: num(values['reset-delay-ms']),
    seed: num(values.seed),
    timeScale: num(values['time-scale']),
    canIdBits: values['can-bits'] === '29' ? 29 : 11,
    unplugAfterMs: num(values['unplug-after-ms']),
    replugAfterMs: num(values['replug-after-ms']),
    gps: values.gps,
    onEvent: (data) => process.stderr.write(`${JSON.stringify(data)}\n`),
  });
  process.stdout.write(`${JSON.stringify({ pty: running.ptyPath, ...(running.gpsPath ? { gps: running.gpsPath } : {}) })}\n`);
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => {
      void running.stop().then(() => process.exit(0));
    });
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
