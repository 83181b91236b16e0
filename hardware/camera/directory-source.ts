// A FrameSource that watches a directory and yields each new image file once it has finished being written.
//
// Cameras and FTP uploads drop JPEGs into a folder. A file is taken when it is non-empty and its
// size and mtime did not change between two looks (a writer still appending is left alone); writers
// that write to a temporary name and rename are picked up on the rename. fs.watch wakes the scan
// early; a poll (default 250 ms) backs it up, because watch events are lossy on some file systems.
// Files are taken in name order. A file that does not decode is not dropped silently: it goes to
// `onError` when given, otherwise the iteration throws DECODE_FAILED.
import { watch, type FSWatcher } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { CameraError, type Frame, type FrameSource } from './frame-source.js';
import { decodeImageFile } from './image-decode.js';

const EMPTY_FILE_GRACE_MS = 1000;

export const IMAGE_EXTENSIONS = ['.jpg', '.jpeg', '.png', '.webp', '.tif', '.tiff', '.bmp'];

export interface DirectorySourceOptions {
  /** Also yield the files already there when watching starts (default false: only new ones). */
  includeExisting?: boolean;
  /** Lower-case extensions, with the dot (default IMAGE_EXTENSIONS). */
  extensions?: readonly string[];
  /** How often the directory is scanned even without watch events (default 250 ms). */
  pollMs?: number;
  /** Receives files that could not be decoded; without it they end the iteration with the error. */
  onError?: (error: CameraError, path: string) => void;
  now?: () => number;
}

interface Seen {
  size: number;
  mtimeMs: number;
}

export class DirectorySource implements FrameSource {
  private closed = false;
  private started = false;
  private watcher: FSWatcher | null = null;
  private timer: NodeJS.Timeout | null = null;
  private wake: (() => void) | null = null;
  /** Files already yielded (or skipped): never taken twice. */
  private readonly taken = new Set<string>();
  /** Last size/mtime of files not yet taken, to see whether they are still being written. */
  private readonly pending = new Map<string, Seen>();

  constructor(
    readonly directory: string,
    private readonly options: DirectorySourceOptions = {},
  ) {
    const poll = options.pollMs ?? 250;
    if (!(poll >= 10 && poll <= 60_000)) throw new CameraError('INVALID_OPTIONS', `pollMs ${poll} must be within 10…60000`);
  }

  frames(): AsyncIterable<Frame> {
    if (this.closed || this.started) throw new CameraError('SOURCE_CLOSED', 'frames() may be called once, before close()');
    this.started = true;
    return this.generate();
  }

  close(): Promise<void> {
    this.closed = true;
    this.watcher?.close();
    this.watcher = null;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.wake?.();
    return Promise.resolve();
  }

  private async *generate(): AsyncGenerator<Frame> {
    try {
      await this.start();
      while (!this.closed) {
        for (const path of await this.readyFiles()) {
          if (this.closed) return;
          this.taken.add(path);
          this.pending.delete(path);
          let frame: Frame;
          try {
            frame = await decodeImageFile(path, this.options.now);
          } catch (err) {
            // Deleted between the scan and the read: nothing to report.
            if (err instanceof CameraError && err.code === 'SOURCE_NOT_FOUND') continue;
            if (!(err instanceof CameraError) || this.options.onError === undefined) throw err;
            this.options.onError(err, path);
            continue;
          }
          if (this.closed) return;
          yield frame;
        }
        await this.sleep();
      }
    } finally {
      await this.close();
    }
  }

  private async start(): Promise<void> {
    let info;
    try {
      info = await stat(this.directory);
    } catch (err) {
      throw new CameraError('SOURCE_NOT_FOUND', `${this.directory}: no such directory`, { cause: err });
    }
    if (!info.isDirectory()) throw new CameraError('SOURCE_NOT_FOUND', `${this.directory} is not a directory`);
    if (!this.options.includeExisting) {
      for (const name of await readdir(this.directory)) this.taken.add(join(this.directory, name));
    }
    try {
      this.watcher = watch(this.directory, { persistent: false }, () => this.wake?.());
      this.watcher.on('error', () => {
        // Polling carries on without events (e.g. the directory was removed; the scan reports it).
        this.watcher?.close();
        this.watcher = null;
      });
    } catch {
      this.watcher = null; // watch unsupported here (some network file systems): poll only
    }
  }

  /** Files that are new and did not change since the previous look, in name order. */
  private async readyFiles(): Promise<string[]> {
    const extensions = this.options.extensions ?? IMAGE_EXTENSIONS;
    let names: string[];
    try {
      names = await readdir(this.directory);
    } catch (err) {
      throw new CameraError('SOURCE_NOT_FOUND', `${this.directory} disappeared`, { cause: err });
    }
    const ready: string[] = [];
    for (const name of names.sort()) {
      const path = join(this.directory, name);
      if (this.taken.has(path) || !extensions.includes(extname(name).toLowerCase())) continue;
      let info;
      try {
        info = await stat(path);
      } catch {
        continue; // vanished (renamed away) since readdir
      }
      if (!info.isFile()) continue;
      const before = this.pending.get(path);
      const now = { size: info.size, mtimeMs: info.mtimeMs };
      // An empty file may be one being created: it is taken (and reported as undecodable) once it has stayed empty a while.
      const settled = now.size > 0 || Date.now() - now.mtimeMs > EMPTY_FILE_GRACE_MS;
      if (before !== undefined && before.size === now.size && before.mtimeMs === now.mtimeMs && settled) ready.push(path);
      else this.pending.set(path, now);
    }
    return ready;
  }

  /** Until the next poll, a watch event, or close(). */
  private sleep(): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        if (this.timer !== null) clearTimeout(this.timer);
        this.timer = null;
        this.wake = null;
        resolve();
      };
      this.wake = done;
      // While a file is settling, look again soon; otherwise at the poll interval.
      this.timer = setTimeout(done, this.pending.size > 0 ? Math.min(50, this.options.pollMs ?? 250) : (this.options.pollMs ?? 250));
    });
  }
}
