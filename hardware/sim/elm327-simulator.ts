// An ELM327 v1.5 adapter plus a car's ECUs, behind any ByteLink (in-process pair or a real pty).
//
// It reads `\r`-terminated commands (case-insensitive, spaces ignored, LF/NUL ignored, an empty line
// repeats the last command), echoes until ATE0, and answers AT commands and OBD requests with the
// real chip's text formats, ending every response with `\r\r>` (`\r\n\r\n>` with ATL1). Timing is
// part of the simulation: output is paced at the baud rate, each OBD request waits for the ECU
// latency (or the ATST timeout when nobody answers), the first request after ATZ/ATSP0 prints
// SEARCHING... and takes `searchDelayMs`, and ATZ takes `resetDelayMs` during which input is lost.
// Any byte arriving while a request is in progress aborts it with STOPPED, as on the real chip.
//
// Cancellation rules: `stop()` detaches from the link, cancels every timer and drops unsent output; it
// does not close the link (the caller owns it). When the link closes the simulator stops by itself.
// The unplugged scenario closes the link with a LinkError (via `unplug`, default `link.close(error)`).
import { LinkError, type ByteLink } from '../serial/byte-link.js';
import { defaultSettings, runAtCommand, type AtContext, type ElmSettings, type ProtocolState } from './elm327-at-commands.js';
import { formatResponse, type CanId } from './elm327-format.js';
import { EcuModel, STANDARD_ECUS, type EcuDefinition } from './ecu-model.js';
import { corruptLine, garbageBurst } from './line-noise.js';
import { PacedOutput } from './output-pacer.js';
import { scenarioByName, type Scenario } from './scenarios.js';
import { systemClock, type CancelTimer, type SimClock } from './sim-clock.js';
import { SimulatorError } from './sim-errors.js';
import { randomBetween, seededRandom, type RandomSource } from './seeded-random.js';
import { VehicleState } from './vehicle-state.js';

export interface Elm327SimulatorOptions {
  link: ByteLink;
  /** A scenario or its name (default `driving`). */
  scenario?: Scenario | string;
  /** Serial speed for output pacing, 10 bits per byte (default 38400; 0 = as fast as possible). */
  baudRate?: number;
  /** ECU answer delay per request: fixed, or uniformly random in a range (default 30–50 ms). */
  ecuLatencyMs?: number | { min: number; max: number };
  /** Duration of the protocol search on the first request after ATZ / ATSP0 (default 1500 ms). */
  searchDelayMs?: number;
  /** Time from ATZ to the banner (default 500 ms; ATWS takes a fifth of it). */
  resetDelayMs?: number;
  /** Wait before NO DATA; default follows ATST (0x32 × 4.096 ms ≈ 205 ms). */
  noResponseTimeoutMs?: number;
  clock?: SimClock;
  /** Seed for latency jitter and line noise (default 1). */
  seed?: number;
  random?: RandomSource;
  /** The car's CAN flavour found by the automatic search (default 11 → protocol 6; 29 → protocol 7). */
  canIdBits?: 11 | 29;
  /** Share a vehicle with an NMEA player; default: a new one for the scenario, starting now. */
  state?: VehicleState;
  ecus?: readonly EcuDefinition[];
  /** How to pull the adapter in the unplugged scenario (default: `link.close(error)`). */
  unplug?: (error: LinkError) => Promise<void> | void;
  /** Send the power-on banner as soon as the simulator starts (default false). */
  bannerOnStart?: boolean;
  identity?: string;
}

export interface Elm327SimulatorStats {
  bytesIn: number;
  bytesOut: number;
  commands: number;
  atCommands: number;
  obdRequests: number;
  unknownCommands: number;
  noData: number;
  searches: number;
  interrupted: number;
  droppedDuringReset: number;
  garbageBytes: number;
  corruptedLines: number;
  unplugged: boolean;
}

type Phase = 'idle' | 'busy' | 'resetting' | 'stopped';

const DEFAULT_IDENTITY = 'ELM327 v1.5';
const MAX_LINE = 128;
const CAN_500 = new Set(['6', '7']);
const KWP_AND_ISO = new Set(['3', '4', '5']);
const J1850 = new Set(['1', '2']);

