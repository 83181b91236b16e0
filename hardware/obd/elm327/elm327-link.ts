// The ELM327 command channel over a ByteLink: a queue with one command in flight, written only after a `>` prompt.
//
// Rules this class keeps, because ELM327s (and clones more so) break otherwise:
// - A command is written only when the last byte received was a `>` prompt. Any byte sent while the adapter
//   is busy interrupts it (`STOPPED`), so there is never more than one command in flight.
// - On a fresh link, after a timeout, or when text arrived while idle, the prompt is "lost": before the
//   next command the link sends a bare `\r` and waits for a `>` followed by a quiet period (so a late answer
//   to the old command is not taken for the new one's). A bare `\r` makes an ELM repeat its last command;
//   that answer is drained and dropped.
// - Every command has a timeout (default 5 s). The first OBD command after the protocol may have to be
//   searched for (a fresh link, `ATZ`, `ATSP…`, `ATTP…`, `ATPC`, `ATWS`, `ATD`, `LV RESET`) gets the long
//   search timeout (default 20 s): `SEARCHING...` takes seconds on a real car.
// - Error lines become typed `Elm327Error`s (see elm327-errors.ts).
//
// Cancellation rules:
// - When the underlying ByteLink closes by itself (adapter unplugged, EIO) or a write to it fails (the link is
//   then closed), the command in flight and every queued command reject with a temporary `ELM_DISCONNECTED`;
//   so does every later `send()`.
// - After `close()`, the same happens with a permanent `ELM_CLOSED`.
// - A `signal` that aborts while the command is queued removes it and rejects with `ELM_CANCELLED`; once it
//   is written it cannot be unsent: the caller's promise rejects with `ELM_CANCELLED` (mayHaveSucceeded)
//   at once, and the link still waits for its prompt (or timeout) before writing the next command.
import type { ByteLink } from '../../serial/byte-link.js';
import { Elm327Error, errorForKind, WHOLE_RESPONSE_KINDS } from './elm327-errors.js';
import { ElmAnswerReader, isAdapterCommand, isHexLine, parseAnswer, type ElmResponse, type RawElmAnswer } from './elm327-response-parser.js';
import { realTimers, type Timers } from './timers.js';

export interface Elm327LinkOptions {
  /** Default per-command timeout until the `>` prompt. */
  commandTimeoutMs?: number;
  /** Timeout of the first OBD command while a protocol search may be pending. */
  searchTimeoutMs?: number;
  /** How long one prompt-recovery attempt waits for `>` after sending `\r`. */
  recoveryTimeoutMs?: number;
  recoveryAttempts?: number;
  /** Silence required after a recovered prompt before the link trusts it. */
  quietMs?: number;
  timers?: Timers;
}

export interface SendOptions {
  timeoutMs?: number;
  signal?: AbortSignal;
  /**
   * After the answer's prompt, wait until no byte arrived for this long before the next command is written
   * (`ATZ`: clones send extra bytes or a second prompt after the banner).
   */
  settleMs?: number;
}

interface Job {
  command: string;
  options: SendOptions;
  resolve: (response: ElmResponse) => void;
  reject: (error: Elm327Error) => void;
  settled: boolean;
}

interface InFlight {
  job: Job;
  complete: (answer: RawElmAnswer) => void;
}

const SEARCH_TRIGGERS = /^AT\s*(Z|SP|TP|PC|WS|D\s*$)/i;

export class Elm327Link {
  private readonly reader = new ElmAnswerReader();
  private readonly queue: Job[] = [];
  private readonly timers: Timers;
  private readonly commandTimeoutMs: number;
  private readonly searchTimeoutMs: number;
  private readonly recoveryTimeoutMs: number;
  private readonly recoveryAttempts: number;
  private readonly quietMs: number;
  private inFlight: InFlight | null = null;
  /** True when the last byte received was a `>`: the only time a command may be written. */
  private atPrompt = false;
  private searchPending = true;
  private pumping = false;
  private endError: Elm327Error | null = null;
  private byteWatchers = new Set<() => void>();
  private closeListeners = new Set<(error: Elm327Error) => void>();
  private timeoutsInARow = 0;
  private readonly unsubscribe: (() => void)[] = [];

