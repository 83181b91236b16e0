// How an ELM327 prints CAN responses: ISO-TP segmentation of a payload and the text lines for the
// current ATH / ATS / ATCAF settings.
//
// CAF on, headers on:  `7E8 06 41 00 BE 3F A8 13` (single frame: PCI + data, padding hidden),
//                      `7E8 10 14 49 02 01 4C 42 56`, `7E8 21 …` (multi-frame: all 8 bytes shown).
// CAF on, headers off: `41 00 BE 3F A8 13`; multi-frame as `014` (length), `0: 49 02 01 4C 42 56`, `1: …`.
// CAF off:             every frame's 8 raw bytes (PCI and padding included), with the header if ATH1.
// 29-bit ids print as four bytes (`18 DA F1 10`), 11-bit ids as three hex digits (`7E8`).

export interface CanId {
  readonly bits: 11 | 29;
  readonly id: number;
}

export interface ElmFormatSettings {
  readonly headers: boolean;
  readonly spaces: boolean;
  /** CAN auto formatting (ATCAF1, the default). */
  readonly caf: boolean;
}

/** ISO 15765-2 frame kinds as the ELM327 sees them. */
export interface IsoTpFrame {
  readonly kind: 'single' | 'first' | 'consecutive';
  /** 8 bytes as on the wire, PCI first, padded. */
  readonly bytes: Uint8Array;
  /** The bytes up to the end of the PCI-declared data (single frames: without padding). */
  readonly meaningful: Uint8Array;
  /** Consecutive frame sequence number (1, 2, … F, 0, 1…), 0 for the first frame. */
  readonly seq: number;
}

export const ISO_TP_PADDING = 0x00;

export function isoTpSegment(payload: Uint8Array, padding = ISO_TP_PADDING): IsoTpFrame[] {
  const pad = (bytes: number[]): Uint8Array => {
    const out = new Uint8Array(8).fill(padding);
    out.set(bytes.slice(0, 8));
    return out;
  };
  if (payload.length <= 7) {
    const data = [payload.length, ...payload];
    return [{ kind: 'single', bytes: pad(data), meaningful: Uint8Array.from(data), seq: 0 }];
  }
  if (payload.length > 0xfff) throw new RangeError('ISO-TP payload longer than 4095 bytes');
  const first = [0x10 | (payload.length >> 8), payload.length & 0xff, ...payload.subarray(0, 6)];
  const frames: IsoTpFrame[] = [{ kind: 'first', bytes: pad(first), meaningful: Uint8Array.from(first), seq: 0 }];
  let seq = 1;
  for (let offset = 6; offset < payload.length; offset += 7) {
    const data = [0x20 | (seq & 0x0f), ...payload.subarray(offset, offset + 7)];
    const bytes = pad(data);
    frames.push({ kind: 'consecutive', bytes, meaningful: bytes, seq: seq & 0x0f });
    seq++;
  }
  return frames;
}

const hexByte = (b: number): string => b.toString(16).toUpperCase().padStart(2, '0');

export function formatHeader(canId: CanId, spaces: boolean): string {
  if (canId.bits === 11) return canId.id.toString(16).toUpperCase().padStart(3, '0');
  const bytes = [canId.id >>> 24, (canId.id >>> 16) & 0xff, (canId.id >>> 8) & 0xff, canId.id & 0xff];
  return bytes.map(hexByte).join(spaces ? ' ' : '');
}

export function formatBytes(bytes: Iterable<number>, spaces: boolean): string {
  return [...bytes].map(hexByte).join(spaces ? ' ' : '');
}

/** The lines an ELM327 prints for one ECU's response payload. */
export function formatResponse(payload: Uint8Array, from: CanId, settings: ElmFormatSettings): string[] {
  const frames = isoTpSegment(payload);
  const sep = settings.spaces ? ' ' : '';
  const withHeader = (text: string): string => (settings.headers ? `${formatHeader(from, settings.spaces)}${sep}${text}` : text);
  if (!settings.caf) return frames.map((frame) => withHeader(formatBytes(frame.bytes, settings.spaces)));
  if (settings.headers) return frames.map((frame) => withHeader(formatBytes(frame.meaningful, settings.spaces)));
  const [first] = frames;
  if (frames.length === 1 && first) return [formatBytes(first.meaningful.subarray(1), settings.spaces)];
  const lines = [payload.length.toString(16).toUpperCase().padStart(3, '0')];
  for (const frame of frames) {
    const data = frame.kind === 'first' ? frame.bytes.subarray(2) : frame.bytes.subarray(1);
    lines.push(`${frame.seq.toString(16).toUpperCase()}:${sep}${formatBytes(data, settings.spaces)}`);
  }
  return lines;
}
