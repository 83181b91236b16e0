// Text detection with the PP-OCRv4 DBNet detector (onnxruntime-node): a coarse pass over the frame, then a fine pass around each candidate.
//
// Preprocessing is PaddleOCR's DetResizeForTest (limit_type "max": the longer side is scaled down to
// at most `limitSide`, each side rounded to a multiple of 32) and NormalizeImage (ImageNet mean/std
// on x/255, channels in OpenCV's BGR order). Plates fill a good part of a shop-entrance frame, so the
// coarse pass runs on a small input (default 448 × 256 for 720p/1080p: a fifth of the pixels of
// PaddleOCR's 960 × 544); its boxes are coarse (one map pixel is 3–4 frame pixels, and the blurrier
// map grows them over the plate's rim, which the recogniser then misreads as I, L or [), so `refine`
// runs the detector again on a window around one box at full resolution, a small fraction of a frame
// pass. Boxes are in the input frame's pixel coordinates.
import { type InferenceSession, Tensor } from 'onnxruntime-node';
import { CaitError } from './cait-errors.js';
import { dbPostprocess, type DbOptions, type Quad, type TextBox } from './db-postprocess.js';
import { defaultModelPaths, loadOcrSession } from './ocr-models.js';
import { checkRgbImage, resizeToPlanarBgr, type PixelRect, type RgbImage } from './rgb-image.js';

export interface DetectorOptions extends DbOptions {
  modelPath?: string;
  /** The frame's longer side is scaled down to this for the coarse pass (default DEFAULT_LIMIT_SIDE). */
  limitSide?: number;
  /** The refinement window's longer side is scaled down to this (default 640; windows are usually smaller and run 1:1). */
  refineLimitSide?: number;
  /** onnxruntime intra-op threads (default: the number of cores). */
  threads?: number;
  /** onnxruntime's CPU memory arena and memory patterns (default off: lower peak RSS). */
  memoryArena?: boolean;
  /** Idle onnxruntime threads busy-wait for work (default false; onnxruntime's own default is true, see ocr-models.ts). */
  spinning?: boolean;
}

/** Coarse-pass input limit: plates down to 9 % of the frame width were found at this size, 384 missed some (docs/cait.md). */
export const DEFAULT_LIMIT_SIDE = 448;
const DEFAULT_REFINE_LIMIT_SIDE = 640;

/** ImageNet mean and std in BGR order (PaddleOCR applies RGB-listed constants to BGR planes; so do we). */
const MEAN = [0.485, 0.456, 0.406] as const;
const STD = [0.229, 0.224, 0.225] as const;
const SCALE = [1 / (255 * STD[0]), 1 / (255 * STD[1]), 1 / (255 * STD[2])] as const;
const SHIFT = [MEAN[0] / STD[0], MEAN[1] / STD[1], MEAN[2] / STD[2]] as const;

/** DetResizeForTest with limit_type "max": the size fed to the detector. */
export function detectionInputSize(width: number, height: number, limitSide: number): { width: number; height: number } {
  const ratio = Math.max(width, height) > limitSide ? limitSide / Math.max(width, height) : 1;
  const round32 = (v: number) => Math.max(32, Math.round(v / 32) * 32);
  return { width: round32(width * ratio), height: round32(height * ratio) };
}

function checkLimit(name: string, v: number): number {
  if (!Number.isInteger(v) || v < 32 || v > 4096) throw new RangeError(`${name} ${v} must be an integer within 32…4096`);
  return v;
}

/**
 * The window the fine pass looks at: the box's bounds grown by 0.3 × its short side (context for the
 * detector; the coarse box already covers the text with room to spare), clamped to the frame.
 * A margin of 0.6 was measured too: larger windows, no better boxes.
 */
export function refineWindow(quad: Quad, frameWidth: number, frameHeight: number): PixelRect {
  const xs = quad.map((p) => p.x);
  const ys = quad.map((p) => p.y);
  const side = (a: number, b: number) => Math.hypot(quad[a]!.x - quad[b]!.x, quad[a]!.y - quad[b]!.y);
  const short = Math.min(side(0, 3), side(1, 2), side(0, 1), side(2, 3));
  const margin = Math.max(8, Math.round(0.3 * short));
  const x0 = Math.max(0, Math.floor(Math.min(...xs)) - margin);
  const y0 = Math.max(0, Math.floor(Math.min(...ys)) - margin);
  const x1 = Math.min(frameWidth, Math.ceil(Math.max(...xs)) + margin);
  const y1 = Math.min(frameHeight, Math.ceil(Math.max(...ys)) + margin);
  return { x: x0, y: y0, width: Math.max(1, x1 - x0), height: Math.max(1, y1 - y0) };
}

