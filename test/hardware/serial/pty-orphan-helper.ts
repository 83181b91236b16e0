// Helper process for pty-pair.test.ts: opens a pty pair, prints socat's pid, then waits to be killed.
import { openPtyPair } from '../../../hardware/serial/pty-pair.js';

const pair = await openPtyPair();
process.stdout.write(`${JSON.stringify({ pid: pair.pid, hostPath: pair.hostPath })}\n`);
setInterval(() => undefined, 1000);