export class Elm327Simulator {
  readonly state: VehicleState;
  readonly scenario: Scenario;
  private readonly link: ByteLink;
  private readonly clock: SimClock;
  private readonly random: RandomSource;
  private readonly out: PacedOutput;
  private readonly ecus: EcuModel[];
  private readonly options: Elm327SimulatorOptions;
  private settings: ElmSettings = defaultSettings();
  private readonly protocol: ProtocolState = { selected: { number: '0', auto: true }, saved: { number: '0', auto: true }, active: null };
  private phase: Phase = 'idle';
  private input = '';
  private overflow = false;
  private lastCommand = '';
  private pending: CancelTimer | undefined;
  private readonly timers = new Set<CancelTimer>();
  private readonly detach: (() => void)[] = [];
  private readonly counters: Elm327SimulatorStats = {
    bytesIn: 0, bytesOut: 0, commands: 0, atCommands: 0, obdRequests: 0, unknownCommands: 0, noData: 0,
    searches: 0, interrupted: 0, droppedDuringReset: 0, garbageBytes: 0, corruptedLines: 0, unplugged: false,
  };

  constructor(options: Elm327SimulatorOptions) {
    this.options = options;
    this.link = options.link;
    this.clock = options.clock ?? systemClock;
    this.random = options.random ?? seededRandom(options.seed ?? 1);
    this.scenario = typeof options.scenario === 'object' ? options.scenario : scenarioByName(options.scenario ?? 'driving');
    const baudRate = options.baudRate ?? 38400;
    if (!(baudRate >= 0)) throw new SimulatorError('SIM_INVALID_OPTION', `baud rate must be ≥ 0, got ${baudRate}`);
    this.state = options.state ?? new VehicleState({ ...this.scenario.vehicle, profile: this.scenario.profile, startMs: this.clock.now() });
    this.ecus = (options.ecus ?? STANDARD_ECUS).map((definition) => new EcuModel(definition));
    this.out = new PacedOutput(this.link, this.clock, baudRate, () => this.halt());
    this.detach.push(this.link.onData((chunk) => this.onBytes(chunk)));
    this.detach.push(this.link.onClose(() => this.halt()));
    if (this.scenario.unplugAfterMs !== undefined) this.schedule(this.scenario.unplugAfterMs, () => this.pullAdapter());
    if (options.bannerOnStart) this.out.send(`${this.identity}${this.eol}${this.eol}>`);
  }

  /** Counters since start (a copy). */
  stats(): Elm327SimulatorStats {
    return { ...this.counters, bytesOut: this.out.bytesSent };
  }

  /** Stops answering and detaches from the link (which stays open). */
  async stop(): Promise<void> {
    this.halt();
    await this.out.drained();
  }

  private get identity(): string {
    return this.options.identity ?? DEFAULT_IDENTITY;
  }

  private get eol(): string {
    return this.settings.linefeeds ? '\r\n' : '\r';
  }

  private halt(): void {
    if (this.phase === 'stopped') return;
    this.phase = 'stopped';
    for (const cancel of this.timers) cancel();
    this.timers.clear();
    this.pending = undefined;
    for (const off of this.detach.splice(0)) off();
    this.out.stop();
  }

  private schedule(ms: number, action: () => void): CancelTimer {
    const cancel = this.clock.setTimer(ms, () => {
      this.timers.delete(cancel);
      if (this.phase !== 'stopped') action();
    });
    this.timers.add(cancel);
    return cancel;
  }

  private pullAdapter(): void {
    this.counters.unplugged = true;
    this.halt();
    const error = new LinkError('LINK_CLOSED', 'adapter unplugged (simulated)', { temporary: true });
    const unplug = this.options.unplug ?? ((err: LinkError) => (this.link as ByteLink & { close(error?: Error): Promise<void> }).close(err));
    void Promise.resolve()
      .then(() => unplug(error))
      .catch(() => undefined);
  }

  // ---- input ----

