// `carchain sim elm327 --pty`, `obd scan` and `obd watch` as separate processes through a real pseudo-terminal.
import t from 'tap';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const cli = fileURLToPath(new URL('../../tools/cli/carchain.ts', import.meta.url));
const args = (...a: string[]) => ['--import', 'tsx', cli, ...a];

t.test('scan and watch a simulated car on a pty', async (t) => {
  const sim = spawn(process.execPath, args('sim', 'elm327', '--pty', '--scenario', 'dtcs-present'), { stdio: ['ignore', 'pipe', 'inherit'] });
  t.teardown(() => { if (sim.exitCode === null) sim.kill('SIGKILL'); });
  const [line] = (await once(createInterface({ input: sim.stdout }), 'line')) as [string];
  const { pty } = JSON.parse(line) as { pty: string };
  t.match(pty, /host$/);

  const scan = spawnSync(process.execPath, args('obd', 'scan', '--port', pty, '--json'), { encoding: 'utf8', timeout: 60_000 });
  t.equal(scan.status, 0, scan.stderr);
  const report = JSON.parse(scan.stdout);
  t.match(report.adapter, /ELM327/);
  t.match(report.protocol, /15765-4/);
  t.ok(report.voltage > 11 && report.voltage < 15, `voltage ${report.voltage}`);
  t.equal(report.vin.length, 17);
  t.ok(report.supportedPids.includes('0C') && report.supportedPids.includes('0D'));
  t.same([...new Set(report.samples.map((s: { pid: string }) => s.pid))].sort(), [...report.supportedPids].sort(), 'a decoded reading for every supported PID (some from two ECUs)');
  for (const s of report.samples) t.ok(s.pid && s.name && 'value' in s && typeof s.unit === 'string', `${s.pid} ${s.name}`);
  t.same(report.dtcs.stored, ['P0301', 'P0420']);
  t.same(report.undecodable, []);

  const watch = spawnSync(process.execPath, args('obd', 'watch', '--port', pty, '--pids', '0C,0D', '--rate', '5', '--count', '3'), { encoding: 'utf8', timeout: 60_000 });
  t.equal(watch.status, 0, watch.stderr);
  const lines = watch.stdout.trim().split('\n').map((l) => JSON.parse(l));
  t.equal(lines.length, 6, 'three polls of two PIDs');
  t.same(new Set(lines.map((l) => l.name)), new Set(['RPM', 'SPEED']));

  sim.kill('SIGTERM');
  const [code] = (await once(sim, 'exit')) as [number | null];
  t.equal(code, 0, 'the simulator stops cleanly on SIGTERM');
});

t.test('usage errors exit 2', (t) => {
  const r = spawnSync(process.execPath, args('obd', 'watch', '--port', '/nonexistent', '--pids', 'XYZ'), { encoding: 'utf8' });
  t.equal(r.status, 2);
  t.match(r.stderr, /not a hex PID/);
  const missing = spawnSync(process.execPath, args('obd', 'scan', '--port', '/nonexistent/tty'), { encoding: 'utf8' });
  t.equal(missing.status, 75, 'a port that cannot be opened is a temporary failure');
  t.match(missing.stderr, /LINK_OPEN_FAILED/);
  t.end();
});
