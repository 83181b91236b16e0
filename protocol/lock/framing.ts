// Length-prefixed framing for stream transports (TCP as the BLE stand-in): u32 length ‖ frame, with a hard size limit.
import { LockError } from './errors.js';
import { MAX_FRAME_BYTES } from './messages.js';

export function encodeLengthPrefixed(frame: Uint8Array): Uint8Array {
  if (frame.length === 0 || frame.length > MAX_FRAME_BYTES) throw new RangeError(`frame of ${frame.length} bytes`);
  const out = new Uint8Array(4 + frame.length);
  new DataView(out.buffer).setUint32(0, frame.length);
  out.set(frame, 4);
  return out;
}

/**
 * Accumulates stream chunks and yields whole frames. A zero or over-limit length prefix is
 * BAD_FRAME at once (a lying length must not make us buffer 4 GiB); a truncated frame simply
 * waits, and the transport's idle timeout ends it.
 */
export class FrameDecoder {
  private buffer = new Uint8Array(0);

  push(chunk: Uint8Array): Uint8Array[] {
    const merged = new Uint8Array(this.buffer.length + chunk.length);
    merged.set(this.buffer);
    merged.set(chunk, this.buffer.length);
    const frames: Uint8Array[] = [];
    let offset = 0;
    while (merged.length - offset >= 4) {
      const length = new DataView(merged.buffer, offset, 4).getUint32(0);
      if (length === 0 || length > MAX_FRAME_BYTES) throw new LockError('BAD_FRAME', `length prefix ${length} outside 1..${MAX_FRAME_BYTES}`);
      if (merged.length - offset - 4 < length) break;
      frames.push(merged.slice(offset + 4, offset + 4 + length));
      offset += 4 + length;
    }
    this.buffer = merged.slice(offset);
    return frames;
  }

  /** Bytes of an incomplete frame still buffered. */
  get pending(): number {
    return this.buffer.length;
  }
}
