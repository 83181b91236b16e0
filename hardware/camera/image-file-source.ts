// A FrameSource over a fixed list of image files, read in order (the "image folder" camera of tests and `cait read`).
import { CameraError, type Frame, type FrameSource } from './frame-source.js';
import { decodeImageFile } from './image-decode.js';

export interface ImageFileSourceOptions {
  /** Clock for frame timestamps (default Date.now). */
  now?: () => number;
}

export class ImageFileSource implements FrameSource {
  private closed = false;
  private started = false;

  constructor(
    private readonly paths: readonly string[],
    private readonly options: ImageFileSourceOptions = {},
  ) {}

  frames(): AsyncIterable<Frame> {
    if (this.closed || this.started) throw new CameraError('SOURCE_CLOSED', 'frames() may be called once, before close()');
    this.started = true;
    return this.generate();
  }

  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }

  private async *generate(): AsyncGenerator<Frame> {
    try {
      for (const path of this.paths) {
        if (this.closed) return;
        const frame = await decodeImageFile(path, this.options.now);
        if (this.closed) return;
        yield frame;
      }
    } finally {
      this.closed = true;
    }
  }
}
