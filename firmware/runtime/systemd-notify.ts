// sd_notify without a native binding: READY=1 and WATCHDOG=1 through `systemd-notify` when systemd asks for them.
//
// Node has no unix datagram sockets, so the unit sets NotifyAccess=all and we run the systemd-notify
// helper. Outside systemd (no NOTIFY_SOCKET) every call is a no-op.
import { execFile } from 'node:child_process';

export interface SystemdNotifier {
  ready(): void;
  /** Starts WATCHDOG=1 pings at half of WATCHDOG_USEC while `alive()` says the main loop is healthy. */
  startWatchdog(alive: () => boolean): () => void;
}

export function systemdNotifier(env: NodeJS.ProcessEnv = process.env): SystemdNotifier {
  const enabled = Boolean(env.NOTIFY_SOCKET);
  const send = (...args: string[]) => {
    if (enabled) execFile('systemd-notify', args, () => undefined);
  };
  return {
    ready: () => send('--ready'),
    startWatchdog: (alive) => {
      const usec = Number(env.WATCHDOG_USEC ?? 0);
      if (!enabled || !(usec > 0)) return () => undefined;
      const timer = setInterval(() => {
        if (alive()) send('WATCHDOG=1');
      }, usec / 2000);
      timer.unref();
      return () => clearInterval(timer);
    },
  };
}
