// Transcript hashes of the lock handshake and the exact messages the two signatures cover.
//
// th1 = taggedHash(T1, HELLO ‖ CHALLENGE-without-signature) — what the lock signs, the auth-key salt;
// th2 = taggedHash(T2, th1 ‖ AUTH frame) — the session-key salt, so the command keys also depend
// on the phone's (encrypted) identity. Both signatures use DOMAIN.lockHandshake and a role label,
// so a lock's signature can never stand in for a phone's (reflection) or for any chain message.
import { taggedHash } from '../hash.js';
import { concatBytes, utf8 } from '../wire.js';

const TRANSCRIPT_1 = 'carchain/v1/lock/transcript-1';
const TRANSCRIPT_2 = 'carchain/v1/lock/transcript-2';
const CHALLENGE_LABEL = utf8('carchain/v1/lock/challenge-by-lock');
const AUTH_LABEL = utf8('carchain/v1/lock/auth-by-key-holder');

export function transcriptAfterChallenge(helloFrame: Uint8Array, challengeBody: Uint8Array): Uint8Array {
  return taggedHash(TRANSCRIPT_1, helloFrame, challengeBody);
}

export function transcriptAfterAuth(th1: Uint8Array, authFrame: Uint8Array): Uint8Array {
  return taggedHash(TRANSCRIPT_2, th1, authFrame);
}

/** What the lock signs (under DOMAIN.lockHandshake) in CHALLENGE. */
export function challengeSignedMessage(th1: Uint8Array): Uint8Array {
  return concatBytes(CHALLENGE_LABEL, th1);
}

/** What the owner or delegate signs (under DOMAIN.lockHandshake) inside AUTH. */
export function authSignedMessage(th1: Uint8Array): Uint8Array {
  return concatBytes(AUTH_LABEL, th1);
}
