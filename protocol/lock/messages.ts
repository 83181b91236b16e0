// Wire messages of the car-lock link: HELLO, CHALLENGE, AUTH, CMD, RSP, KEYSET, KEYSET_OK, ERROR.
//
// Every frame is version u8 = 1 ‖ type u8 ‖ fields; sizes are fixed where they can be, so a frame
// of the wrong length is refused before any cryptography runs. Layouts are in docs/car-lock.md.
import { ProtocolError } from '../errors.js';
import { SIGNATURE_LENGTH } from '../signature.js';
import { ByteReader, ByteWriter, expectVersion } from '../wire.js';
import { LockError } from './errors.js';
import { MAX_KEY_SET_BYTES } from './key-set.js';
import { MAX_COUNTER, TAG_BYTES } from './key-schedule.js';

export const LOCK_WIRE_VERSION = 1;
export const NONCE_LENGTH = 32;
export const POINT_LENGTH = 33;
export const MAX_COMMAND_ARGS = 256;
export const MAX_PROOF_BYTES = 64 * 1024;
export const MAX_ERROR_CODE_LENGTH = 64;
/** The largest frame any message can be; transports refuse longer length prefixes. */
export const MAX_FRAME_BYTES = 2 + 10 + MAX_KEY_SET_BYTES + 10 + MAX_PROOF_BYTES;

export const FRAME_TYPE = {
  hello: 0x01,
  challenge: 0x02,
  auth: 0x03,
  command: 0x10,
  response: 0x11,
  keySet: 0x20,
  keySetOk: 0x21,
  error: 0x7f,
} as const;

export type FrameType = keyof typeof FRAME_TYPE;

export interface Hello {
  vidHash: Uint8Array;
  ephemeralPublicKey: Uint8Array;
  nonce: Uint8Array;
}

export interface Challenge {
  ephemeralPublicKey: Uint8Array;
  nonce: Uint8Array;
  epoch: number;
  /** The lock's trusted time (ms) when it issued the challenge; the wallet stamps commands in this clock. */
  lockTime: number;
  signature: Uint8Array;
}

/** AUTH plaintext: the phone's long-term key and its signature; encrypted under the auth key. */
export interface AuthBody {
  publicKey: Uint8Array;
  signature: Uint8Array;
}
export const AUTH_BODY_LENGTH = POINT_LENGTH + SIGNATURE_LENGTH;

/** CMD and RSP frames: a plaintext counter (the nonce) and ciphertext ‖ tag. */
export interface Sealed {
  counter: number;
  sealed: Uint8Array;
}

export interface CommandBody {
  command: number;
  issuedAt: number;
  expiresAt: number;
  args: Uint8Array;
}

export interface ResponseBody {
  /** The counter of the CMD this answers. */
  commandCounter: number;
  /** '' when the command was carried out, else a LockErrorCode. */
  error: string;
  /** Actuator state after the command: bit 0 locked, bit 1 engine on, bit 2 trunk open. */
  state: number;
  lockTime: number;
}

export interface KeySetUpdate {
  keySet: Uint8Array;
  proof: Uint8Array;
}

export interface KeySetOk {
  epoch: number;
  outcome: number;
}

export function frameType(frame: Uint8Array): FrameType {
  if (frame.length < 2) throw new LockError('BAD_FRAME', 'frame shorter than its header');
  if (frame[0] !== LOCK_WIRE_VERSION) throw new LockError('BAD_FRAME', `frame version ${frame[0]}`);
  const type = (Object.keys(FRAME_TYPE) as FrameType[]).find((k) => FRAME_TYPE[k] === frame[1]);
  if (type === undefined) throw new LockError('BAD_FRAME', `frame type 0x${frame[1]!.toString(16)}`);
  return type;
}

function header(type: FrameType): ByteWriter {
  return new ByteWriter().u8(LOCK_WIRE_VERSION).u8(FRAME_TYPE[type]);
}

/** Runs a decoder; any wire-level failure becomes BAD_FRAME. */
function decodeAs<T>(type: FrameType, frame: Uint8Array, body: (r: ByteReader) => T): T {
  if (!(frame instanceof Uint8Array)) throw new TypeError('frame: expected Uint8Array');
  try {
    const r = new ByteReader(frame, type);
    expectVersion(r, LOCK_WIRE_VERSION, type);
    const t = r.u8();
    if (t !== FRAME_TYPE[type]) throw new LockError('UNEXPECTED_MESSAGE', `expected ${type}, got frame type 0x${t.toString(16)}`);
    const value = body(r);
    r.end();
    return value;
  } catch (err) {
    if (err instanceof ProtocolError) throw new LockError('BAD_FRAME', err.message, { cause: err });
    throw err;
  }
}

export function encodeHello(m: Hello): Uint8Array {
  return header('hello').fixed(m.vidHash, 32).fixed(m.ephemeralPublicKey, POINT_LENGTH).fixed(m.nonce, NONCE_LENGTH).finish();
}

export function decodeHello(frame: Uint8Array): Hello {
  return decodeAs('hello', frame, (r) => ({
    vidHash: r.take(32).slice(),
    ephemeralPublicKey: r.take(POINT_LENGTH).slice(),
    nonce: r.take(NONCE_LENGTH).slice(),
  }));
}

/** The CHALLENGE without its signature: what the transcript hash covers. */
export function encodeChallengeBody(m: Omit<Challenge, 'signature'>): Uint8Array {
  return header('challenge').fixed(m.ephemeralPublicKey, POINT_LENGTH).fixed(m.nonce, NONCE_LENGTH).u64(m.epoch).u64(m.lockTime).finish();
}

export function encodeChallenge(m: Challenge): Uint8Array {
  return new ByteWriter().raw(encodeChallengeBody(m)).fixed(m.signature, SIGNATURE_LENGTH).finish();
}

