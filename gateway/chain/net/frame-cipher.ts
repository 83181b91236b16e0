// Encrypted frames of a secret connection: u32 length ‖ AES-256-GCM(ciphertext ‖ tag), one counter nonce per direction.
//
// The nonce is 4 zero bytes ‖ u64 frame counter: each direction has its own key, so counters never
// collide across directions, and a counter is used once. A replayed, dropped, reordered or
// tampered frame fails authentication at the receiver (the counters disagree or the tag does),
// which closes the link. The 4-byte length prefix is the AEAD's associated data, so it cannot be
// changed without detection either.
import { createCipheriv, createDecipheriv } from 'node:crypto';
import { NetError } from './errors.js';

/** Largest plaintext in one frame. */
export const MAX_FRAME_PLAINTEXT = 4 * 1024 * 1024;
export const GCM_TAG_LENGTH = 16;
export const FRAME_PREFIX_LENGTH = 4;
/**
 * Frames per direction before the link is closed and must be re-established with fresh keys.
 * Far below 2^64 (the nonce space) and conservative for AES-GCM's per-key data bound.
 */
export const DEFAULT_MAX_FRAMES_PER_DIRECTION = 2 ** 32;

export interface FrameLimits {
  maxPlaintext: number;
  maxFrames: number;
}

export const DEFAULT_FRAME_LIMITS: FrameLimits = { maxPlaintext: MAX_FRAME_PLAINTEXT, maxFrames: DEFAULT_MAX_FRAMES_PER_DIRECTION };

function nonceFor(counter: number): Uint8Array {
  const nonce = new Uint8Array(12);
  new DataView(nonce.buffer).setBigUint64(4, BigInt(counter));
  return nonce;
}

function prefixFor(ciphertextLength: number): Uint8Array {
  const prefix = new Uint8Array(FRAME_PREFIX_LENGTH);
  new DataView(prefix.buffer).setUint32(0, ciphertextLength);
  return prefix;
}

/** Seals outgoing frames for one direction. */
export class FrameSealer {
  private counter = 0;

  constructor(
    private readonly key: Uint8Array,
    private readonly limits: FrameLimits = DEFAULT_FRAME_LIMITS,
  ) {}

  get framesSealed(): number {
    return this.counter;
  }

  /** The complete wire frame. FRAME_TOO_LARGE above the limit; NONCE_EXHAUSTED when the counter is used up. */
  seal(plaintext: Uint8Array): Uint8Array {
    if (plaintext.length > this.limits.maxPlaintext) {
      throw new NetError('FRAME_TOO_LARGE', `frame of ${plaintext.length} bytes exceeds the limit of ${this.limits.maxPlaintext}`);
    }
    if (this.counter >= this.limits.maxFrames) {
      throw new NetError('NONCE_EXHAUSTED', `sent ${this.counter} frames with this key; reconnect for fresh keys`);
    }
    const cipher = createCipheriv('aes-256-gcm', this.key, nonceFor(this.counter), { authTagLength: GCM_TAG_LENGTH });
    this.counter++;
    const prefix = prefixFor(plaintext.length + GCM_TAG_LENGTH);
    cipher.setAAD(prefix);
    const out = new Uint8Array(FRAME_PREFIX_LENGTH + plaintext.length + GCM_TAG_LENGTH);
    out.set(prefix, 0);
    const body = cipher.update(plaintext);
    out.set(body, FRAME_PREFIX_LENGTH);
    const tail = cipher.final();
    out.set(tail, FRAME_PREFIX_LENGTH + body.length);
    out.set(cipher.getAuthTag(), FRAME_PREFIX_LENGTH + body.length + tail.length);
    return out;
  }
}

/** Opens incoming frames for one direction, in order. */
export class FrameOpener {
  private counter = 0;

  constructor(
    private readonly key: Uint8Array,
    private readonly limits: FrameLimits = DEFAULT_FRAME_LIMITS,
  ) {}

  get framesOpened(): number {
    return this.counter;
  }

