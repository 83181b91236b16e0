// The camera seam: a Frame (packed RGB pixels) and a FrameSource that yields frames until closed or exhausted.
//
// Cancellation rules: frames() may be iterated once. close() ends the iteration at the next frame
// boundary (a pending read resolves as done), releases files, watchers and child processes, and is
// idempotent. Breaking out of a `for await` loop calls the iterator's return(), which closes the source.
// A source that runs out (last file, end of video) simply ends; an error (file unreadable, ffmpeg
// died) is thrown from the iterator as a CameraError.
import { CarchainError, type CarchainErrorOptions } from '../../protocol/errors.js';

export interface Frame {
  width: number;
  height: number;
  /** Always 3 here (packed RGB, row-major, no padding); kept explicit so consumers can assert it. */
  channels: 3;
  data: Uint8Array;
  /** ms since the Unix epoch: capture time when the source knows it, otherwise when the frame was read. */
  timestamp: number;
  /** Where the frame came from: a file path, `dir:file`, or `ffmpeg:<input>#<n>`. */
  source: string;
}

export interface FrameSource {
  frames(): AsyncIterable<Frame>;
  close(): Promise<void>;
}

export type CameraErrorCode =
  | 'SOURCE_NOT_FOUND' // the file, directory or device does not exist
  | 'DECODE_FAILED' // the bytes are not an image we can decode (empty, truncated, not an image)
  | 'FFMPEG_MISSING' // the ffmpeg executable is not on PATH (or at the configured path)
  | 'FFMPEG_FAILED' // ffmpeg exited with an error before producing frames (bad input, unreachable stream)
  | 'STREAM_ENDED' // a live stream stopped mid-frame (a partial frame was dropped)
  | 'SOURCE_CLOSED' // frames() was called after close(), or twice
  | 'INVALID_OPTIONS'; // a size, rate or path option is out of range

export class CameraError extends CarchainError<CameraErrorCode> {
  constructor(code: CameraErrorCode, message: string, options: CarchainErrorOptions = {}) {
    super(code, message, options);
  }
}

/** Asserts the Frame invariants (dimensions match the buffer); decoders and tests use it. */
export function assertFrame(frame: Frame): void {
  if (!Number.isInteger(frame.width) || !Number.isInteger(frame.height) || frame.width <= 0 || frame.height <= 0) {
    throw new RangeError(`frame size ${frame.width}×${frame.height} is not positive integers`);
  }
  if (frame.channels !== 3) throw new RangeError(`frame has ${String(frame.channels)} channels, expected 3`);
  if (frame.data.length !== frame.width * frame.height * 3) {
    throw new RangeError(`frame buffer has ${frame.data.length} bytes, expected ${frame.width * frame.height * 3}`);
  }
}
