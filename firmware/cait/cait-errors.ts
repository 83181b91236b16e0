// Typed errors of the CAIT plate reader: models that cannot be found or loaded, images it cannot use, inference failures.
import { CarchainError, type CarchainErrorOptions } from '../../protocol/errors.js';

export type CaitErrorCode =
  | 'MODEL_NOT_FOUND' // a model or dictionary file is missing (package not installed, wrong path)
  | 'MODEL_INVALID' // a model loaded but its inputs/outputs are not the expected PP-OCR shapes
  | 'DICTIONARY_INVALID' // the dictionary does not match the recogniser's class count
  | 'IMAGE_INVALID' // an image has zero size, a buffer of the wrong length, or too few channels
  | 'INFERENCE_FAILED' // onnxruntime raised while running a model
  | 'RULES_INVALID' // a plate format definition is malformed
  | 'READER_CLOSED'; // the reader's sessions were released

export class CaitError extends CarchainError<CaitErrorCode> {
  constructor(code: CaitErrorCode, message: string, options: CarchainErrorOptions = {}) {
    super(code, message, options);
  }
}
