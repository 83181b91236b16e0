// `carchain obd scan|watch`: talk to any ELM327-compatible adapter (or the simulator) on a serial port or pty.
import type { Command } from 'commander';
import { Elm327Adapter } from '../../../hardware/obd/elm327/elm327-adapter.js';
import { scanVehicle, watchPids } from '../../../hardware/obd/obd-scan.js';
import { SerialPortLink } from '../../../hardware/serial/serial-port-link.js';
import { CarchainError } from '../../../protocol/errors.js';

const intOption = (v: string) => {
  const n = Number.parseInt(v, 10);
  if (!Number.isFinite(n)) throw new CarchainError('USAGE', `not a number: ${v}`);
  return n;
};

async function openAdapter(port: string, baudRate: number): Promise<Elm327Adapter> {
  const link = await SerialPortLink.open({ path: port, baudRate });
  return new Elm327Adapter(link);
}

export function registerObd(program: Command): void {
  const obd = program.command('obd').description('read a car through an ELM327 adapter');

  obd
    .command('scan')
    .description('connect, list supported PIDs, read each once, read VIN, calibration ids and trouble codes')
    .requiredOption('--port <path>', 'serial port, e.g. /dev/serial/by-id/usb-FTDI…, or a simulator pty')
    .option('--baud <n>', 'baud rate', intOption, 38400)
    .option('--json', 'print one JSON object')
    .addHelpText('after', '\nExample:\n  $ carchain sim elm327 --pty &   # prints {"pty":"/tmp/carchain-elm327-…/host"}\n  $ carchain obd scan --port /tmp/carchain-elm327-…/host --json')
    .action(async (opts: { port: string; baud: number; json?: boolean }) => {
      const adapter = await openAdapter(opts.port, opts.baud);
      try {
        const report = await scanVehicle(adapter);
        if (opts.json) {
          process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
          return;
        }
        process.stdout.write(`adapter   ${report.adapter}\nprotocol  ${report.protocol}\nvoltage   ${report.voltage ?? '-'} V\nVIN       ${report.vin ?? '-'}\n`);
        process.stdout.write(`DTCs      stored ${report.dtcs.stored.join(' ') || '-'}  pending ${report.dtcs.pending.join(' ') || '-'}  permanent ${report.dtcs.permanent.join(' ') || '-'}\n\n`);
        for (const s of report.samples) process.stdout.write(`${s.pid}  ${s.name.padEnd(28)} ${JSON.stringify(s.value)} ${s.unit}\n`);
      } finally {
        await adapter.close();
      }
    });

  obd
    .command('watch')
    .description('stream decoded readings as JSON lines until interrupted')
    .requiredOption('--port <path>', 'serial port or simulator pty')
    .requiredOption('--pids <list>', 'comma-separated hex PIDs, e.g. 0C,0D,05')
    .option('--rate <hz>', 'polls per second', Number, 2)
    .option('--baud <n>', 'baud rate', intOption, 38400)
    .option('--count <n>', 'stop after this many polls (default: run until Ctrl-C)', intOption)
    .addHelpText('after', '\nExample:\n  $ carchain obd watch --port /dev/serial/by-id/usb-FTDI… --pids 0C,0D --rate 5')
    .action(async (opts: { port: string; pids: string; rate: number; baud: number; count?: number }) => {
      const pids = opts.pids.split(',').map((p) => {
        if (!/^[0-9a-f]{2}$/i.test(p.trim())) throw new CarchainError('USAGE', `not a hex PID: ${p}`);
        return Number.parseInt(p, 16);
      });
      const adapter = await openAdapter(opts.port, opts.baud);
      const abort = new AbortController();
      process.once('SIGINT', () => abort.abort());
      let polls = 0;
      let seen = 0;
      try {
        await watchPids(adapter, pids, opts.rate, (r) => {
          process.stdout.write(`${JSON.stringify({ t: r.t, pid: r.pid.toString(16).toUpperCase().padStart(2, '0'), name: r.name, value: r.value, unit: r.unit, ecu: r.ecu })}\n`);
          if (++seen % pids.length === 0 && opts.count !== undefined && ++polls >= opts.count) abort.abort();
        }, abort.signal, (err) => process.stderr.write(`${JSON.stringify({ error: (err as Error).message, code: (err as { code?: string }).code })}\n`));
      } finally {
        await adapter.close();
      }
    });
}