export const CHALLENGE_BODY_LENGTH = 2 + POINT_LENGTH + NONCE_LENGTH + 8 + 8;

export function decodeChallenge(frame: Uint8Array): Challenge {
  return decodeAs('challenge', frame, (r) => ({
    ephemeralPublicKey: r.take(POINT_LENGTH).slice(),
    nonce: r.take(NONCE_LENGTH).slice(),
    epoch: r.u64Number('epoch'),
    lockTime: r.u64Number('lockTime'),
    signature: r.take(SIGNATURE_LENGTH).slice(),
  }));
}

/** AAD of AUTH: its own header. */
export const AUTH_HEADER = Uint8Array.of(LOCK_WIRE_VERSION, FRAME_TYPE.auth);

export function encodeAuth(sealed: Uint8Array): Uint8Array {
  return header('auth').fixed(sealed, AUTH_BODY_LENGTH + TAG_BYTES).finish();
}

export function decodeAuth(frame: Uint8Array): Uint8Array {
  return decodeAs('auth', frame, (r) => r.take(AUTH_BODY_LENGTH + TAG_BYTES).slice());
}

export function encodeAuthBody(b: AuthBody): Uint8Array {
  return new ByteWriter().fixed(b.publicKey, POINT_LENGTH).fixed(b.signature, SIGNATURE_LENGTH).finish();
}

export function decodeAuthBody(bytes: Uint8Array): AuthBody {
  return decodeAs('auth', concatHeader('auth', bytes), (r) => ({
    publicKey: r.take(POINT_LENGTH).slice(),
    signature: r.take(SIGNATURE_LENGTH).slice(),
  }));
}

function concatHeader(type: FrameType, body: Uint8Array): Uint8Array {
  return header(type).raw(body).finish();
}

/** Header bytes of a CMD/RSP: version ‖ type ‖ counter u32. They are the AEAD's additional data. */
export function sealedHeader(type: 'command' | 'response', counter: number): Uint8Array {
  if (!Number.isInteger(counter) || counter < 0 || counter > MAX_COUNTER) throw new RangeError(`counter ${counter}`);
  return header(type).u32(counter).finish();
}

const MAX_SEALED = 8 + 8 + 1 + 10 + MAX_COMMAND_ARGS + MAX_ERROR_CODE_LENGTH + 16 + TAG_BYTES;

export function encodeSealed(type: 'command' | 'response', m: Sealed): Uint8Array {
  return new ByteWriter().raw(sealedHeader(type, m.counter)).bytes(m.sealed).finish();
}

export function decodeSealed(type: 'command' | 'response', frame: Uint8Array): Sealed {
  return decodeAs(type, frame, (r) => {
    const counter = r.u32();
    const sealed = r.bytes(MAX_SEALED, 'sealed').slice();
    if (sealed.length < TAG_BYTES) throw new LockError('BAD_FRAME', `${type}: sealed field shorter than a tag`);
    return { counter, sealed };
  });
}

export function encodeCommandBody(b: CommandBody): Uint8Array {
  if (b.args.length > MAX_COMMAND_ARGS) throw new RangeError('command args too long');
  return new ByteWriter().u8(b.command).u64(b.issuedAt).u64(b.expiresAt).bytes(b.args).finish();
}

export function decodeCommandBody(bytes: Uint8Array): CommandBody {
  return decodeAs('command', concatHeader('command', bytes), (r) => ({
    command: r.u8(),
    issuedAt: r.u64Number('issuedAt'),
    expiresAt: r.u64Number('expiresAt'),
    args: r.bytes(MAX_COMMAND_ARGS, 'args').slice(),
  }));
}

export function encodeResponseBody(b: ResponseBody): Uint8Array {
  return new ByteWriter().u32(b.commandCounter).string(b.error).u8(b.state).u64(b.lockTime).finish();
}

export function decodeResponseBody(bytes: Uint8Array): ResponseBody {
  return decodeAs('response', concatHeader('response', bytes), (r) => ({
    commandCounter: r.u32(),
    error: r.string(MAX_ERROR_CODE_LENGTH, 'error'),
    state: r.u8(),
    lockTime: r.u64Number('lockTime'),
  }));
}

export function encodeKeySetUpdate(m: KeySetUpdate): Uint8Array {
  if (m.keySet.length > MAX_KEY_SET_BYTES || m.proof.length > MAX_PROOF_BYTES) throw new RangeError('key set or proof too long');
  return header('keySet').bytes(m.keySet).bytes(m.proof).finish();
}

export function decodeKeySetUpdate(frame: Uint8Array): KeySetUpdate {
  return decodeAs('keySet', frame, (r) => ({
    keySet: r.bytes(MAX_KEY_SET_BYTES, 'keySet').slice(),
    proof: r.bytes(MAX_PROOF_BYTES, 'proof').slice(),
  }));
}

export const KEYSET_OUTCOME = { installed: 0, rotated: 1, refreshed: 2 } as const;

export function encodeKeySetOk(m: KeySetOk): Uint8Array {
  return header('keySetOk').u64(m.epoch).u8(m.outcome).finish();
}

export function decodeKeySetOk(frame: Uint8Array): KeySetOk {
  return decodeAs('keySetOk', frame, (r) => ({ epoch: r.u64Number('epoch'), outcome: r.u8() }));
}

/** A plaintext refusal. Unauthenticated by nature: a wallet treats it as "this attempt failed", nothing more. */
export function encodeError(code: string): Uint8Array {
  return header('error').string(code.slice(0, MAX_ERROR_CODE_LENGTH)).finish();
}

export function decodeError(frame: Uint8Array): string {
  return decodeAs('error', frame, (r) => r.string(MAX_ERROR_CODE_LENGTH, 'code'));
}
