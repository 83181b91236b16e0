// Text recognition with the PP-OCRv4 recogniser (onnxruntime-node): PaddleOCR preprocessing, batched inference, CTC decoding, plate rules.
//
// Preprocessing follows PaddleOCR's `resize_norm_img` for PP-OCRv4 (rec_image_shape 3×48×320): resize
// to height 48 keeping the aspect ratio, normalise (x/255 − 0.5)/0.5, zero-pad on the right to the
// batch width (at least 320). The models were trained on OpenCV's BGR channel order, so the tensor's
// channel 0 is blue. An optional margin of the crop's own edge colour can be added first.
import { type InferenceSession, Tensor } from 'onnxruntime-node';
import { CaitError } from './cait-errors.js';
import { ctcConstrainedDecode, ctcGreedyDecode, type CtcOutput, type DecodedChar, type DecodedText } from './ctc-decoder.js';
import { defaultModelPaths, loadCtcClasses, loadOcrSession } from './ocr-models.js';
import { CN_FORMATS, DEFAULT_GATE, checkPlate, stripSeparators, type ConfidenceGate, type PlateFormat, type PlateVerdict } from './plate-rules.js';
import { checkRgbImage, padImage, resizeToPlanarBgr, type RgbImage } from './rgb-image.js';

export const REC_HEIGHT = 48;
export const REC_MIN_WIDTH = 320;
/** Widest line accepted (PaddleOCR caps at 48 × the widest ratio in a batch; this bounds memory). */
export const REC_MAX_WIDTH = 3200;
const REC_SCALE = [1 / 127.5, 1 / 127.5, 1 / 127.5] as const;
const REC_SHIFT = [1, 1, 1] as const;

export interface RecognizerOptions {
  modelPath?: string;
  dictionaryPath?: string;
  /** onnxruntime intra-op threads (default: the number of cores). */
  threads?: number;
  /** onnxruntime's CPU memory arena and memory patterns (default off: lower peak RSS). */
  memoryArena?: boolean;
  /** Idle onnxruntime threads busy-wait for work (default false; onnxruntime's own default is true, see ocr-models.ts). */
  spinning?: boolean;
  /** Images per inference call (default 8). */
  batchSize?: number;
  /**
   * Margin of the crop's edge colour added around each crop, as a fraction of its height (default 0:
   * PaddleOCR's behaviour). Detected boxes already carry the unclip margin; a margin here made the
   * letter after the province character worse on scenes and changed nothing on tight dev crops.
   */
  margin?: number;
  /** Horizontal stretch applied before resizing (default 1): gives each character more CTC time steps. */
  stretch?: number;
  /** Narrowest batch tensor width (default REC_MIN_WIDTH): lines narrower than this are zero-padded to it. */
  minWidth?: number;
}

export interface Recognition extends DecodedText {
  /** The raw model output for this image, kept so it can be decoded again under constraints. */
  output: CtcOutput;
}

export interface PlateReading {
  verdict: PlateVerdict;
  /** The unconstrained (greedy) text, separators included. */
  raw: string;
  /** The characters the verdict was computed on. */
  chars: DecodedChar[];
  decoding: 'greedy' | 'constrained';
}

export interface PlateReadingOptions {
  formats?: readonly PlateFormat[];
  gate?: ConfidenceGate;
  /** Decode again constrained to each format's alphabet when the greedy text is not a valid plate (default true). */
  constrained?: boolean;
  /**
   * Only try constrained decoding when the greedy text already looks like a plate of some format
   * (length within one, most characters in the alphabet): stops arbitrary scene text being forced
   * into plate shape. Crops known to be plates can turn this off (default true).
   */
  requirePlausible?: boolean;
}

