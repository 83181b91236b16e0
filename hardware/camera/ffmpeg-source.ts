// A FrameSource reading a video file, an RTSP/HTTP stream or a V4L2 device through an ffmpeg child process (raw rgb24 frames on stdout).
//
// ffmpeg decodes; we only cut its stdout into width × height × 3 byte frames. The frame size is
// given or found with ffprobe. Files are read with back-pressure (ffmpeg is paused while frames wait
// to be consumed); live inputs drop the oldest waiting frame instead, so a slow reader always gets
// a recent picture (drops are counted). close() terminates ffmpeg (SIGTERM, then SIGKILL after 2 s).
import { spawn, type ChildProcess } from 'node:child_process';
import { CameraError, type Frame, type FrameSource } from './frame-source.js';

export interface FfmpegSourceOptions {
  /** A file path, `rtsp://…`, `http(s)://…`, or a V4L2 device such as `/dev/video0`. */
  input: string;
  /** Output frame size; the input's own size (via ffprobe) when omitted. Scaled by ffmpeg when it differs. */
  width?: number;
  height?: number;
  /** Frames per second to emit (ffmpeg's fps filter); every decoded frame when omitted. */
  fps?: number;
  /** Extra ffmpeg arguments placed before `-i` (e.g. `['-f', 'v4l2', '-video_size', '1280x720']`). */
  inputArgs?: readonly string[];
  /** Drop the oldest waiting frame instead of pausing ffmpeg (default: true for streams and devices, false for files). */
  live?: boolean;
  /** Frames that may wait unconsumed (default 2). */
  maxQueued?: number;
  ffmpegPath?: string;
  ffprobePath?: string;
  now?: () => number;
}

export interface FfmpegSourceStats {
  frames: number;
  dropped: number;
}

const isLiveInput = (input: string) => /^(rtsps?|rtmp|https?|udp|tcp|srt):\/\//i.test(input) || input.startsWith('/dev/');

function spawnError(err: NodeJS.ErrnoException, program: string): CameraError {
  if (err.code === 'ENOENT') return new CameraError('FFMPEG_MISSING', `${program} not found (install ffmpeg)`, { cause: err });
  return new CameraError('FFMPEG_FAILED', `${program}: ${err.message}`, { cause: err });
}

/** The input's video size, asked of ffprobe. */
export function probeVideoSize(input: string, inputArgs: readonly string[] = [], ffprobePath = 'ffprobe'): Promise<{ width: number; height: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(ffprobePath, ['-v', 'error', ...inputArgs, '-select_streams', 'v:0', '-show_entries', 'stream=width,height', '-of', 'csv=p=0:s=x', input], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (out += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (err += s.slice(0, 4096)));
    child.on('error', (e) => reject(spawnError(e, ffprobePath)));
    child.on('close', (code) => {
      const m = /^(\d+)x(\d+)/.exec(out.trim());
      if (code === 0 && m) return resolve({ width: Number(m[1]), height: Number(m[2]) });
      const notFound = /No such file|does not exist/i.test(err);
      reject(new CameraError(notFound ? 'SOURCE_NOT_FOUND' : 'FFMPEG_FAILED', `ffprobe ${input}: ${err.trim() || `no video stream (exit ${String(code)})`}`));
    });
  });
}

export class FfmpegSource implements FrameSource {
  private closed = false;
  private started = false;
  private child: ChildProcess | null = null;
  private exited: Promise<void> = Promise.resolve();
  private readonly counters: FfmpegSourceStats = { frames: 0, dropped: 0 };

  constructor(private readonly options: FfmpegSourceOptions) {
    const { width, height, fps, maxQueued } = options;
    if ((width === undefined) !== (height === undefined)) throw new CameraError('INVALID_OPTIONS', 'give both width and height, or neither');
    for (const [name, v] of [['width', width], ['height', height]] as const) {
      if (v !== undefined && (!Number.isInteger(v) || v < 2 || v > 8192)) throw new CameraError('INVALID_OPTIONS', `${name} ${v} must be an integer within 2…8192`);
    }
    if (fps !== undefined && !(fps > 0 && fps <= 240)) throw new CameraError('INVALID_OPTIONS', `fps ${fps} must be within 0…240`);
    if (maxQueued !== undefined && (!Number.isInteger(maxQueued) || maxQueued < 1)) throw new CameraError('INVALID_OPTIONS', `maxQueued ${maxQueued} must be a positive integer`);
  }

  /** The ffmpeg child's pid while it runs (diagnostics, tests). */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  stats(): FfmpegSourceStats {
    return { ...this.counters };
  }

