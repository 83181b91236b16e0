// A scripted fake ELM327 for driver tests: a ByteLink that answers commands from a transcript, like a clone would.
//
// It keeps just enough ELM state to be honest: echo (on after ATZ; a "clone" keeps echoing after ATE0),
// busy-until-prompt (a byte arriving while busy is recorded as a violation and, as on a real ELM, stops
// the command with STOPPED), and a bare `\r` that repeats the last command (or only prompts).
import { LinkError, LinkListeners, type ByteLink } from '../../../../hardware/serial/byte-link.js';

export type Reply =
  | string
  | {
      /** Answer lines separated by `\r` (no prompt); omitted for no lines. */
      text?: string;
      /** Wait before answering (the whole answer, echo excluded). */
      delayMs?: number;
      /** Send the `>` prompt after the text (default true). */
      prompt?: boolean;
      /** Bytes sent verbatim instead of text + prompt (garbage, split prompts…). */
      raw?: string | Uint8Array;
    };

export interface FakeElmOptions {
  /** command (uppercase, no spaces) → reply, or replies used in turn (the last one repeats). */
  script?: Record<string, Reply | Reply[]>;
  /** Banner for ATZ. */
  banner?: string;
  /** Delay of the ATZ banner. */
  resetDelayMs?: number;
  /** Keeps echoing after ATE0, as many clones do. */
  cloneEcho?: boolean;
  /** Bare `\r` repeats the last command (real ELM); otherwise it only prints a prompt. */
  bareCrRepeats?: boolean;
  /** Split every answer into chunks of this many bytes, each delivered separately. */
  chunkSize?: number;
  /** Answer for commands the script does not know (default `?`). */
  unknown?: Reply;
}

export class FakeElm327 implements ByteLink {
  readonly received: string[] = [];
  /** Commands received while a previous one was still being answered (must stay 0). */
  violations = 0;
  private readonly listeners = new LinkListeners();
  private readonly replies = new Map<string, Reply[]>();
  private input = '';
  private echo = true;
  private busy = false;
  private lastCommand = '';
  private pending: ReturnType<typeof setTimeout> | null = null;
  private open = true;

  constructor(private readonly options: FakeElmOptions = {}) {
    for (const [command, reply] of Object.entries(options.script ?? {})) {
      this.replies.set(norm(command), Array.isArray(reply) ? [...reply] : [reply]);
    }
  }

  /** Replace or add script entries while a test runs. */
  setReply(command: string, reply: Reply | Reply[]): void {
    this.replies.set(norm(command), Array.isArray(reply) ? [...reply] : [reply]);
  }

  /** How many times `command` was received. */
  count(command: string): number {
    return this.received.filter((c) => c === norm(command)).length;
  }

  get isOpen(): boolean {
    return this.open;
  }

  write(data: Uint8Array): Promise<void> {
    if (!this.open) return Promise.reject(new LinkError('LINK_CLOSED', 'fake closed', { temporary: true }));
    const text = Buffer.from(data).toString('latin1');
    setImmediate(() => this.receive(text));
    return Promise.resolve();
  }

  onData(listener: (chunk: Uint8Array) => void): () => void {
    return this.listeners.onData(listener);
  }

  onClose(listener: (error?: Error) => void): () => void {
    return this.listeners.onClose(listener);
  }

  close(): Promise<void> {
    this.unplug();
    return Promise.resolve();
  }

  /** The adapter goes away (with `error`: as when a USB adapter is pulled). */
  unplug(error?: Error): void {
    if (!this.open) return;
    this.open = false;
    if (this.pending !== null) clearTimeout(this.pending);
    this.listeners.emitClose(error);
  }

  /** Sends bytes the driver did not ask for. */
  emit(text: string | Uint8Array): void {
    const bytes = typeof text === 'string' ? Buffer.from(text, 'latin1') : text;
    const size = this.options.chunkSize ?? bytes.length;
    for (let i = 0; i < bytes.length; i += Math.max(1, size)) this.listeners.emitData(new Uint8Array(bytes.subarray(i, i + size)));
  }

  private receive(text: string): void {
    for (const ch of text) {
      if (ch === '\r') {
        const command = norm(this.input);
        this.input = '';
        this.execute(command);
      } else if (ch !== '\n') {
        this.input += ch;
      }
    }
  }

  private execute(rawCommand: string): void {
    if (this.busy) {
      this.violations++;
      if (this.pending !== null) clearTimeout(this.pending);
      this.pending = null;
      this.busy = false;
      this.emit('STOPPED\r\r>');
      return;
    }
    let command = rawCommand;
    if (command === '') {
      if (!this.options.bareCrRepeats || this.lastCommand === '') {
        this.emit('\r>');
        return;
      }
      command = this.lastCommand;
    }
    this.received.push(command);
    this.lastCommand = command;
    if (this.echo) this.emit(`${rawCommand}\r`);
    const reply = this.replyFor(command);
    if (command === 'ATE0' && !this.options.cloneEcho) this.echo = false;
    if (command === 'ATE1' || command === 'ATZ') this.echo = true;
    this.busy = true;
    const send = (): void => {
      this.pending = null;
      this.busy = false;
      if (!this.open) return;
      if (typeof reply === 'string') this.emit(`${reply}\r\r>`);
      else if (reply.raw !== undefined) this.emit(reply.raw);
      else this.emit(`${reply.text === undefined ? '' : `${reply.text}\r`}${reply.prompt === false ? '' : '\r>'}`);
    };
    const delay = typeof reply === 'string' ? (command === 'ATZ' ? (this.options.resetDelayMs ?? 0) : 0) : (reply.delayMs ?? 0);
    this.pending = setTimeout(send, delay);
  }

  private replyFor(command: string): Reply {
    const scripted = this.replies.get(command);
    if (scripted !== undefined && scripted.length > 0) return scripted.length > 1 ? scripted.shift()! : scripted[0]!;
    if (command === 'ATZ') return `\r${this.options.banner ?? 'ELM327 v1.5'}`;
    if (/^AT(E[01]|L[01]|S[01]|H[01]|SP[0-9A-C]|SPA[0-9A-C]|AT[0-2]|ST[0-9A-F]{2})$/.test(command)) return 'OK';
    if (command === 'ATDPN') return 'A6';
    if (command === 'ATRV') return '12.6V';
    if (command === 'ATI') return this.options.banner ?? 'ELM327 v1.5';
    return this.options.unknown ?? '?';
  }
}

function norm(command: string): string {
  return command.replace(/\s+/g, '').toUpperCase();
}