/** Mean over the R, G, B samples of the outermost pixel ring: the colour a margin should have. */
function edgeColour(image: RgbImage): [number, number, number] {
  const sum = [0, 0, 0];
  let n = 0;
  const add = (x: number, y: number) => {
    const o = (y * image.width + x) * 3;
    sum[0]! += image.data[o]!;
    sum[1]! += image.data[o + 1]!;
    sum[2]! += image.data[o + 2]!;
    n++;
  };
  for (let x = 0; x < image.width; x++) {
    add(x, 0);
    add(x, image.height - 1);
  }
  for (let y = 1; y < image.height - 1; y++) {
    add(0, y);
    add(image.width - 1, y);
  }
  return [Math.round(sum[0]! / n), Math.round(sum[1]! / n), Math.round(sum[2]! / n)];
}

export class PlateRecognizer {
  private closed = false;
  private readonly templates = new Map<PlateFormat, number[][] | null>();

  private constructor(
    private readonly session: InferenceSession,
    /** CTC class table: index 0 blank, dictionary, space. */
    readonly classes: readonly string[],
    private readonly batchSize: number,
    private readonly margin: number,
    private readonly stretch: number,
    private readonly minWidth: number,
  ) {}

  static async create(options: RecognizerOptions = {}): Promise<PlateRecognizer> {
    const defaults = options.modelPath === undefined || options.dictionaryPath === undefined ? defaultModelPaths() : undefined;
    const modelPath = options.modelPath ?? defaults!.recognition;
    const classes = loadCtcClasses(options.dictionaryPath ?? defaults!.dictionary);
    const batchSize = options.batchSize ?? 8;
    const margin = options.margin ?? 0;
    if (!Number.isInteger(batchSize) || batchSize < 1) throw new RangeError(`batchSize ${batchSize} must be a positive integer`);
    if (!(margin >= 0 && margin <= 2)) throw new RangeError(`margin ${margin} must be within 0…2`);
    if (options.stretch !== undefined && !(options.stretch >= 0.5 && options.stretch <= 4)) throw new RangeError(`stretch ${options.stretch} must be within 0.5…4`);
    const minWidth = options.minWidth ?? REC_MIN_WIDTH;
    if (!Number.isInteger(minWidth) || minWidth < 8 || minWidth > REC_MAX_WIDTH) throw new RangeError(`minWidth ${minWidth} must be an integer within 8…${REC_MAX_WIDTH}`);
    const session = await loadOcrSession(modelPath, 'recognition', options);
    return new PlateRecognizer(session, classes, batchSize, margin, options.stretch ?? 1, minWidth);
  }

  /** Recognises one text line per image. Images are batched; the result order matches the input. */
  async recognize(images: readonly RgbImage[]): Promise<Recognition[]> {
    if (this.closed) throw new CaitError('READER_CLOSED', 'recogniser is closed');
    images.forEach((img, i) => checkRgbImage(img, `crop ${i}`));
    // PaddleOCR sorts by aspect ratio so each batch pads little.
    const order = images.map((_, i) => i).sort((a, b) => images[a]!.width / images[a]!.height - images[b]!.width / images[b]!.height);
    const results: Recognition[] = new Array<Recognition>(images.length);
    for (let start = 0; start < order.length; start += this.batchSize) {
      const batch = order.slice(start, start + this.batchSize);
      const outputs = await this.runBatch(batch.map((i) => this.withMargin(images[i]!)));
      batch.forEach((i, j) => {
        const output = outputs[j]!;
        results[i] = { ...ctcGreedyDecode(output, this.classes), output };
      });
    }
    return results;
  }

