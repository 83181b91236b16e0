// run-elm327-pty.ts as a child process: prints the pty path, answers through it, exits on SIGTERM;
// with --unplug-after-ms / --replug-after-ms the adapter disappears and comes back at the same path.
import t from 'tap';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { lstat } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { SerialPortLink } from '../../../hardware/serial/serial-port-link.js';
import { ElmTerminal } from './elm-terminal.js';

/** The part of tap's test object the helpers below need. */
interface TestWithTeardown {
  teardown(fn: () => unknown): void;
}

const SCRIPT = fileURLToPath(new URL('../../../hardware/sim/run-elm327-pty.ts', import.meta.url));
const exists = (path: string): Promise<boolean> => lstat(path).then(() => true, () => false);

function start(t: TestWithTeardown, args: string[]): { child: ChildProcessWithoutNullStreams; firstLine: Promise<string>; stderrLine: (match: RegExp) => Promise<string> } {
  const child = spawn(process.execPath, ['--import', 'tsx', SCRIPT, ...args], { stdio: 'pipe' });
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
  });
  let stdout = '';
  let stderr = '';
  const stderrWaiters: (() => void)[] = [];
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
    stderrWaiters.splice(0).forEach((wake) => wake());
  });
  const firstLine = new Promise<string>((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      if (stdout.includes('\n')) resolve(stdout.split('\n')[0]!);
    });
    child.once('exit', (code) => reject(new Error(`exited with ${code}: ${stderr}`)));
  });
  const stderrLine = async (match: RegExp): Promise<string> => {
    for (;;) {
      const line = stderr.split('\n').find((l) => match.test(l));
      if (line) return line;
      await new Promise<void>((resolve) => stderrWaiters.push(resolve));
    }
  };
  return { child, firstLine, stderrLine };
}

t.test('prints {"pty": …}, answers ATI through it, exits cleanly on SIGTERM', async (t) => {
  const { child, firstLine } = start(t, ['--scenario', 'idle', '--reset-delay-ms', '100', '--search-delay-ms', '200']);
  const line = await firstLine;
  const { pty } = JSON.parse(line) as { pty: string };
  t.match(pty, /^\/tmp\/.+\/host$/);
  t.same(Object.keys(JSON.parse(line)), ['pty'], 'exactly one key');
  const host = await SerialPortLink.open({ path: pty, baudRate: 38400 });
  const term = new ElmTerminal(host);
  t.equal((await term.send('ATI')).text, 'ATI\rELM327 v1.5\r\r>');
  t.match((await term.send('0100')).text, /^0100\rSEARCHING\.\.\.\r41 00 /);
  await host.close();
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  t.equal(await exited, 0, 'exit code 0');
  t.notOk(await exists(pty), 'the pty and its directory are gone');
});

t.test('unplug and replug: writes fail while the adapter is away, the same path works again', async (t) => {
  const { firstLine, stderrLine } = start(t, ['--unplug-after-ms', '1500', '--replug-after-ms', '300', '--reset-delay-ms', '50']);
  const { pty } = JSON.parse(await firstLine) as { pty: string };
  const host = await SerialPortLink.open({ path: pty, baudRate: 38400 });
  const closed = new Promise<Error | undefined>((resolve) => host.onClose(resolve));
  const term = new ElmTerminal(host);
  t.equal((await term.send('ATI')).text, 'ATI\rELM327 v1.5\r\r>');
  await stderrLine(/"unplugged"/);
  // A pty reader is not told about the hang-up; the next write is (EIO), as with a pulled USB adapter.
  await new Promise((resolve) => setTimeout(resolve, 100));
  await t.rejects(host.write(new Uint8Array(Buffer.from('ATI\r'))), { code: /LINK_WRITE_FAILED|LINK_CLOSED/ });
  t.ok(await closed, 'the link closed with an error');
  await stderrLine(/"replugged"/);
  const again = await SerialPortLink.open({ path: pty, baudRate: 38400 });
  const term2 = new ElmTerminal(again);
  t.equal((await term2.send('ATI')).text, 'ATI\rELM327 v1.5\r\r>', 'a fresh adapter at the same path');
  await again.close();
});
