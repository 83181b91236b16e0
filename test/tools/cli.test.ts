// The carchain CLI as a user runs it: a separate process, --help, the embedded demo, exit codes.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const cli = fileURLToPath(new URL('../../tools/cli/carchain.ts', import.meta.url));
const run = (...args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', cli, ...args], { encoding: 'utf8', timeout: 60_000 });

t.test('--help lists the commands', (t) => {
  const r = run('--help');
  t.equal(r.status, 0, r.stderr);
  t.match(r.stdout, /Usage: carchain/);
  t.match(r.stdout, /demo/);
  t.end();
});

t.test('demo runs every step end to end and reports it as JSON', (t) => {
  const r = run('demo', '--json', '--pool-size', '8');
  t.equal(r.status, 0, r.stderr);
  const report = JSON.parse(r.stdout);
  t.equal(report.ok, true);
  t.equal(report.steps.length, 7);
  const read = report.steps[5].detail;
  t.equal(read.addressMatches, true, 'the wallet found the day\'s address from the date');
  t.same(read.formats, ['trip-gps', 'dtc']);
  t.equal(read.trip.VID, 'LBVNU79049SB81546');
  t.equal(report.steps[6].detail.granteeReads, true);
  t.end();
});

t.test('demo restores a given wallet: the same mnemonic gives the same owner address', (t) => {
  const mnemonic = 'abandon amount liar amount expire adjust cage candy arch gather drum bullet absurd math era live bid rhythm alien crouch range attend journey unaware';
  const a = JSON.parse(run('demo', '--json', '--mnemonic', mnemonic).stdout);
  t.equal(a.mnemonicCreated, false);
  t.equal(a.steps[0].detail.ownerAddress, '13fuLfaFNcqoDbUf4SkwQ8cmc1p2UhQDWV', 'matches test/fixtures/protocol/vectors.json');
  t.end();
});

t.test('errors: a bad mnemonic is a coded error (exit 1), a bad option a usage error (exit 2)', (t) => {
  const bad = run('demo', '--mnemonic', 'not a real mnemonic');
  t.equal(bad.status, 1);
  t.match(bad.stderr, /MNEMONIC_INVALID/);
  const usage = run('demo', '--no-such-flag');
  t.equal(usage.status, 2);
  t.match(usage.stderr, /unknown option/);
  t.end();
});
