// Errors of the gateway query API: one closed set of stable codes, each with its HTTP status, and the mapping from lower layers.
//
// Clients branch on `error.code`, never on messages. Validation failures of fastify's JSON schemas are
// mapped to the code of the field that failed (api-schemas.ts), so a bad limit is BAD_LIMIT whether the
// schema or the handler noticed it.
import { CarchainError, type CarchainErrorOptions } from '../../protocol/errors.js';
import { KvError } from '../kv/kv-store.js';

export const API_ERROR_STATUS = {
  BAD_ADDRESS: 400, // not a base58 P2PKH pool address
  BAD_KEY: 400, // not lowercase hex of 1..1024 bytes
  BAD_RANGE: 400, // start/end not hex, too long, or start > end
  BAD_LIMIT: 400, // not an integer in 1..1000
  BAD_CURSOR: 400, // not a cursor this range issued
  BAD_RECORD_ID: 400, // not 32 bytes of lowercase hex
  BAD_BATCH_ID: 400, // not a positive integer
  BAD_GRANT_ID: 400, // not 32 bytes of lowercase hex
  BAD_BODY: 400, // a request body that does not match its schema
  BAD_REQUEST: 400, // any other malformed request (unknown query shape, bad JSON)
  FORMAT_UNKNOWN: 400, // a format name the dictionary does not hold
  NOT_FOUND: 404, // no such record / batch / route
  CONFLICT: 409, // a different value is already stored under that id
  PAYLOAD_TOO_LARGE: 413,
  GRANT_REFUSED: 403, // the chain says the grant does not cover these records
  KV_UNAVAILABLE: 503, // the KV backend is down or busy: retry later
  CHAIN_UNAVAILABLE: 503, // grant authorisation needs the chain, which is not reachable (or not wired yet)
  INTERNAL: 500,
} as const;

export type ApiErrorCode = keyof typeof API_ERROR_STATUS;

export class ApiError extends CarchainError<ApiErrorCode> {
  constructor(code: ApiErrorCode, message: string, options: CarchainErrorOptions = {}) {
    super(code, message, { ...options, temporary: options.temporary ?? API_ERROR_STATUS[code] === 503 });
  }

  get status(): number {
    return API_ERROR_STATUS[this.code];
  }
}

export interface ErrorBody {
  error: { code: ApiErrorCode; message: string; temporary?: true };
}

export function errorBody(err: ApiError): ErrorBody {
  return { error: { code: err.code, message: err.message, ...(err.temporary ? { temporary: true as const } : {}) } };
}

/** Maps whatever a handler threw onto an ApiError; unknown errors become INTERNAL (and are logged by the caller). */
export function toApiError(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  if (err instanceof KvError) {
    switch (err.code) {
      case 'KV_BAD_CURSOR':
        return new ApiError('BAD_CURSOR', err.message, { cause: err });
      case 'KV_BAD_RANGE':
        return new ApiError('BAD_RANGE', err.message, { cause: err });
      case 'KV_BAD_ENTRY':
        return new ApiError('BAD_REQUEST', err.message, { cause: err });
      case 'KV_UNAVAILABLE':
      case 'KV_REPLICATION_TIMEOUT':
      case 'KV_CLOSED':
        // A closed store is a gateway shutting down: as unavailable as a dead backend, to the client.
        return new ApiError('KV_UNAVAILABLE', err.message, { cause: err, temporary: true, mayHaveSucceeded: err.mayHaveSucceeded });
      default:
        return new ApiError(err.temporary ? 'KV_UNAVAILABLE' : 'INTERNAL', err.message, { cause: err, temporary: err.temporary });
    }
  }
  const status = typeof err === 'object' && err !== null && 'statusCode' in err ? Number(err.statusCode) : 0;
  const message = err instanceof Error ? err.message : String(err);
  // fastify's own 4xx (unparseable JSON, wrong content type, body too large).
  if (status === 413) return new ApiError('PAYLOAD_TOO_LARGE', message, { cause: err });
  if (status >= 400 && status < 500) return new ApiError('BAD_REQUEST', message, { cause: err });
  return new ApiError('INTERNAL', message, { cause: err });
}
