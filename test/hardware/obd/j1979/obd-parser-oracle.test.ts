// obd-parser (GPL-3.0, dev dependency, tests only) as an independent oracle for the mode-01 PIDs it knows.
//
// It is loaded with require() from its lib/ folder: the package entry pulls in bluebird and
// serial-port plumbing we do not want, and shipped code must never import it (ESLint enforces that).
import { createRequire } from 'node:module';
import t from 'tap';
import fc from 'fast-check';
import { decodeMode01 } from '../../../../hardware/obd/j1979/mode01.js';

interface OracleParser {
  getPid(): string;
  getValueForBytes(bytes: string[]): number | string;
}
type OracleParserClass = new () => OracleParser;

const require = createRequire(import.meta.url);
const oracle = require('obd-parser/lib/pids/pid.js') as Record<string, OracleParserClass>;
const make = (name: string): OracleParser => {
  const Parser = oracle[name];
  if (Parser === undefined) throw new Error(`obd-parser has no ${name}`);
  return new Parser();
};

/** obd-parser takes the whole response as hex strings: ['41', pid, A, B, …]. */
const oracleValue = (parser: OracleParser, data: number[]): number | string =>
  parser.getValueForBytes(['41', parser.getPid(), ...data.map((b) => b.toString(16).toUpperCase().padStart(2, '0'))]);
const ourValue = (pid: number, data: number[]): unknown => decodeMode01(Uint8Array.of(pid, ...data))[0]?.value;

// Its numeric converters that match the J1979 formulas. Left out on purpose:
// CalculatedEngineLoad computes A/2.5 (up to 102 %) instead of A*100/255; SupportedPids includes
// the PID byte in its bitmap; FuelSystemStatus and ObdStandard return prose (ObdStandard is
// checked below by which codes are defined).
const NUMERIC = ['Rpm', 'CoolantTemp', 'VehicleSpeed', 'FuelPressure', 'IntakeManifoldAbsolutePressure', 'IntakeAirTemperature', 'MafAirFlowRate', 'ThrottlePosition', 'FuelLevel'];

t.test('1-byte PIDs agree on all 256 values, 2-byte PIDs on random values', (t) => {
  for (const name of NUMERIC) {
    const parser = make(name);
    const pid = Number.parseInt(parser.getPid(), 16);
    const width = name === 'Rpm' || name === 'MafAirFlowRate' ? 2 : 1;
    let compared = 0;
    if (width === 1) {
      for (let a = 0; a < 256; a++) {
        const theirs = oracleValue(parser, [a]);
        const ours = ourValue(pid, [a]);
        if (typeof theirs !== 'number' || typeof ours !== 'number' || Math.abs(theirs - ours) > 1e-9) {
          t.fail(`${name} A=${a}: obd-parser ${theirs}, ours ${String(ours)}`);
        }
        compared++;
      }
    } else {
      fc.assert(fc.property(fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 255 }), (a, b) => {
        compared++;
        const theirs = oracleValue(parser, [a, b]);
        const ours = ourValue(pid, [a, b]);
        return typeof theirs === 'number' && typeof ours === 'number' && Math.abs(theirs - ours) < 1e-9;
      }), { numRuns: 2000, seed: 1979 });
    }
    t.ok(compared >= 256, `${name} (PID ${parser.getPid()}): ${compared} values agree`);
  }
  t.end();
});

t.test('the worked example agrees: 41 0C 1A F8 = 1726 rpm in both', (t) => {
  t.equal(oracleValue(make('Rpm'), [0x1a, 0xf8]), 1726);
  t.equal(ourValue(0x0c, [0x1a, 0xf8]), 1726);
  t.end();
});

t.test('OBD standard (PID 1C): the same codes are defined', (t) => {
  const parser = make('ObdStandard');
  for (let a = 0; a < 256; a++) {
    const theirs = oracleValue(parser, [a]);
    const ours = ourValue(0x1c, [a]) as { standard: string | null };
    t.equal(ours.standard !== null, theirs !== 'Unknown', `code ${a}`);
  }
  t.end();
});

t.test('the known obd-parser engine-load bug is where we differ', (t) => {
  t.equal(oracleValue(make('CalculatedEngineLoad'), [0xff]), 102, 'obd-parser: A/2.5');
  t.equal(ourValue(0x04, [0xff]), 100, 'J1979: A*100/255');
  t.end();
});
