// The ELM327 protocol numbers (`ATSP n`, `ATDPN`), their names, and which of them are CAN.

export const ELM327_PROTOCOLS: Readonly<Record<string, string>> = {
  '0': 'AUTO',
  '1': 'SAE J1850 PWM (41.6 kbaud)',
  '2': 'SAE J1850 VPW (10.4 kbaud)',
  '3': 'ISO 9141-2 (5 baud init)',
  '4': 'ISO 14230-4 KWP (5 baud init)',
  '5': 'ISO 14230-4 KWP (fast init)',
  '6': 'ISO 15765-4 CAN (11 bit ID, 500 kbaud)',
  '7': 'ISO 15765-4 CAN (29 bit ID, 500 kbaud)',
  '8': 'ISO 15765-4 CAN (11 bit ID, 250 kbaud)',
  '9': 'ISO 15765-4 CAN (29 bit ID, 250 kbaud)',
  A: 'SAE J1939 CAN (29 bit ID, 250 kbaud)',
  B: 'USER1 CAN (11 bit ID, 125 kbaud)',
  C: 'USER2 CAN (11 bit ID, 50 kbaud)',
};

/** `ATDPN` answers `6`, or `A6` while the protocol was found automatically: the number alone, or null. */
export function parseProtocolNumber(answer: string): string | null {
  const m = /^A?([0-9A-C])$/i.exec(answer.trim());
  return m ? m[1]!.toUpperCase() : null;
}

export function protocolName(protocolNumber: string): string {
  return ELM327_PROTOCOLS[protocolNumber.toUpperCase()] ?? 'unknown';
}

export function isCanProtocol(protocolNumber: string): boolean {
  return /^[6-9A-C]$/i.test(protocolNumber);
}

/** A protocol to configure with `ATSP`: `0` (auto), `1`…`C`, or `A6`-style "try 6, then search". */
export function isValidProtocolSetting(setting: string): boolean {
  return /^A?[0-9A-C]$/i.test(setting);
}

/** `ATRV` answers `12.6V` (clones: `12.6`, ` 12.6 V`): volts, or null when unreadable. */
export function parseVoltage(answer: string): number | null {
  const m = /^\s*(\d{1,2}(?:\.\d{1,3})?)\s*V?\s*$/i.exec(answer);
  return m ? Number(m[1]) : null;
}