  constructor(
    private readonly link: ByteLink,
    options: Elm327LinkOptions = {},
  ) {
    this.timers = options.timers ?? realTimers;
    this.commandTimeoutMs = options.commandTimeoutMs ?? 5_000;
    this.searchTimeoutMs = options.searchTimeoutMs ?? 20_000;
    this.recoveryTimeoutMs = options.recoveryTimeoutMs ?? 1_000;
    this.recoveryAttempts = options.recoveryAttempts ?? 3;
    this.quietMs = options.quietMs ?? 50;
    this.unsubscribe.push(link.onData((chunk) => this.onBytes(chunk)));
    this.unsubscribe.push(
      link.onClose((error) =>
        this.end(
          new Elm327Error('ELM_DISCONNECTED', `serial link closed${error ? `: ${error.message}` : ''}`, {
            temporary: true,
            mayHaveSucceeded: true,
            cause: error,
          }),
        ),
      ),
    );
    if (!link.isOpen) this.end(new Elm327Error('ELM_DISCONNECTED', 'serial link is not open', { temporary: true }));
  }

  get isOpen(): boolean {
    return this.endError === null;
  }

  /** Commands that timed out one after another (reset by any answer): a hint that the adapter hung. */
  get consecutiveTimeouts(): number {
    return this.timeoutsInARow;
  }

  /** Fires once, with the error every pending command got, when the link ends (closed or disconnected). */
  onEnd(listener: (error: Elm327Error) => void): () => void {
    if (this.endError !== null) {
      const error = this.endError;
      queueMicrotask(() => listener(error));
      return () => undefined;
    }
    this.closeListeners.add(listener);
    return () => this.closeListeners.delete(listener);
  }

  /** Marks the protocol as unknown, so the next OBD command gets the long search timeout. */
  expectProtocolSearch(): void {
    this.searchPending = true;
  }

  /** Queues `command` (without `\r`); resolves with its parsed answer or rejects with an Elm327Error. */
  send(command: string, options: SendOptions = {}): Promise<ElmResponse> {
    if (this.endError !== null) return Promise.reject(this.endError);
    if (command.trim() === '' || /[\r\n>]/.test(command)) {
      return Promise.reject(new Elm327Error('ELM_INVALID_ARGUMENT', `not a command: ${JSON.stringify(command)}`));
    }
    if (options.signal?.aborted) return Promise.reject(cancelled(command, false));
    return new Promise<ElmResponse>((resolve, reject) => {
      const job: Job = { command, options, resolve, reject, settled: false };
      job.resolve = (response) => {
        if (job.settled) return;
        job.settled = true;
        resolve(response);
      };
      job.reject = (error) => {
        if (job.settled) return;
        job.settled = true;
        reject(error);
      };
      options.signal?.addEventListener(
        'abort',
        () => {
          const index = this.queue.indexOf(job);
          if (index >= 0) this.queue.splice(index, 1);
          job.reject(cancelled(command, index < 0));
        },
        { once: true },
      );
      this.queue.push(job);
      void this.pump();
    });
  }

  /** Closes the underlying link; pending commands reject with ELM_CLOSED. Idempotent. */
  async close(): Promise<void> {
    this.end(new Elm327Error('ELM_CLOSED', 'ELM327 link closed', { temporary: false }));
    await this.link.close();
  }

  private end(error: Elm327Error): void {
    if (this.endError !== null) return;
    this.endError = error;
    for (const off of this.unsubscribe) off();
    const inFlight = this.inFlight;
    this.inFlight = null;
    inFlight?.job.reject(error);
    for (const job of this.queue.splice(0)) job.reject(error);
    for (const watcher of [...this.byteWatchers]) watcher();
    for (const listener of [...this.closeListeners]) listener(error);
    this.closeListeners.clear();
  }