  private onBytes(chunk: Uint8Array): void {
    this.counters.bytesIn += chunk.length;
    let echo: number[] = [];
    const flushEcho = (): void => {
      if (echo.length > 0) this.out.send(Uint8Array.from(echo));
      echo = [];
    };
    for (const b of chunk) {
      if (this.phase === 'stopped') return;
      if (this.phase === 'resetting') {
        this.counters.droppedDuringReset++;
        continue;
      }
      if (b === 0x0a || b === 0x00) continue;
      if (this.phase === 'busy') {
        flushEcho();
        this.interrupt();
        continue; // the interrupting character is consumed, as on the real chip
      }
      if (this.settings.echo) echo.push(...(b === 0x0d && this.settings.linefeeds ? [0x0d, 0x0a] : [b]));
      if (b === 0x0d) {
        flushEcho();
        const line = this.input;
        const overflow = this.overflow;
        this.input = '';
        this.overflow = false;
        this.execute(line, overflow);
      } else if (this.input.length < MAX_LINE) {
        this.input += String.fromCharCode(b);
      } else {
        this.overflow = true;
      }
    }
    flushEcho();
  }

  private execute(line: string, overflow: boolean): void {
    // The chip ignores spaces and control characters inside a command.
    let command = [...line].filter((c) => c > ' ').join('').toUpperCase();
    if (overflow) return this.huh();
    if (command === '') {
      if (this.lastCommand === '') return this.reply([]);
      command = this.lastCommand;
    }
    this.lastCommand = command;
    this.counters.commands++;
    if (command.startsWith('AT')) return this.runAt(command.slice(2));
    if (/^[0-9A-F]+$/.test(command)) return this.runObd(command);
    this.huh();
  }

  /** The chip's answer to anything it cannot parse. */
  private huh(): void {
    this.counters.unknownCommands++;
    this.reply(['?']);
  }

  private interrupt(): void {
    this.pending?.();
    this.pending = undefined;
    this.counters.interrupted++;
    this.phase = 'idle';
    this.reply(['STOPPED']);
  }

  // ---- output ----

  /** Lines, then an empty line and the prompt. */
  private reply(lines: readonly string[]): void {
    const noise = this.scenario.lineNoise;
    if (noise && this.random() < noise.garbageProbability) this.sendGarbage();
    this.out.send(lines.map((line) => line + this.eol).join('') + this.eol + '>');
    if (noise && this.random() < noise.idleGarbageProbability) this.schedule(5 + 40 * this.random(), () => this.sendGarbage());
  }

  private sendGarbage(): void {
    const bytes = garbageBurst(this.random);
    this.counters.garbageBytes += bytes.length;
    this.out.send(bytes);
  }

  // ---- AT commands ----

  private runAt(body: string): void {
    this.counters.atCommands++;
    const context: AtContext = {
      settings: this.settings,
      protocol: this.protocol,
      identity: this.identity,
      batteryVoltage: () => this.state.advanceTo(this.clock.now()).batteryVoltage,
      restoreDefaults: () => this.restoreDefaults(),
    };
    const outcome = runAtCommand(body, context);
    if (outcome.kind === 'reply') {
      if (outcome.lines[0] === '?') return this.huh();
      this.reply(outcome.lines);
      return;
    }
    this.restoreDefaults();
    this.lastCommand = '';
    this.phase = 'resetting';
    const delay = (this.options.resetDelayMs ?? 500) / (outcome.warm ? 5 : 1);
    this.schedule(delay, () => {
      this.phase = 'idle';
      this.reply(['', this.identity]);
    });
  }

  private restoreDefaults(): void {
    this.settings = defaultSettings();
    this.protocol.selected = this.protocol.saved;
    this.protocol.active = this.protocol.saved.auto ? null : this.protocol.saved.number;
  }

  // ---- OBD requests ----

  private runObd(hex: string): void {
    this.counters.obdRequests++;
    let expected: number | undefined;
    if (hex.length % 2 === 1) {
      // An odd trailing digit is the "number of responses to wait for" hint (e.g. 010C1).
      expected = parseInt(hex.slice(-1), 16);
      hex = hex.slice(0, -1);
      if (expected === 0 || hex.length === 0) return this.huh();
    }
    const request = Uint8Array.from(Buffer.from(hex, 'hex'));
    if (request.length > 7) return this.huh(); // does not fit one CAN single frame
    this.phase = 'busy';
    if (this.protocol.active === null) {
      this.counters.searches++;
      this.out.send(`SEARCHING...${this.eol}`);
      this.wait(this.options.searchDelayMs ?? 1500, () => {
        const found = this.state.advanceTo(this.clock.now()).ignitionOn ? this.carProtocol : null;
        if (!found) return this.finish(['UNABLE TO CONNECT']);
        this.protocol.active = found;
        this.exchange(request, expected, found);
      });
      return;
    }
    this.exchange(request, expected, this.protocol.active);
  }

