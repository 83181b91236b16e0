// A one-line progress bar on stderr, drawn only when stderr is a terminal (logs and pipes get nothing).
import type { WriteStream } from 'node:tty';

export interface ProgressBar {
  update(done: number): void;
  finish(): void;
}

const WIDTH = 30;

export function progressBar(label: string, total: number, stream: NodeJS.WriteStream | WriteStream = process.stderr): ProgressBar {
  if (!stream.isTTY || total <= 0) return { update: () => undefined, finish: () => undefined };
  let shown = -1;
  const draw = (done: number) => {
    const filled = Math.round((done / total) * WIDTH);
    if (filled === shown && done !== total) return;
    shown = filled;
    stream.write(`\r${label} [${'#'.repeat(filled)}${'.'.repeat(WIDTH - filled)}] ${done}/${total}`);
  };
  return {
    update: draw,
    finish: () => stream.write('\n'),
  };
}