  private onBytes(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    const answers = this.reader.push(chunk);
    for (const answer of answers) {
      const inFlight = this.inFlight;
      this.inFlight = null;
      // An answer nobody is waiting for (a late one, an unsolicited `ACT ALERT`, a second prompt) is dropped.
      inFlight?.complete(answer);
    }
    // Line noise after a prompt (bytes that are not text) does not make the prompt stale; text does.
    if (answers.length > 0) this.atPrompt = this.reader.pendingIsNoise;
    else if (!this.reader.pendingIsNoise) this.atPrompt = false;
    for (const watcher of [...this.byteWatchers]) watcher();
  }

  private async pump(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    try {
      for (let job = this.queue.shift(); job !== undefined && this.endError === null; job = this.queue.shift()) {
        if (job.settled) continue;
        await this.execute(job);
      }
    } finally {
      this.pumping = false;
    }
  }

  private async execute(job: Job): Promise<void> {
    if (!this.atPrompt) {
      const recovered = await this.recoverPrompt();
      if (this.endError !== null) {
        job.reject(this.endError); // taken off the queue already, so end() did not reach it
        return;
      }
      if (!recovered) {
        this.timeoutsInARow++;
        job.reject(
          new Elm327Error('ELM_TIMEOUT', `${job.command}: the adapter does not show a > prompt`, { temporary: true, command: job.command }),
        );
        return;
      }
    }
    if (job.settled) return; // cancelled while we recovered
    const obd = !isAdapterCommand(job.command);
    const baseTimeout = job.options.timeoutMs ?? this.commandTimeoutMs;
    const timeoutMs = obd && this.searchPending ? Math.max(baseTimeout, this.searchTimeoutMs) : baseTimeout;
    if (SEARCH_TRIGGERS.test(job.command.trim())) this.searchPending = true;

    const answer = await this.writeAndAwaitAnswer(job, timeoutMs);
    if (answer === null) return;
    this.timeoutsInARow = 0;
    const outcome = interpret(answer, job.command);
    if (outcome instanceof Elm327Error) {
      if (outcome.code === 'ELM_ADAPTER_RESET') this.searchPending = true;
      job.reject(outcome);
    } else {
      if (obd) this.searchPending = false;
      job.resolve(outcome);
    }
    if (job.options.settleMs !== undefined) await this.waitForQuietPrompt(job.options.settleMs, timeoutMs);
  }

  /** Resolves with the raw answer, or null when the job was failed (timeout, write error, link end). */
  private writeAndAwaitAnswer(job: Job, timeoutMs: number): Promise<RawElmAnswer | null> {
    return new Promise((resolve) => {
      this.atPrompt = false;
      this.reader.reset();
      const timer = this.timers.setTimeout(() => {
        if (this.inFlight?.job !== job) return;
        this.inFlight = null;
        this.byteWatchers.delete(endWatcher);
        this.timeoutsInARow++;
        const seen = this.reader.pendingLines();
        job.reject(
          new Elm327Error('ELM_TIMEOUT', `${job.command}: no answer within ${timeoutMs} ms${seen.length > 0 ? ` (got ${JSON.stringify(seen)})` : ''}`, {
            temporary: true,
            mayHaveSucceeded: true,
            command: job.command,
          }),
        );
        resolve(null);
      }, timeoutMs);
      const endWatcher = (): void => {
        if (this.endError === null) return;
        this.byteWatchers.delete(endWatcher);
        this.timers.clearTimeout(timer);
        resolve(null); // end() already rejected the job
      };
      this.byteWatchers.add(endWatcher);
      this.inFlight = {
        job,
        complete: (answer) => {
          this.byteWatchers.delete(endWatcher);
          this.timers.clearTimeout(timer);
          resolve(answer);
        },
      };
      this.link.write(new TextEncoder().encode(`${job.command}\r`)).catch((error: unknown) => {
        if (this.inFlight?.job !== job) return;
        this.inFlight = null;
        this.byteWatchers.delete(endWatcher);
        this.timers.clearTimeout(timer);
        job.reject(
          new Elm327Error('ELM_DISCONNECTED', `${job.command}: write failed`, { temporary: true, mayHaveSucceeded: true, cause: error, command: job.command }),
        );
        this.writeFailed(error);
        resolve(null);
      });
    });
  }

