// The CAIT plate-reading pipeline: detect text boxes in a frame, cut them out, recognise them, keep those that are valid plates.
//
// One PlateReader holds both onnxruntime sessions for its lifetime (creating them takes seconds).
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
    const boxes = (await this.detector.detect(image)).slice(0, this.options.maxBoxes ?? 50);
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
