// Text detection with the PP-OCRv4 DBNet detector (onnxruntime-node): PaddleOCR preprocessing, inference, DB post-processing.
//
// Preprocessing is PaddleOCR's DetResizeForTest (limit_type "max", limit_side_len 960: the longer
// side is scaled down to at most 960, each side rounded to a multiple of 32) and NormalizeImage
// (ImageNet mean/std on x/255, channels in OpenCV's BGR order). Boxes are mapped back to the input
// frame's pixel coordinates.
import { type InferenceSession, Tensor } from 'onnxruntime-node';
import { CaitError } from './cait-errors.js';
import { dbPostprocess, type DbOptions, type Quad, type TextBox } from './db-postprocess.js';
import { defaultModelPaths, loadOcrSession } from './ocr-models.js';
import { checkRgbImage, resizeToPlanarBgr, type RgbImage } from './rgb-image.js';

export interface DetectorOptions extends DbOptions {
  modelPath?: string;
  /** The longer side is scaled down to this (default 960). */
  limitSide?: number;
  /** onnxruntime intra-op threads (default: the number of cores). */
  threads?: number;
  /** onnxruntime's CPU memory arena and memory patterns (default off: lower peak RSS). */
  memoryArena?: boolean;
}

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

export class PlateDetector {
  private closed = false;

  private constructor(
    private readonly session: InferenceSession,
    private readonly options: DetectorOptions,
  ) {}

  static async create(options: DetectorOptions = {}): Promise<PlateDetector> {
    const modelPath = options.modelPath ?? defaultModelPaths().detection;
    const limit = options.limitSide ?? 960;
    if (!Number.isInteger(limit) || limit < 32 || limit > 4096) throw new RangeError(`limitSide ${limit} must be an integer within 32…4096`);
    const session = await loadOcrSession(modelPath, 'detection', options);
    return new PlateDetector(session, options);
  }

  /** Text boxes in the image's pixel coordinates, highest score first. */
  async detect(image: RgbImage): Promise<TextBox[]> {
    if (this.closed) throw new CaitError('READER_CLOSED', 'detector is closed');
    checkRgbImage(image, 'frame');
    const size = detectionInputSize(image.width, image.height, this.options.limitSide ?? 960);
    const input = new Float32Array(3 * size.width * size.height);
    resizeToPlanarBgr(image, size.width, size.height, input, 0, size.width, SCALE, SHIFT);
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
    const sx = image.width / mapWidth;
    const sy = image.height / mapHeight;
    const clampX = (v: number) => Math.min(Math.max(Math.round(v * sx), 0), image.width);
    const clampY = (v: number) => Math.min(Math.max(Math.round(v * sy), 0), image.height);
    return boxes.map((b) => ({ score: b.score, quad: b.quad.map((p) => ({ x: clampX(p.x), y: clampY(p.y) })) as Quad }));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.session.release();
  }
}
