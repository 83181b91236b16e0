// Typed errors of the validator peer-to-peer layer: why a handshake, frame, request or option was refused.
import { CarchainError, type CarchainErrorOptions } from '../../../protocol/errors.js';

export type NetErrorCode =
  | 'HANDSHAKE_FAILED' // malformed hello/auth, bad signature, decryption of the auth frame failed, peer hung up
  | 'HANDSHAKE_TIMEOUT' // the handshake did not finish in time
  | 'UNAUTHORISED' // authenticated, but `authorise(publicKey)` refused the key
  | 'BAD_FRAME' // a frame fails AES-GCM authentication (tampered, replayed, reordered) or its envelope is malformed
  | 'FRAME_TOO_LARGE' // a length prefix or an outgoing payload above the frame limit
  | 'WRONG_CHAIN' // the peer speaks for another chain id
  | 'SELF_CONNECTION' // we reached ourselves (own listen address, or a reflector)
  | 'DUPLICATE_PEER' // a second link to an already connected peer lost the tie-break
  | 'NONCE_EXHAUSTED' // a direction used up its frame counter; the link is closed before a nonce could repeat
  | 'NOT_CONNECTED' // send/request to a peer with no open link
  | 'REQUEST_TIMEOUT' // no response within the caller's timeout
  | 'REQUEST_FAILED' // the peer's request handler failed (its message is carried)
  | 'INVALID_OPTIONS' // a configuration value out of range (fault policy, limits)
  | 'CLOSED'; // the link or the network is closed

export class NetError extends CarchainError<NetErrorCode> {
  constructor(code: NetErrorCode, message: string, options: CarchainErrorOptions = {}) {
    super(code, message, options);
  }
}

export function isNetError(err: unknown, code?: NetErrorCode): err is NetError {
  return err instanceof NetError && (code === undefined || err.code === code);
}
