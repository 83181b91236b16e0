// The CAIT plate-reading pipeline: detect text boxes in a frame, cut them out, recognise them, keep those that are valid plates.
//
// One PlateReader holds both onnxruntime sessions for its lifetime (creating them takes seconds).
// Per frame: a coarse detection pass over the whole frame; boxes whose shape cannot hold a
// single-line plate are dropped before any further work; the rest are refined at full resolution
// (plate-detector.ts), cut out of the full-resolution frame and recognised in one batch.
// What happens to a read is the caller's business: a SightingSink (privacy filter, recorder) is
// plugged in downstream of the SightingTracker (sighting-tracker.ts), never inside the reader.
import type { Quad } from './db-postprocess.js';
import { PlateDetector, type DetectorOptions } from './plate-detector.js';
import { PlateRecognizer, type PlateReadingOptions, type RecognizerOptions } from './plate-recognizer.js';
import type { PlateRejectReason } from './plate-rules.js';
import { perspectiveCrop } from './perspective-crop.js';
import type { RgbImage } from './rgb-image.js';

export interface BoundingBox {
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface PlateCandidate {
  /** Normalised plate text (separators stripped, folded). */
  text: string;
  /** Mean per-character confidence. */
  confidence: number;
  minCharConfidence: number;
  format: string;
  region: string;
  /** The detected box corners (TL, TR, BR, BL) in frame pixels. */
  quad: Quad;
  box: BoundingBox;
  detectionScore: number;
  /** The recogniser's unconstrained text, separators included. */
  raw: string;
  decoding: 'greedy' | 'constrained';
}

export interface RejectedText {
  raw: string;
  reason: PlateRejectReason;
  box: BoundingBox;
}

export interface FrameReading {
  plates: PlateCandidate[];
  /** Text boxes that were read but are not plates (kept for diagnostics; never persisted). */
  rejected: RejectedText[];
  timings: { detectMs: number; recognizeMs: number };
}

export interface PlateReaderOptions {
  detector?: DetectorOptions;
  recognizer?: RecognizerOptions;
  rules?: PlateReadingOptions;
  /** At most this many detected boxes are recognised per frame, best scores first (default 50). */
  maxBoxes?: number;
  /** Run the detector's fine pass around each plate-shaped box (default true). */
  refine?: boolean;
  /**
   * Width ÷ height range of a detected box that can hold a single-line plate (default [1.5, 10]):
   * a plate is 440 × 140 mm (3.1), its boxes measure 2.4–4 with the unclip margin and perspective;
   * boxes outside the range are not recognised (single characters, long sign lines, vertical text).
   */
  plateAspect?: readonly [number, number];
}

export const DEFAULT_PLATE_ASPECT: readonly [number, number] = [1.5, 10];

/** Width ÷ height of a box as perspectiveCrop would cut it. */
export function quadAspect(quad: Quad): number {
  const d = (a: Quad[number], b: Quad[number]) => Math.hypot(a.x - b.x, a.y - b.y);
  const [tl, tr, br, bl] = quad;
  const height = Math.max(d(tl, bl), d(tr, br));
  return height > 0 ? Math.max(d(tl, tr), d(bl, br)) / height : Infinity;
}

export function boundingBox(quad: Quad): BoundingBox {
  const xs = quad.map((p) => p.x);
  const ys = quad.map((p) => p.y);
  const x = Math.min(...xs);
  const y = Math.min(...ys);
  return { x, y, width: Math.max(...xs) - x, height: Math.max(...ys) - y };
}

export class PlateReader {
  private constructor(
    readonly detector: PlateDetector,
    readonly recognizer: PlateRecognizer,
    private readonly options: PlateReaderOptions,
  ) {}

  static async create(options: PlateReaderOptions = {}): Promise<PlateReader> {
    const detector = await PlateDetector.create(options.detector);
    try {
      const recognizer = await PlateRecognizer.create(options.recognizer);
      return new PlateReader(detector, recognizer, options);
    } catch (err) {
      await detector.close();
      throw err;
    }
  }

  async readFrame(image: RgbImage): Promise<FrameReading> {
    const t0 = performance.now();
    const [minAspect, maxAspect] = this.options.plateAspect ?? DEFAULT_PLATE_ASPECT;
    const plateShaped = (await this.detector.detect(image)).filter((b) => {
      const aspect = quadAspect(b.quad);
      return aspect >= minAspect && aspect <= maxAspect;
    });
    const boxes = plateShaped.slice(0, this.options.maxBoxes ?? 50);
    if (this.options.refine ?? true) {
      // One at a time: each run already uses every core.
      for (let i = 0; i < boxes.length; i++) boxes[i] = await this.detector.refine(image, boxes[i]!);
    }
    const t1 = performance.now();
    const crops = boxes.map((b) => perspectiveCrop(image, b.quad));
    const recognitions = await this.recognizer.recognize(crops);
    const plates: PlateCandidate[] = [];
    const rejected: RejectedText[] = [];
    recognitions.forEach((rec, i) => {
      const box = boxes[i]!;
      const reading = this.recognizer.readPlate(rec, this.options.rules);
      const bbox = boundingBox(box.quad);
      if (reading.verdict.ok) {
        const v = reading.verdict;
        plates.push({
          text: v.plate,
          confidence: v.confidence,
          minCharConfidence: v.minCharConfidence,
          format: v.format,
          region: v.region,
          quad: box.quad,
          box: bbox,
          detectionScore: box.score,
          raw: reading.raw,
          decoding: reading.decoding,
        });
      } else {
        rejected.push({ raw: reading.raw, reason: reading.verdict.reason, box: bbox });
      }
    });
    const t2 = performance.now();
    return { plates: dedupe(plates), rejected, timings: { detectMs: t1 - t0, recognizeMs: t2 - t1 } };
  }

  async close(): Promise<void> {
    await this.detector.close();
    await this.recognizer.close();
  }
}

/** One candidate per plate text in a frame (overlapping boxes can read the same plate twice): the most confident wins. */
function dedupe(plates: PlateCandidate[]): PlateCandidate[] {
  const best = new Map<string, PlateCandidate>();
  for (const p of plates) {
    const seen = best.get(p.text);
    if (seen === undefined || p.confidence > seen.confidence) best.set(p.text, p);
  }
  return [...best.values()].sort((a, b) => b.confidence - a.confidence);
}
