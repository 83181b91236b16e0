// The ELM327's AT command set as the simulator implements it: settings, protocol selection, replies.
//
// Commands arrive upper-cased with spaces removed and without the leading "AT". Resets (ATZ, ATWS)
// only return an outcome here; the simulator owns their delay. Commands we accept but whose effect
// does not matter to a simulated car (ATM0, ATCFC1, ATAL, …) answer OK like the real chip.

export interface ElmSettings {
  echo: boolean;
  linefeeds: boolean;
  spaces: boolean;
  headers: boolean;
  caf: boolean;
  adaptiveTiming: 0 | 1 | 2;
  /** ATST value: response timeout in units of 4.096 ms (default 0x32 ≈ 205 ms). */
  timeoutUnits: number;
  /** ATSH header (11- or 29-bit), or null for the default functional header. */
  header: number | null;
}

export interface ProtocolSelection {
  /** '0'..'9', 'A'..'C'; with auto, '0' means "no preference". */
  readonly number: string;
  readonly auto: boolean;
}

export interface ProtocolState {
  /** What ATSP/ATTP selected. */
  selected: ProtocolSelection;
  /** What ATSP stored in EEPROM: survives ATZ (ATTP does not store). */
  saved: ProtocolSelection;
  /** The protocol in use (found by a search, or set explicitly); null until a search succeeds. */
  active: string | null;
}

export interface AtContext {
  readonly settings: ElmSettings;
  readonly protocol: ProtocolState;
  readonly identity: string;
  /** Voltage at the OBD port pin 16. */
  batteryVoltage(): number;
  /** Restores defaults (ATD). */
  restoreDefaults(): void;
}

export type AtOutcome = { readonly kind: 'reply'; readonly lines: readonly string[] } | { readonly kind: 'reset'; readonly warm: boolean };

export const PROTOCOL_NAMES: Readonly<Record<string, string>> = {
  '1': 'SAE J1850 PWM',
  '2': 'SAE J1850 VPW',
  '3': 'ISO 9141-2',
  '4': 'ISO 14230-4 (KWP 5BAUD)',
  '5': 'ISO 14230-4 (KWP FAST)',
  '6': 'ISO 15765-4 (CAN 11/500)',
  '7': 'ISO 15765-4 (CAN 29/500)',
  '8': 'ISO 15765-4 (CAN 11/250)',
  '9': 'ISO 15765-4 (CAN 29/250)',
  A: 'SAE J1939 (CAN 29/250)',
  B: 'USER1 (CAN 11/125)',
  C: 'USER2 (CAN 11/50)',
};

export function defaultSettings(): ElmSettings {
  return { echo: true, linefeeds: false, spaces: true, headers: false, caf: true, adaptiveTiming: 1, timeoutUnits: 0x32, header: null };
}

const OK = { kind: 'reply', lines: ['OK'] } as const;
const HUH = { kind: 'reply', lines: ['?'] } as const;
const reply = (...lines: string[]): AtOutcome => ({ kind: 'reply', lines });

/** Accepted, answered OK, no effect on the simulation. */
const HARMLESS = /^(M[01]|V[01]|CFC[01]|R[01]|KW[01]?|CSM[01]|JE|JS|AL|NL|BI|FE|LP|CRA[0-9A-FX]*|CF[0-9A-F]{3,8}|CM[0-9A-F]{3,8}|FCSH[0-9A-F]{3,8}|FCSD[0-9A-F]{2,10}|FCSM[0-2]|SW[0-9A-F]{2}|IB(10|48|96)|CP[0-9A-F]{2}|D[01])$/;

function parseProtocol(arg: string): ProtocolSelection | null {
  if (/^[0-9A-C]$/.test(arg)) return { number: arg, auto: arg === '0' };
  if (/^A[1-9A-C]$/.test(arg)) return { number: arg[1]!, auto: true };
  return null;
}

export function describeProtocol(protocol: ProtocolState): string {
  const { selected, active } = protocol;
  if (!selected.auto) return PROTOCOL_NAMES[selected.number] ?? '?';
  return active ? `AUTO, ${PROTOCOL_NAMES[active]}` : 'AUTO';
}

export function protocolNumber(protocol: ProtocolState): string {
  const { selected, active } = protocol;
  return selected.auto ? `A${active ?? selected.number}` : selected.number;
}

/** Runs one AT command (`body` without the "AT"). */
export function runAtCommand(body: string, ctx: AtContext): AtOutcome {
  const { settings, protocol } = ctx;
  const flag = (prefix: string): boolean | null => {
    if (body === `${prefix}0`) return false;
    if (body === `${prefix}1`) return true;
    return null;
  };
  switch (body) {
    case 'Z':
      return { kind: 'reset', warm: false };
    case 'WS':
      return { kind: 'reset', warm: true };
    case 'D':
      ctx.restoreDefaults();
      return OK;
    case 'I':
      return reply(ctx.identity);
    case '@1':
      return reply('OBDII to RS232 Interpreter');
    case 'RV':
      return reply(`${ctx.batteryVoltage().toFixed(1)}V`);
    case 'DP':
      return reply(describeProtocol(protocol));
    case 'DPN':
      return reply(protocolNumber(protocol));
    case 'PC':
      if (protocol.selected.auto) protocol.active = null;
      return OK;
  }
  for (const [prefix, key] of [['E', 'echo'], ['L', 'linefeeds'], ['S', 'spaces'], ['H', 'headers'], ['CAF', 'caf']] as const) {
    const value = flag(prefix);
    if (value !== null) {
      settings[key] = value;
      return OK;
    }
  }
  let match = /^AT([0-2])$/.exec(body);
  if (match) {
    settings.adaptiveTiming = Number(match[1]) as 0 | 1 | 2;
    return OK;
  }
  match = /^ST([0-9A-F]{2})$/.exec(body);
  if (match) {
    const units = parseInt(match[1]!, 16);
    settings.timeoutUnits = units === 0 ? 0x32 : units;
    return OK;
  }
  match = /^(SP|TP)(.+)$/.exec(body);
  if (match) {
    const selection = parseProtocol(match[2]!);
    if (!selection) return HUH;
    protocol.selected = selection;
    if (match[1] === 'SP') protocol.saved = selection;
    protocol.active = selection.auto ? null : selection.number;
    return OK;
  }
  match = /^SH([0-9A-F]{3}|[0-9A-F]{6}|[0-9A-F]{8})$/.exec(body);
  if (match) {
    settings.header = parseInt(match[1]!, 16);
    return OK;
  }
  if (HARMLESS.test(body)) return OK;
  return HUH;
}