  /** Largest acceptable value of a length prefix: checked before the body is even buffered. */
  get maxCiphertext(): number {
    return this.limits.maxPlaintext + GCM_TAG_LENGTH;
  }

  /** Checks a length prefix as soon as it has arrived. FRAME_TOO_LARGE / BAD_FRAME. */
  checkLength(ciphertextLength: number): void {
    if (ciphertextLength > this.maxCiphertext) {
      throw new NetError('FRAME_TOO_LARGE', `peer announced a frame of ${ciphertextLength} bytes, limit ${this.maxCiphertext}`);
    }
    if (ciphertextLength < GCM_TAG_LENGTH) throw new NetError('BAD_FRAME', `frame of ${ciphertextLength} bytes is shorter than its tag`);
  }

  /** `frame` is prefix ‖ ciphertext ‖ tag. BAD_FRAME if it does not authenticate under the next counter. */
  open(frame: Uint8Array): Uint8Array {
    if (frame.length < FRAME_PREFIX_LENGTH) throw new NetError('BAD_FRAME', 'frame shorter than its length prefix');
    const length = new DataView(frame.buffer, frame.byteOffset, FRAME_PREFIX_LENGTH).getUint32(0);
    this.checkLength(length);
    if (frame.length !== FRAME_PREFIX_LENGTH + length) throw new NetError('BAD_FRAME', 'frame length does not match its prefix');
    if (this.counter >= this.limits.maxFrames) {
      throw new NetError('NONCE_EXHAUSTED', `peer sent more than ${this.limits.maxFrames} frames with one key`);
    }
    const decipher = createDecipheriv('aes-256-gcm', this.key, nonceFor(this.counter), { authTagLength: GCM_TAG_LENGTH });
    decipher.setAAD(frame.subarray(0, FRAME_PREFIX_LENGTH));
    decipher.setAuthTag(frame.subarray(frame.length - GCM_TAG_LENGTH));
    try {
      const body = decipher.update(frame.subarray(FRAME_PREFIX_LENGTH, frame.length - GCM_TAG_LENGTH));
      const tail = decipher.final();
      this.counter++;
      if (tail.length === 0) return new Uint8Array(body.buffer, body.byteOffset, body.length);
      return Uint8Array.from(Buffer.concat([body, tail]));
    } catch (cause) {
      throw new NetError('BAD_FRAME', `frame ${this.counter} does not authenticate (tampered, replayed or out of order)`, { cause });
    }
  }
}

/**
 * Reassembles a byte stream: first an optional fixed-size raw preamble, then length-prefixed frames.
 * Chunks are kept as a list and joined once per complete item, so a 4 MiB frame arriving in 64 KiB
 * pieces is copied once, not quadratically.
 */
export class StreamBuffer {
  private chunks: Uint8Array[] = [];
  private size = 0;

  get length(): number {
    return this.size;
  }

  push(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.size += chunk.length;
  }

  /** The first 4 bytes as a big-endian u32, or undefined if fewer have arrived. */
  peekU32(): number | undefined {
    if (this.size < 4) return undefined;
    const head = this.peek(4);
    return new DataView(head.buffer, head.byteOffset, 4).getUint32(0);
  }

  /** Removes and returns exactly `n` bytes; the caller checks `length` first. */
  take(n: number): Uint8Array {
    if (n > this.size) throw new RangeError(`take(${n}) with ${this.size} buffered`);
    const out = this.peek(n);
    let remaining = n;
    while (remaining > 0) {
      const first = this.chunks[0]!;
      if (first.length <= remaining) {
        this.chunks.shift();
        remaining -= first.length;
      } else {
        this.chunks[0] = first.subarray(remaining);
        remaining = 0;
      }
    }
    this.size -= n;
    return out;
  }

  private peek(n: number): Uint8Array {
    const first = this.chunks[0];
    if (first !== undefined && first.length >= n) return first.subarray(0, n);
    const out = new Uint8Array(n);
    let offset = 0;
    for (const chunk of this.chunks) {
      const part = chunk.subarray(0, n - offset);
      out.set(part, offset);
      offset += part.length;
      if (offset === n) break;
    }
    return out;
  }
}
