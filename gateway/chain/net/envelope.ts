// The plaintext inside one encrypted frame: gossip message, request, response or error response, with the node's kind byte.
//
// Layout: type u8 ‖ kind u8 ‖ (request id u32, for the three request/response types) ‖ payload
// (the rest of the frame). The payload is opaque here: the node chooses kinds and formats.
import { ProtocolError } from '../../../protocol/errors.js';
import { ByteReader, ByteWriter, utf8 } from '../../../protocol/wire.js';
import { NetError } from './errors.js';
import { MAX_FRAME_PLAINTEXT } from './frame-cipher.js';

export type Envelope =
  | { type: 'message'; kind: number; payload: Uint8Array }
  | { type: 'request'; kind: number; id: number; payload: Uint8Array }
  | { type: 'response'; kind: number; id: number; payload: Uint8Array }
  | { type: 'error'; kind: number; id: number; message: string };

const TYPE_BYTE = { message: 0, request: 1, response: 2, error: 3 } as const;
const TYPES = ['message', 'request', 'response', 'error'] as const;
/** Header of a request/response envelope; a gossip message's header is 4 bytes shorter. */
export const ENVELOPE_HEADER_MAX = 6;
/** The largest payload the node may hand to broadcast/send/request. */
export const MAX_PAYLOAD = MAX_FRAME_PLAINTEXT - ENVELOPE_HEADER_MAX;
/** Error messages travel to the requester; bounded so a handler cannot echo megabytes. */
export const MAX_ERROR_MESSAGE = 1024;

export function encodeEnvelope(e: Envelope): Uint8Array {
  const w = new ByteWriter().u8(TYPE_BYTE[e.type]).u8(e.kind);
  if (e.type === 'message') return w.raw(e.payload).finish();
  w.u32(e.id);
  if (e.type === 'error') return w.raw(utf8(truncateUtf8(e.message, MAX_ERROR_MESSAGE))).finish();
  return w.raw(e.payload).finish();
}

/** BAD_FRAME for anything malformed: the peer is authenticated, so garbage here is a bug or hostility. */
export function decodeEnvelope(bytes: Uint8Array): Envelope {
  try {
    const r = new ByteReader(bytes, 'frame envelope');
    const typeByte = r.u8();
    const type = TYPES[typeByte];
    if (type === undefined) throw new NetError('BAD_FRAME', `unknown envelope type ${typeByte}`);
    const kind = r.u8();
    if (type === 'message') return { type, kind, payload: r.take(r.remaining) };
    const id = r.u32();
    const rest = r.take(r.remaining);
    if (type === 'error') {
      if (rest.length > MAX_ERROR_MESSAGE) throw new NetError('BAD_FRAME', `error message of ${rest.length} bytes`);
      const message = new TextDecoder('utf-8', { fatal: true }).decode(rest);
      return { type, kind, id, message };
    }
    return { type, kind, id, payload: rest };
  } catch (err) {
    if (err instanceof NetError) throw err;
    if (err instanceof ProtocolError || err instanceof TypeError) {
      throw new NetError('BAD_FRAME', `malformed envelope: ${err.message}`, { cause: err });
    }
    throw err;
  }
}

function truncateUtf8(text: string, maxBytes: number): string {
  let out = text;
  while (utf8(out).length > maxBytes) out = out.slice(0, Math.max(0, out.length - Math.ceil((utf8(out).length - maxBytes) / 4) - 1));
  return out;
}
