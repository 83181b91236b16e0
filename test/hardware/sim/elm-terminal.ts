// Test helper: a minimal host-side terminal for the ELM327 simulator (write a command, read to `>`).
// Deliberately not the project's ELM327 driver: the simulator is tested on its own.
import type { ByteLink } from '../../../hardware/serial/byte-link.js';
import type { ManualClock } from '../../../hardware/sim/sim-clock.js';

export const flushIo = async (rounds = 3): Promise<void> => {
  for (let i = 0; i < rounds; i++) await new Promise((resolve) => setImmediate(resolve));
};

export class ElmTerminal {
  private buffer = '';
  private wake: (() => void) | undefined;

  constructor(readonly link: ByteLink) {
    link.onData((chunk) => {
      this.buffer += Buffer.from(chunk).toString('latin1');
      this.wake?.();
    });
  }

  /** Everything received and not consumed yet (consumes it). */
  take(): string {
    const text = this.buffer;
    this.buffer = '';
    return text;
  }

  peek(): string {
    return this.buffer;
  }

  async write(text: string): Promise<void> {
    await this.link.write(new Uint8Array(Buffer.from(text, 'latin1')));
  }

  /**
   * Sends `command` + CR and returns the text up to and including the next `>`. With a manual clock
   * it advances the clock in `stepMs` steps while waiting and reports the simulated time it took.
   */
  async send(command: string, options: { clock?: ManualClock; stepMs?: number; timeoutMs?: number } = {}): Promise<{ text: string; elapsedMs: number }> {
    this.buffer = '';
    const { clock } = options;
    const started = clock ? clock.now() : performance.now();
    await this.write(`${command}\r`);
    const text = await this.readUntilPrompt(options);
    return { text, elapsedMs: (clock ? clock.now() : performance.now()) - started };
  }

  async readUntilPrompt(options: { clock?: ManualClock; stepMs?: number; timeoutMs?: number } = {}): Promise<string> {
    const deadline = performance.now() + (options.timeoutMs ?? 10_000);
    for (;;) {
      const at = this.buffer.indexOf('>');
      if (at >= 0) {
        const text = this.buffer.slice(0, at + 1);
        this.buffer = this.buffer.slice(at + 1);
        return text;
      }
      if (performance.now() > deadline) throw new Error(`no prompt; got ${JSON.stringify(this.buffer)}`);
      if (options.clock) {
        await flushIo();
        options.clock.advance(options.stepMs ?? 1);
        await flushIo();
      } else {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, 50);
          this.wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
    }
  }
}
