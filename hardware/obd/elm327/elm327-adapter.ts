// ObdAdapter over one ELM327 ByteLink: init, ignition-off as a state, multi-PID reads on CAN, raw J1979 payloads.
//
// Decisions (see docs/elm327-driver.md):
// - Answers are returned raw (service byte onward plus the decoder's input as `data`); decoding is the J1979
//   module's job (`decodePid(r.pid, r.data)`), so this class stays a transport. Only VIN and calibration ids
//   come back as text.
// - `UNABLE TO CONNECT` (or NO DATA / a bus error) on the first `0100` puts the adapter in `ignition-off`;
//   connect() still resolves. Every later OBD call first searches again (one `0100`): on success the state
//   goes back to `ready`, otherwise the call rejects with a temporary ELM_UNABLE_TO_CONNECT.
// - On CAN, readPids asks for up to 6 PIDs per request. When the ECU answers a multi-PID request with
//   NO DATA, a negative response or something unsplittable, the PIDs are asked one by one; if that works,
//   multi-PID requests are switched off for the rest of this link. PIDs missing from a good multi-PID
//   answer are asked alone once per call (poll only supported PIDs to keep that cost away). A request whose
//   answer is unreadable (noise: ELM_GARBLED, ELM_DATA_ERROR, …) loses only its PIDs; the call rejects only
//   when nothing at all could be read.
// - `LV RESET` (the adapter rebooted and lost its settings) makes the next call run the init sequence again.
//
// Cancellation rules: as ObdAdapter. Calls before connect() run connect() first. When the link ends by
// itself the state becomes `disconnected` and every call rejects with a temporary ELM_DISCONNECTED (this
// class never reopens: ReconnectingElm327Adapter does). After close(): ELM_CLOSED.
import type { ByteLink } from '../../serial/byte-link.js';
import { decodeCalibrationIds, decodeVin } from '../j1979/mode09.js';
import type {
  AdapterInfo,
  AdapterState,
  DtcKind,
  ObdAdapter,
  RawDtcResponse,
  RawFreezeFrameResponse,
  RawPidResponse,
} from '../obd-adapter.js';
import { Elm327Error, isElm327Error } from './elm327-errors.js';
import { readVoltage, runInitSequence, searchProtocol, type SearchOutcome } from './elm327-init.js';
import { Elm327Link, type Elm327LinkOptions, type SendOptions } from './elm327-link.js';
import { isCanProtocol, isValidProtocolSetting, protocolName } from './elm327-protocols.js';
import type { ElmResponse } from './elm327-response-parser.js';
import { frameFormatForProtocol, reassembleDetailed, type FrameFormat } from './iso-tp.js';
import {
  MAX_FREEZE_FRAME_ITEMS_PER_REQUEST,
  MAX_PIDS_PER_REQUEST,
  mode01Request,
  mode02Request,
  planRequests,
  splitPayload,
} from './multi-pid.js';

export interface Elm327AdapterOptions extends Elm327LinkOptions {
  /** `ATSP` argument: `0` (automatic search, the default), `1`…`C`, or `A6`-style. */
  protocol?: string;
  /** Tries per init step (default 3). */
  initAttempts?: number;
  /** ATZ timeout (default 10 s). */
  resetTimeoutMs?: number;
  /** Quiet time after the ATZ prompt (default 200 ms). */
  resetSettleMs?: number;
  /** Multi-PID requests on CAN (default true). */
  multiPid?: boolean;
  /** At most this many PIDs per mode-01 request (default and maximum 6). */
  maxPidsPerRequest?: number;
}

const DTC_COMMANDS: Record<DtcKind, { command: string; service: number }> = {
  stored: { command: '03', service: 0x43 },
  pending: { command: '07', service: 0x47 },
  permanent: { command: '0A', service: 0x4a },
};

/** Answer damage on one request: skipped by multi-PID reads as long as something else was read. */
const DAMAGE_CODES: ReadonlySet<string> = new Set(['ELM_GARBLED', 'ELM_DATA_ERROR', 'ELM_BUFFER_FULL', 'ELM_STOPPED']);

const BITMAP_PIDS = new Set([0x00, 0x20, 0x40, 0x60, 0x80, 0xa0, 0xc0, 0xe0]);

interface Item {
  pid: number;
  frame?: number;
  ecu: string;
  payload: Uint8Array;
  data: Uint8Array;
}

