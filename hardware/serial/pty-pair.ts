// A connected pair of pseudo-terminals made by Debian's socat, so simulators sit behind a real tty.
//
// `openPtyPair()` runs `socat -d -d pty,raw,echo=0,link=<dir>/dev pty,raw,echo=0,link=<dir>/host` and
// resolves once both symlinks exist. A simulator opens `devicePath` (as the adapter would be), the code
// under test opens `hostPath` with the real serialport binding. Bytes written on one side come out of
// the other; a pty has no real baud rate, so any pacing is the simulator's job.
//
// Cleanup rules: `close()` is idempotent, kills socat and removes the symlinks (and the temp dir if
// we made it). If the parent process dies without calling close() — even by SIGKILL — a tiny watchdog
// shell that holds the other end of a pipe notices EOF and kills socat, so no socat outlives its test.
import { spawn, type ChildProcess } from 'node:child_process';
import { lstat, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CarchainError } from '../../protocol/errors.js';

export type PtyErrorCode = 'PTY_SOCAT_MISSING' | 'PTY_START_FAILED' | 'PTY_START_TIMEOUT';

export class PtyError extends CarchainError<PtyErrorCode> {}

export interface PtyPairOptions {
  /** Directory for the `dev` and `host` symlinks; reusing one gives a re-plugged device the same path. */
  dir?: string;
  /** socat executable (default `socat` from PATH). */
  socatPath?: string;
  /** How long to wait for socat to create both ptys (default 5000 ms). */
  startTimeoutMs?: number;
}

export interface PtyPair {
  /** Where the simulated device attaches (symlink to /dev/pts/N). */
  readonly devicePath: string;
  /** Where the code under test attaches, like a /dev/serial/by-id/… path. */
  readonly hostPath: string;
  /** socat's process id, for diagnostics. */
  readonly pid: number;
  /** Kills socat and removes the symlinks; resolves when socat has exited. */
  close(): Promise<void>;
}

const POLL_MS = 10;

export async function openPtyPair(options: PtyPairOptions = {}): Promise<PtyPair> {
  const ownDir = options.dir === undefined;
  const dir = options.dir ?? (await mkdtemp(join(tmpdir(), 'carchain-pty-')));
  const devicePath = join(dir, 'dev');
  const hostPath = join(dir, 'host');
  // Stale links from a killed run would make us believe socat is ready before it is.
  await Promise.all([rm(devicePath, { force: true }), rm(hostPath, { force: true })]);

  const socatPath = options.socatPath ?? 'socat';
  const socat = spawn(socatPath, ['-d', '-d', `pty,raw,echo=0,link=${devicePath}`, `pty,raw,echo=0,link=${hostPath}`], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  socat.stderr?.setEncoding('utf8');
  socat.stderr?.on('data', (text: string) => {
    if (stderr.length < 4000) stderr += text;
  });
  const exited = new Promise<number | null>((resolve) => socat.once('close', (code) => resolve(code)));
  const spawnError = new Promise<Error>((resolve) => socat.once('error', resolve));

  const cleanupDir = async (): Promise<void> => {
    await Promise.all([rm(devicePath, { force: true }), rm(hostPath, { force: true })]);
    if (ownDir) await rm(dir, { recursive: true, force: true });
  };

  const polling = { cancelled: false };
  const startup = await Promise.race([
    waitForLinks([devicePath, hostPath], options.startTimeoutMs ?? 5000, polling).then((ok): 'ready' | 'timeout' => (ok ? 'ready' : 'timeout')),
    spawnError.then((err) => err),
    exited.then((code) => code),
  ]);
  polling.cancelled = true;
  if (startup !== 'ready') {
    socat.kill('SIGKILL');
    await cleanupDir();
    if (startup instanceof Error) {
      const missing = (startup as NodeJS.ErrnoException).code === 'ENOENT';
      throw new PtyError(
        missing ? 'PTY_SOCAT_MISSING' : 'PTY_START_FAILED',
        missing ? `socat not found (${socatPath}); install Debian's socat package` : `cannot start socat: ${startup.message}`,
        { cause: startup },
      );
    }
    if (startup === 'timeout') {
      throw new PtyError('PTY_START_TIMEOUT', `socat did not create ${devicePath} and ${hostPath} in time: ${stderr.trim()}`, { temporary: true });
    }
    throw new PtyError('PTY_START_FAILED', `socat exited with code ${String(startup)}: ${stderr.trim()}`);
  }

  const pid = socat.pid ?? -1;
  const watchdog = startWatchdog(pid);
  const killOnExit = (): void => {
    socat.kill('SIGTERM');
  };
  process.once('exit', killOnExit);
  // Neither child may keep a test process alive: the watchdog covers the forgotten close().
  // (socat's stderr stays drained: closing it would kill socat with SIGPIPE on its next log line.)
  socat.unref();
  (socat.stderr as unknown as { unref?: () => void } | null)?.unref?.();

  let closing: Promise<void> | undefined;
  return {
    devicePath,
    hostPath,
    pid,
    close() {
      closing ??= (async () => {
        process.removeListener('exit', killOnExit);
        // Hold the event loop until socat is really gone (it was unref'd while idle).
        socat.ref();
        (socat.stderr as unknown as { ref?: () => void } | null)?.ref?.();
        if (socat.exitCode === null && socat.signalCode === null) socat.kill('SIGTERM');
        await exited;
        // socat is gone: make sure the watchdog does not kill a recycled pid.
        watchdog.kill('SIGKILL');
        await cleanupDir();
      })();
      return closing;
    },
  };
}

/** A shell that kills `pid` when its stdin (a pipe from us) reaches EOF, i.e. when this process dies. */
function startWatchdog(pid: number): ChildProcess {
  const watchdog = spawn('sh', ['-c', 'cat >/dev/null; kill -TERM "$1" 2>/dev/null', 'pty-watchdog', String(pid)], {
    stdio: ['pipe', 'ignore', 'ignore'],
  });
  watchdog.on('error', () => undefined);
  watchdog.unref();
  // Keep the pipe open but do not let it hold the event loop.
  (watchdog.stdin as unknown as { unref?: () => void } | null)?.unref?.();
  return watchdog;
}

async function waitForLinks(paths: readonly string[], timeoutMs: number, polling: { cancelled: boolean }): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!polling.cancelled) {
    const present = await Promise.all(paths.map((path) => lstat(path).then(() => true, () => false)));
    if (present.every(Boolean)) return true;
    if (Date.now() >= deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
  return false;
}