  private get carProtocol(): string {
    return this.options.canIdBits === 29 ? '7' : '6';
  }

  private get noResponseTimeoutMs(): number {
    return this.options.noResponseTimeoutMs ?? this.settings.timeoutUnits * 4.096;
  }

  private exchange(request: Uint8Array, expected: number | undefined, protocol: string): void {
    if (J1850.has(protocol)) return this.wait(this.noResponseTimeoutMs, () => this.finishNoData());
    if (KWP_AND_ISO.has(protocol)) return this.wait(this.options.searchDelayMs ?? 1500, () => this.finish(['BUS INIT: ...ERROR']));
    if (!CAN_500.has(protocol)) return this.wait(this.noResponseTimeoutMs, () => this.finish(['CAN ERROR']));
    const bits = protocol === '7' ? 29 : 11;
    // ECUs sample when the request reaches them; a mode 04 takes effect even if the reply is STOPPED.
    const snapshot = this.state.advanceTo(this.clock.now());
    const answers: { from: CanId; payload: Uint8Array }[] = [];
    if (snapshot.ignitionOn) {
      for (const ecu of this.targets(bits)) {
        const payload = ecu.respond(request, this.state, snapshot);
        if (payload) answers.push({ from: this.responseId(ecu.definition, bits), payload });
        if (expected !== undefined && answers.length >= expected) break;
      }
    }
    if (answers.length === 0) return this.wait(this.noResponseTimeoutMs, () => this.finishNoData());
    const lines = answers.flatMap((answer) => formatResponse(answer.payload, answer.from, this.settings));
    this.wait(this.ecuLatency(), () => this.finish(this.maybeCorrupt(lines)));
  }

  private targets(bits: 11 | 29): EcuModel[] {
    const header = this.settings.header;
    if (header === null) return this.ecus;
    if (bits === 11) {
      const id = header & 0x7ff;
      return id === 0x7df ? this.ecus : this.ecus.filter((ecu) => ecu.definition.requestId11 === id);
    }
    const low = header & 0xffffff;
    if (low === 0xdb33f1) return this.ecus;
    if ((low & 0xff00ff) !== 0xda00f1) return [];
    return this.ecus.filter((ecu) => ecu.definition.address29 === ((low >> 8) & 0xff));
  }

  private responseId(ecu: EcuDefinition, bits: 11 | 29): CanId {
    return bits === 11 ? { bits, id: ecu.requestId11 + 8 } : { bits, id: (0x18daf100 | ecu.address29) >>> 0 };
  }

  private ecuLatency(): number {
    const latency = this.options.ecuLatencyMs ?? { min: 30, max: 50 };
    return typeof latency === 'number' ? latency : randomBetween(this.random, latency.min, latency.max);
  }

  private maybeCorrupt(lines: string[]): string[] {
    const noise = this.scenario.lineNoise;
    if (!noise || lines.length === 0 || !(this.random() < noise.corruptLineProbability)) return lines;
    const index = Math.floor(this.random() * lines.length);
    this.counters.corruptedLines++;
    return lines.map((line, i) => (i === index ? corruptLine(line, this.random) : line));
  }

  private wait(ms: number, then: () => void): void {
    this.pending = this.schedule(ms, () => {
      this.pending = undefined;
      if (this.phase === 'busy') then();
    });
  }

  private finishNoData(): void {
    this.counters.noData++;
    this.finish(['NO DATA']);
  }

  private finish(lines: string[]): void {
    this.phase = 'idle';
    this.reply(lines);
  }
}

/** Starts a simulator on `options.link`; see Elm327SimulatorOptions for the knobs. */
export function startElm327Simulator(options: Elm327SimulatorOptions): Elm327Simulator {
  return new Elm327Simulator(options);
}