export class Elm327Adapter implements ObdAdapter {
  private readonly link: Elm327Link;
  private readonly options: Required<Pick<Elm327AdapterOptions, 'protocol' | 'initAttempts' | 'resetTimeoutMs' | 'resetSettleMs' | 'multiPid' | 'maxPidsPerRequest'>>;
  private readonly listeners = new Set<(state: AdapterState) => void>();
  /** `disconnected` until connect() runs: not usable yet. */
  private currentState: AdapterState = 'disconnected';
  private currentInfo: AdapterInfo | null = null;
  private headers = true;
  private format: FrameFormat = 'auto';
  private multiPidState: 'untried' | 'works' | 'broken' = 'untried';
  private needsInit = false;
  private connecting: Promise<AdapterInfo> | null = null;
  private searching: Promise<void> | null = null;
  private closedByUser = false;

  constructor(byteLink: ByteLink, options: Elm327AdapterOptions = {}) {
    const protocol = options.protocol ?? '0';
    if (!isValidProtocolSetting(protocol)) throw new Elm327Error('ELM_INVALID_ARGUMENT', `not an ELM327 protocol: ${protocol}`);
    this.options = {
      protocol,
      initAttempts: options.initAttempts ?? 3,
      resetTimeoutMs: options.resetTimeoutMs ?? 10_000,
      resetSettleMs: options.resetSettleMs ?? 200,
      multiPid: options.multiPid ?? true,
      maxPidsPerRequest: Math.min(MAX_PIDS_PER_REQUEST, Math.max(1, options.maxPidsPerRequest ?? MAX_PIDS_PER_REQUEST)),
    };
    this.link = new Elm327Link(byteLink, options);
    this.link.onEnd(() => this.setState(this.closedByUser ? 'closed' : 'disconnected'));
  }

  get state(): AdapterState {
    return this.currentState;
  }

  /** The info of the last successful init (updated when the ignition comes back), or null. */
  get info(): AdapterInfo | null {
    return this.currentInfo;
  }

  /** Timeouts in a row on the link: a hung adapter (the reconnecting wrapper reopens after a few). */
  get consecutiveTimeouts(): number {
    return this.link.consecutiveTimeouts;
  }