function bounds(quad: Quad): { x0: number; y0: number; x1: number; y1: number } {
  const xs = quad.map((p) => p.x);
  const ys = quad.map((p) => p.y);
  return { x0: Math.min(...xs), y0: Math.min(...ys), x1: Math.max(...xs), y1: Math.max(...ys) };
}

/** Intersection over union of two quads' axis-aligned bounds. */
export function quadIou(a: Quad, b: Quad): number {
  const p = bounds(a);
  const q = bounds(b);
  const inter = Math.max(0, Math.min(p.x1, q.x1) - Math.max(p.x0, q.x0)) * Math.max(0, Math.min(p.y1, q.y1) - Math.max(p.y0, q.y0));
  const union = (p.x1 - p.x0) * (p.y1 - p.y0) + (q.x1 - q.x0) * (q.y1 - q.y0) - inter;
  return union > 0 ? inter / union : 0;
}

export class PlateDetector {
  private closed = false;
  /** Input tensor storage reused between runs (grown when a larger input comes). */
  private buffer = new Float32Array(0);

  private constructor(
    private readonly session: InferenceSession,
    private readonly options: DetectorOptions,
    private readonly limitSide: number,
    private readonly refineLimitSide: number,
  ) {}

  static async create(options: DetectorOptions = {}): Promise<PlateDetector> {
    const modelPath = options.modelPath ?? defaultModelPaths().detection;
    const limit = checkLimit('limitSide', options.limitSide ?? DEFAULT_LIMIT_SIDE);
    const refineLimit = checkLimit('refineLimitSide', options.refineLimitSide ?? DEFAULT_REFINE_LIMIT_SIDE);
    const session = await loadOcrSession(modelPath, 'detection', options);
    return new PlateDetector(session, options, limit, refineLimit);
  }

  /** Coarse pass: text boxes over the whole frame, in its pixel coordinates, highest score first. */
  async detect(image: RgbImage): Promise<TextBox[]> {
    this.checkOpen();
    checkRgbImage(image, 'frame');
    return this.run(image, { x: 0, y: 0, width: image.width, height: image.height }, this.limitSide);
  }

  /**
   * Fine pass around one coarse box: the detector on a full-resolution window. Returns the window's
   * box that overlaps the coarse one most (IoU ≥ 0.5), or the coarse box when there is none (the fine
   * pass split or lost the text: the coarse box is still the better guess).
   */
  async refine(image: RgbImage, box: TextBox): Promise<TextBox> {
    this.checkOpen();
    checkRgbImage(image, 'frame');
    const found = await this.run(image, refineWindow(box.quad, image.width, image.height), this.refineLimitSide);
    let best: TextBox = box;
    let bestIou = 0.5;
    for (const b of found) {
      const iou = quadIou(b.quad, box.quad);
      if (iou >= bestIou) {
        best = b;
        bestIou = iou;
      }
    }
    return best;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.session.release();
  }

  private checkOpen(): void {
    if (this.closed) throw new CaitError('READER_CLOSED', 'detector is closed');
  }

  private async run(image: RgbImage, region: PixelRect, limitSide: number): Promise<TextBox[]> {
    const size = detectionInputSize(region.width, region.height, limitSide);
    const length = 3 * size.width * size.height;
    if (this.buffer.length < length) this.buffer = new Float32Array(length);
    // Every element of the view is written below, so the reused storage needs no clearing.
    const input = this.buffer.subarray(0, length);
    resizeToPlanarBgr(image, size.width, size.height, input, 0, size.width, SCALE, SHIFT, region);
    let result: InferenceSession.OnnxValueMapType;
    try {
      result = await this.session.run({ [this.session.inputNames[0]!]: new Tensor('float32', input, [1, 3, size.height, size.width]) });
    } catch (err) {
      throw new CaitError('INFERENCE_FAILED', `detection failed: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
    const out = result[this.session.outputNames[0]!];
    if (out === undefined || out.dims.length !== 4 || !(out.data instanceof Float32Array)) {
      throw new CaitError('MODEL_INVALID', `detection output has shape [${out?.dims.join(',') ?? ''}], expected [1,1,H,W]`);
    }
    const mapHeight = out.dims[2]!;
    const mapWidth = out.dims[3]!;
    const boxes = dbPostprocess({ data: out.data, width: mapWidth, height: mapHeight }, this.options);
    out.dispose();
    const sx = region.width / mapWidth;
    const sy = region.height / mapHeight;
    const clampX = (v: number) => Math.min(Math.max(Math.round(region.x + v * sx), 0), image.width);
    const clampY = (v: number) => Math.min(Math.max(Math.round(region.y + v * sy), 0), image.height);
    return boxes.map((b) => ({ score: b.score, quad: b.quad.map((p) => ({ x: clampX(p.x), y: clampY(p.y) })) as Quad }));
  }
}