  /**
   * A failed write means the device is gone (EIO on a pulled USB adapter or a dead pty), even when the port
   * has not reported it (yet): end the link so the owner reconnects instead of timing out command by command.
   */
  private writeFailed(error: unknown): void {
    this.end(
      new Elm327Error('ELM_DISCONNECTED', `serial write failed: ${(error as Error).message}`, { temporary: true, mayHaveSucceeded: true, cause: error }),
    );
    this.link.close().catch(() => undefined);
  }

  /** Sends `\r` and waits for a quiet `>`, a few times. */
  private async recoverPrompt(): Promise<boolean> {
    // Bytes already sitting after a prompt may be an unsolicited message still arriving: give them a chance first.
    if (!this.reader.pendingIsNoise && (await this.waitForQuietPrompt(this.quietMs, this.recoveryTimeoutMs))) return true;
    for (let attempt = 0; attempt < this.recoveryAttempts && this.endError === null; attempt++) {
      this.reader.reset();
      this.atPrompt = false;
      try {
        await this.link.write(Uint8Array.of(0x0d));
      } catch (error) {
        this.writeFailed(error);
        return false;
      }
      if (await this.waitForQuietPrompt(this.quietMs, this.recoveryTimeoutMs)) return true;
    }
    return false;
  }

  /** True once the last byte received is a `>` and nothing followed it for `quietMs`; false after `timeoutMs`. */
  private waitForQuietPrompt(quietMs: number, timeoutMs: number): Promise<boolean> {
    return new Promise((resolve) => {
      let quietTimer: unknown = null;
      const finish = (ok: boolean): void => {
        this.byteWatchers.delete(watcher);
        this.timers.clearTimeout(deadline);
        if (quietTimer !== null) this.timers.clearTimeout(quietTimer);
        resolve(ok);
      };
      const watcher = (): void => {
        if (this.endError !== null) return finish(false);
        if (quietTimer !== null) this.timers.clearTimeout(quietTimer);
        quietTimer = this.atPrompt ? this.timers.setTimeout(() => finish(true), quietMs) : null;
      };
      const deadline = this.timers.setTimeout(() => finish(false), timeoutMs);
      this.byteWatchers.add(watcher);
      watcher();
    });
  }
}

function cancelled(command: string, written: boolean): Elm327Error {
  return new Elm327Error('ELM_CANCELLED', `${command}: cancelled`, { temporary: false, mayHaveSucceeded: written, command });
}

/** Turns a raw answer into a response, or the error it stands for. */
function interpret(answer: RawElmAnswer, command: string): ElmResponse | Elm327Error {
  const response = parseAnswer(answer, command);
  const whole = response.errors.find((e) => WHOLE_RESPONSE_KINDS.has(e.kind));
  if (whole !== undefined) return errorForKind(whole.kind, whole.text, command);
  if (!isAdapterCommand(command)) {
    const garbled = response.lines.filter((line) => !isHexLine(line));
    if (garbled.length > 0) {
      response.lines = response.lines.filter((line) => isHexLine(line));
      response.unreadable = garbled;
    }
    if (response.lines.length === 0) {
      if (response.errors.length > 0) return errorForKind(response.errors[0]!.kind, response.errors[0]!.text, command);
      const what = garbled.length > 0 ? `unreadable lines ${JSON.stringify(garbled)}` : response.garbageBytes > 0 ? `${response.garbageBytes} noise bytes` : 'an empty answer';
      return new Elm327Error('ELM_GARBLED', `${command}: ${what}`, { temporary: true, command });
    }
    return response;
  }
  if (response.lines.length === 0 && response.errors.length > 0) {
    return errorForKind(response.errors[0]!.kind, response.errors[0]!.text, command);
  }
  return response;
}