  frames(): AsyncIterable<Frame> {
    if (this.closed || this.started) throw new CameraError('SOURCE_CLOSED', 'frames() may be called once, before close()');
    this.started = true;
    return this.generate();
  }

  async close(): Promise<void> {
    this.closed = true;
    const child = this.child;
    if (child !== null && child.exitCode === null && child.signalCode === null) {
      // A paused stdout would hold 'close' back forever: drop what is left and let the pipe drain.
      child.stdout?.destroy();
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 2000);
      await this.exited;
      clearTimeout(timer);
    }
  }

  private async *generate(): AsyncGenerator<Frame> {
    const o = this.options;
    const inputArgs = o.inputArgs ?? (o.input.toLowerCase().startsWith('rtsp') ? ['-rtsp_transport', 'tcp'] : []);
    const size = o.width !== undefined && o.height !== undefined ? { width: o.width, height: o.height } : await probeVideoSize(o.input, inputArgs, o.ffprobePath);
    if (this.closed) return;
    const frameBytes = size.width * size.height * 3;
    const filters = [...(o.fps === undefined ? [] : [`fps=${o.fps}`]), ...(o.width === undefined ? [] : [`scale=${size.width}:${size.height}`])];
    const args = ['-hide_banner', '-loglevel', 'error', '-nostdin', ...inputArgs, '-i', o.input, ...(filters.length > 0 ? ['-vf', filters.join(',')] : []), '-an', '-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1'];
    const program = o.ffmpegPath ?? 'ffmpeg';
    const child = spawn(program, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    const live = o.live ?? isLiveInput(o.input);
    const maxQueued = o.maxQueued ?? 2;
    const now = o.now ?? Date.now;

    const queue: Uint8Array[] = [];
    let partial = Buffer.alloc(frameBytes);
    let filled = 0;
    let stderr = '';
    let failure: CameraError | null = null;
    let ended = false;
    let wake: (() => void) | null = null;
    const notify = () => {
      const w = wake;
      wake = null;
      w?.();
    };

    let markExited = () => {};
    this.exited = new Promise((resolve) => (markExited = resolve));
    // After close() destroys stdout, 'close' may never come; 'exit' always does once the process is gone.
    child.on('exit', () => {
      if (this.closed) markExited();
    });
    child.on('close', (code, signal) => {
      ended = true;
      if (failure === null && !this.closed) {
        if (code !== 0) {
          const notFound = /No such file|does not exist|Connection refused|not found/i.test(stderr);
          failure = new CameraError(notFound && this.counters.frames === 0 ? 'SOURCE_NOT_FOUND' : 'FFMPEG_FAILED', `ffmpeg ${o.input} exited with ${signal ?? String(code)}: ${stderr.trim().slice(-500)}`, {
            temporary: live,
          });
        } else if (filled > 0) {
          failure = new CameraError('STREAM_ENDED', `ffmpeg ${o.input}: stream ended inside a frame (${filled} of ${frameBytes} bytes); partial frame dropped`, { temporary: live });
        }
      }
      markExited();
      notify();
    });
    child.on('error', (err) => {
      // A failed spawn may not be followed by 'close'.
      failure ??= spawnError(err, program);
      ended = true;
      markExited();
      notify();
    });
    child.stderr.setEncoding('utf8').on('data', (s: string) => {
      stderr = (stderr + s).slice(-4096);
    });
    child.stdout.on('data', (chunk: Buffer) => {
      let offset = 0;
      while (offset < chunk.length) {
        const n = Math.min(frameBytes - filled, chunk.length - offset);
        chunk.copy(partial, filled, offset, offset + n);
        filled += n;
        offset += n;
        if (filled === frameBytes) {
          queue.push(new Uint8Array(partial.buffer, partial.byteOffset, frameBytes));
          partial = Buffer.alloc(frameBytes);
          filled = 0;
          if (queue.length > maxQueued) {
            if (live) {
              queue.shift();
              this.counters.dropped++;
            }
          }
        }
      }
      if (!live && queue.length >= maxQueued) child.stdout.pause();
      notify();
    });

    let index = 0;
    try {
      while (!this.closed) {
        const data = queue.shift();
        if (data !== undefined) {
          if (!live && queue.length < maxQueued) child.stdout.resume();
          this.counters.frames++;
          yield { width: size.width, height: size.height, channels: 3, data, timestamp: now(), source: `ffmpeg:${o.input}#${index++}` };
          continue;
        }
        if (ended) {
          await this.exited;
          // Assigned in the event handlers above, which control-flow analysis does not see.
          const error = failure as CameraError | null;
          if (error !== null && !this.closed) throw error;
          return;
        }
        await new Promise<void>((resolve) => (wake = resolve));
      }
    } finally {
      await this.close();
    }
  }
}