  /** Recognition plus plate rules: greedy text first, then (if needed) decoding constrained to each format. */
  readPlate(recognition: Recognition, options: PlateReadingOptions = {}): PlateReading {
    const formats = options.formats ?? CN_FORMATS;
    const gate = options.gate ?? DEFAULT_GATE;
    const greedy = checkPlate(recognition.chars, formats, gate);
    const base = { raw: recognition.text };
    if (greedy.ok || options.constrained === false) return { ...base, verdict: greedy, chars: recognition.chars, decoding: 'greedy' };
    if ((options.requirePlausible ?? true) && !this.plausible(recognition.chars, formats)) {
      return { ...base, verdict: greedy, chars: recognition.chars, decoding: 'greedy' };
    }
    let best: { format: PlateFormat; chars: DecodedChar[]; logScore: number } | null = null;
    for (const format of formats) {
      const template = this.templateOf(format);
      if (template === null) continue;
      const decoded = ctcConstrainedDecode(recognition.output, this.classes, template);
      if (decoded !== null && (best === null || decoded.logScore > best.logScore)) best = { format, chars: decoded.chars, logScore: decoded.logScore };
    }
    if (best === null) return { ...base, verdict: greedy, chars: recognition.chars, decoding: 'greedy' };
    return { ...base, verdict: checkPlate(best.chars, [best.format], gate), chars: best.chars, decoding: 'constrained' };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.session.release();
  }

  private plausible(chars: readonly DecodedChar[], formats: readonly PlateFormat[]): boolean {
    const kept = stripSeparators(chars);
    return formats.some((f) => {
      if (f.positions === undefined || Math.abs(kept.length - f.positions.length) > 1) return false;
      const alphabet = new Set(f.positions.join(''));
      const inAlphabet = kept.filter((c) => alphabet.has(c.char) || c.char === 'O' || c.char === 'I').length;
      return inAlphabet >= f.positions.length - 2;
    });
  }

  /** The format's per-position alphabet as class indices (null: no positions, or a character the dictionary lacks). */
  private templateOf(format: PlateFormat): number[][] | null {
    const cached = this.templates.get(format);
    if (cached !== undefined) return cached;
    let template: number[][] | null = null;
    if (format.positions !== undefined) {
      const index = new Map(this.classes.map((c, i) => [c, i] as const));
      template = format.positions.map((chars) => Array.from(chars, (ch) => index.get(ch) ?? -1));
      if (template.some((set) => set.includes(-1) || set.length === 0)) template = null;
    }
    this.templates.set(format, template);
    return template;
  }

  private withMargin(image: RgbImage): RgbImage {
    if (this.margin === 0) return image;
    const pad = Math.round(image.height * this.margin);
    return pad === 0 ? image : padImage(image, pad, pad, edgeColour(image));
  }

  private async runBatch(images: readonly RgbImage[]): Promise<CtcOutput[]> {
    const widths = images.map((img) => Math.min(REC_MAX_WIDTH, Math.ceil((REC_HEIGHT * img.width * this.stretch) / img.height)));
    const batchWidth = Math.max(this.minWidth, ...widths);
    const plane = REC_HEIGHT * batchWidth;
    const input = new Float32Array(images.length * 3 * plane);
    images.forEach((img, b) => {
      // (v/255 − 0.5)/0.5 = v/127.5 − 1; the zero-filled rest of the row is PaddleOCR's padding.
      resizeToPlanarBgr(img, widths[b]!, REC_HEIGHT, input, b * 3 * plane, batchWidth, REC_SCALE, REC_SHIFT);
    });
    let result: InferenceSession.OnnxValueMapType;
    try {
      result = await this.session.run({ [this.session.inputNames[0]!]: new Tensor('float32', input, [images.length, 3, REC_HEIGHT, batchWidth]) });
    } catch (err) {
      throw new CaitError('INFERENCE_FAILED', `recognition failed: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
    const out = result[this.session.outputNames[0]!];
    if (out === undefined || out.dims.length !== 3 || out.dims[0] !== images.length || !(out.data instanceof Float32Array)) {
      throw new CaitError('MODEL_INVALID', `recognition output has shape [${out?.dims.join(',') ?? ''}], expected [${images.length},T,C]`);
    }
    const steps = out.dims[1]!;
    const classes = out.dims[2]!;
    if (classes !== this.classes.length) {
      throw new CaitError('DICTIONARY_INVALID', `model has ${classes} classes, dictionary gives ${this.classes.length}`);
    }
    const data = out.data;
    return images.map((_, b) => ({ probs: data.subarray(b * steps * classes, (b + 1) * steps * classes), steps, classes }));
  }
}