  onStateChange(listener: (state: AdapterState) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  connect(): Promise<AdapterInfo> {
    if (this.connecting !== null) return this.connecting;
    const attempt = this.runConnect();
    this.connecting = attempt;
    const clear = (): void => {
      if (this.connecting === attempt) this.connecting = null;
    };
    attempt.then(clear, clear);
    return attempt;
  }

  async supportedPids(): Promise<number[]> {
    await this.ready();
    const supported = new Set<number>();
    for (let base = 0x00; base <= 0xe0; base += 0x20) {
      const items = await this.readItems(0x01, [base]);
      for (const item of items) for (const pid of pidsFromBitmap(base, item.data)) supported.add(pid);
      if (!supported.has(base + 0x20)) break;
    }
    return [...supported].filter((pid) => !BITMAP_PIDS.has(pid)).sort((a, b) => a - b);
  }

  async readPids(pids: readonly number[]): Promise<RawPidResponse[]> {
    checkBytes('PID', pids);
    await this.ready();
    const items = await this.readItems(0x01, pids);
    return items.map(({ pid, ecu, payload, data }) => ({ pid, ecu, payload, data }));
  }

  async readFreezeFrame(pids: readonly number[], frame: number): Promise<RawFreezeFrameResponse[]> {
    checkBytes('PID', pids);
    checkBytes('frame', [frame]);
    await this.ready();
    const items = await this.readItems(0x02, pids, frame);
    return items.map(({ pid, ecu, payload, data }) => ({ pid, frame, ecu, payload, data }));
  }

  async readDtcs(kind: DtcKind): Promise<RawDtcResponse[]> {
    const entry = (DTC_COMMANDS as Partial<Record<string, { command: string; service: number }>>)[kind];
    if (entry === undefined) throw new Elm327Error('ELM_INVALID_ARGUMENT', `not a DTC kind: ${String(kind)}`);
    const { command, service } = entry;
    await this.ready();
    const byEcu = await this.obdRequest(command);
    const can = this.currentInfo?.can ?? false;
    const out: RawDtcResponse[] = [];
    for (const [ecu, payload] of byEcu ?? []) {
      if (payload[0] === service) out.push({ ecu, payload, data: payload.subarray(1), can });
    }
    return out;
  }

  async readVin(): Promise<string | null> {
    await this.ready();
    const vins = decodePerEcu(await this.obdRequest('0902'), 0x49, (body) => [decodeVin(body)]);
    return vins[0] ?? null;
  }

  async readCalibrationIds(): Promise<string[]> {
    await this.ready();
    return decodePerEcu(await this.obdRequest('0904'), 0x49, decodeCalibrationIds).filter((id) => id !== '');
  }

  async batteryVoltage(): Promise<number | null> {
    await this.initialized();
    const volts = await readVoltage(this.link, 1);
    if (this.currentInfo !== null) this.currentInfo = { ...this.currentInfo, voltage: volts };
    return volts;
  }

  /** Sends one raw command through the queue (diagnostics, tools); errors as Elm327Link.send. */
  async command(text: string, options: SendOptions = {}): Promise<ElmResponse> {
    await this.initialized();
    return this.link.send(text, options);
  }

  async close(): Promise<void> {
    this.closedByUser = true;
    this.setState('closed');
    await this.link.close();
  }

  private setState(state: AdapterState): void {
    if (this.currentState === state || this.currentState === 'closed') return;
    this.currentState = state;
    for (const listener of [...this.listeners]) listener(state);
  }

  private async runConnect(): Promise<AdapterInfo> {
    this.assertOpen();
    this.setState('connecting');
    const outcome = await runInitSequence(this.link, {
      protocol: this.options.protocol,
      attempts: this.options.initAttempts,
      resetTimeoutMs: this.options.resetTimeoutMs,
      resetSettleMs: this.options.resetSettleMs,
    });
    this.headers = outcome.headers;
    this.needsInit = false;
    this.multiPidState = 'untried';
    this.currentInfo = { adapter: outcome.banner, protocol: 'unknown', protocolNumber: '0', voltage: outcome.voltage, can: false };
    this.applySearch(outcome);
    return this.currentInfo;
  }

  private applySearch(outcome: SearchOutcome): void {
    if (outcome.ignitionOff) {
      this.setState('ignition-off');
      return;
    }
    const number = outcome.protocolNumber;
    this.format = frameFormatForProtocol(number);
    this.currentInfo = {
      adapter: this.currentInfo?.adapter ?? 'unknown',
      voltage: this.currentInfo?.voltage ?? null,
      protocol: protocolName(number),
      protocolNumber: number,
      // An unknown protocol number with headers on: CAN if the 0100 answer looks like CAN frames.
      can: number === '0' ? this.looksLikeCan(outcome.firstAnswer) : isCanProtocol(number),
    };
    this.setState('ready');
  }

  private looksLikeCan(answer: ElmResponse | null): boolean {
    const line = answer?.lines[0]?.replace(/\s+/g, '') ?? '';
    return this.headers && (line.length % 2 === 1 || line.startsWith('18DA'));
  }

  private assertOpen(): void {
    if (this.closedByUser) throw new Elm327Error('ELM_CLOSED', 'the adapter was closed');
    if (!this.link.isOpen) throw new Elm327Error('ELM_DISCONNECTED', 'the adapter is disconnected', { temporary: true });
  }

  /** The link is open and the init sequence has run (running it if needed). */
  private async initialized(): Promise<void> {
    this.assertOpen();
    if (this.connecting !== null) await this.connecting;
    else if (this.currentInfo === null || this.needsInit) await this.connect();
  }

  /** As initialized(), and an ECU talks (searching again when the ignition was off). */
  private async ready(): Promise<void> {
    await this.initialized();
    if (this.currentState !== 'ignition-off') return;
    if (this.searching === null) {
      const search = (async () => {
        this.link.expectProtocolSearch();
        this.applySearch(await searchProtocol(this.link, 1));
      })();
      this.searching = search;
      const clear = (): void => {
        if (this.searching === search) this.searching = null;
      };
      search.then(clear, clear);
    }
    await this.searching;
    if (this.currentState === 'ignition-off') {
      throw new Elm327Error('ELM_UNABLE_TO_CONNECT', 'ignition off: no ECU answers', { temporary: true });
    }
  }

  /** One OBD request → payload per ECU; null when no ECU answered (NO DATA). */
  private async obdRequest(command: string): Promise<Map<string, Uint8Array> | null> {
    return (await this.obdRequestDetailed(command))?.byEcu ?? null;
  }

  /** As obdRequest, and whether part of the answer was damaged (unreadable lines, broken frames). */
  private async obdRequestDetailed(command: string): Promise<{ byEcu: Map<string, Uint8Array>; damaged: boolean } | null> {
    let response: ElmResponse;
    try {
      response = await this.link.send(command);
    } catch (error) {
      if (isElm327Error(error, 'ELM_NO_DATA')) return null;
      if (isElm327Error(error, 'ELM_UNABLE_TO_CONNECT')) this.setState('ignition-off');
      if (isElm327Error(error, 'ELM_ADAPTER_RESET')) this.needsInit = true;
      throw error;
    }
    const { byEcu, problems } = reassembleDetailed(response.lines, { headers: this.headers, format: this.format });
    const damaged = problems.length > 0 || response.unreadable.length > 0 || response.errors.some((e) => e.kind === 'DATA_ERROR' || e.kind === 'RX_ERROR');
    return { byEcu, damaged };
  }

  /** Mode 01 / 02 items for `pids`, grouped on CAN, falling back to one PID per request. */
  private async readItems(mode: 0x01 | 0x02, pids: readonly number[], frame = 0): Promise<Item[]> {
    const multi = this.options.multiPid && (this.currentInfo?.can ?? false) && this.multiPidState !== 'broken';
    const max = mode === 0x01 ? this.options.maxPidsPerRequest : Math.min(this.options.maxPidsPerRequest, MAX_FREEZE_FRAME_ITEMS_PER_REQUEST);
    const groups = multi ? planRequests(pids, max) : [...new Set(pids)].map((pid) => [pid]);
    const out: Item[] = [];
    const damage: Elm327Error[] = [];
    // A request whose answer was unreadable (line noise) costs its PIDs, not the whole call.
    const request = async (group: readonly number[]): Promise<{ items: Item[]; damaged: boolean }> => {
      try {
        return await this.requestItems(mode, group, frame);
      } catch (error) {
        if (!isElm327Error(error) || !DAMAGE_CODES.has(error.code)) throw error;
        damage.push(error);
        return { items: [], damaged: true };
      }
    };
    for (const group of groups) {
      let { items, damaged } = await request(group);
      // Noise hit a multi-PID answer: one more try costs one request, the singles below cost one per PID.
      if (items.length === 0 && damaged && group.length > 1) ({ items, damaged } = await request(group));
      if (group.length === 1) {
        out.push(...items);
        continue;
      }
      if (items.length === 0) {
        // NO DATA, a negative response or an unsplittable answer to a multi-PID request: one by one. When
        // singles work where a clean multi-PID answer did not, this ECU does not do multi-PID: stop asking.
        // A damaged answer (line noise) says nothing about the ECU, so it does not count.
        const singles: Item[] = [];
        for (const pid of group) singles.push(...(await request([pid])).items);
        if (singles.length > 0 && !damaged) this.multiPidState = 'broken';
        out.push(...singles);
        continue;
      }
      this.multiPidState = 'works';
      out.push(...items);
      const answered = new Set(items.map((item) => item.pid));
      for (const pid of group) if (!answered.has(pid)) out.push(...(await request([pid])).items);
    }
    if (out.length === 0 && damage[0] !== undefined) throw damage[0];
    return out;
  }

  private async requestItems(mode: 0x01 | 0x02, group: readonly number[], frame: number): Promise<{ items: Item[]; damaged: boolean }> {
    const command = mode === 0x01 ? mode01Request(group) : mode02Request(group.map((pid) => ({ pid, frame })));
    const answer = await this.obdRequestDetailed(command);
    const items: Item[] = [];
    for (const [ecu, payload] of answer?.byEcu ?? []) {
      const split = splitPayload(payload, { service: 0x40 + mode, requested: group });
      for (const item of split.items) {
        if (mode === 0x02 && item.frame !== frame) continue;
        items.push({ ...item, ecu });
      }
    }
    return { items, damaged: answer?.damaged ?? false };
  }
}

/**
 * Runs a J1979 decoder over each ECU's payload (after the service byte). An ECU whose answer does not
 * decode is skipped when another ECU's does; when none decodes, the first decoder error is thrown (a typed
 * ObdDecodeError: the bytes are wrong, not the link).
 */
function decodePerEcu<T>(byEcu: Map<string, Uint8Array> | null, service: number, decode: (body: Uint8Array) => T[]): T[] {
  const out: T[] = [];
  let firstError: Error | null = null;
  let decoded = false;
  for (const payload of byEcu?.values() ?? []) {
    if (payload[0] !== service) continue;
    try {
      out.push(...decode(payload.subarray(1)));
      decoded = true;
    } catch (error) {
      firstError ??= error as Error;
    }
  }
  if (!decoded && firstError !== null) throw firstError;
  return out;
}

function checkBytes(what: string, values: readonly number[]): void {
  for (const value of values) {
    if (!Number.isInteger(value) || value < 0 || value > 0xff) throw new Elm327Error('ELM_INVALID_ARGUMENT', `${what} ${value} is not a byte`);
  }
}

/** A 4-byte supported-PID bitmap at `base`: bit 7 of the first byte is PID base+1. */
function pidsFromBitmap(base: number, bitmap: Uint8Array): number[] {
  const pids: number[] = [];
  if (bitmap.length !== 4) return pids;
  for (let i = 0; i < 32; i++) if ((bitmap[i >> 3]! >> (7 - (i & 7))) & 1) pids.push(base + i + 1);
  return pids;
}
