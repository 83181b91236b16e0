// The secret-connection handshake as pure functions: hello bytes, key schedule, auth message, challenge signature.
//
// Kept free of sockets so tests (and a man-in-the-middle test proxy) can run each step by hand and
// so the key schedule can be checked against an independent implementation. The message sequence
// and the reasons behind each step are in docs/chain-network.md.
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { hkdf } from '@noble/hashes/hkdf.js';
import { sha256 as nobleSha256 } from '@noble/hashes/sha2.js';
import { MAX_CHAIN_ID_LENGTH } from '../consensus/messages.js';
import { ProtocolError } from '../../../protocol/errors.js';
import { sha256 } from '../../../protocol/hash.js';
import { assertPublicKey, DOMAIN, isValidSignature, PUBLIC_KEY_LENGTH, sign, SIGNATURE_LENGTH } from '../../../protocol/signature.js';
import { ByteReader, ByteWriter, compareBytes, concatBytes, equalBytes, utf8 } from '../../../protocol/wire.js';
import { NetError } from './errors.js';

export const HANDSHAKE_VERSION = 1;
export const HANDSHAKE_RANDOM_LENGTH = 32;
/** version u8 ‖ ephemeral compressed public key ‖ random. */
export const HELLO_LENGTH = 1 + PUBLIC_KEY_LENGTH + HANDSHAKE_RANDOM_LENGTH;
export const SESSION_KEY_LENGTH = 32;
export const CHALLENGE_LENGTH = 32;
/** HKDF `info`: names the purpose, so these keys can never coincide with keys derived for anything else. */
export const KEY_SCHEDULE_INFO = 'carchain/v1/chain-peer-secret-connection';

export interface Hello {
  ephemeralPublicKey: Uint8Array;
  random: Uint8Array;
}

export interface EphemeralKeyPair {
  privateKey: Uint8Array;
  publicKey: Uint8Array;
}

export interface SessionKeys {
  /** Key for frames this side sends. */
  sendKey: Uint8Array;
  /** Key for frames this side receives. */
  receiveKey: Uint8Array;
  /** Both sides sign this (‖ chain id): it binds the long-term key to this very key exchange. */
  challenge: Uint8Array;
  transcriptHash: Uint8Array;
}

export interface AuthMessage {
  chainId: string;
  publicKey: Uint8Array;
  signature: Uint8Array;
}

/** A fresh ephemeral key for one handshake; never stored, never reused. */
export function generateEphemeral(): EphemeralKeyPair {
  const privateKey = secp256k1.utils.randomSecretKey();
  return { privateKey, publicKey: secp256k1.getPublicKey(privateKey, true) };
}

export function encodeHello(hello: Hello): Uint8Array {
  return new ByteWriter()
    .u8(HANDSHAKE_VERSION)
    .fixed(hello.ephemeralPublicKey, PUBLIC_KEY_LENGTH)
    .fixed(hello.random, HANDSHAKE_RANDOM_LENGTH)
    .finish();
}

/** HANDSHAKE_FAILED unless exactly HELLO_LENGTH bytes with our version and a valid curve point. */
export function decodeHello(bytes: Uint8Array): Hello {
  if (bytes.length !== HELLO_LENGTH) throw new NetError('HANDSHAKE_FAILED', `hello is ${bytes.length} bytes, expected ${HELLO_LENGTH}`);
  const reader = new ByteReader(bytes, 'hello');
  const version = reader.u8();
  if (version !== HANDSHAKE_VERSION) {
    throw new NetError('HANDSHAKE_FAILED', `hello version ${version}, this implementation speaks ${HANDSHAKE_VERSION}`);
  }
  const ephemeralPublicKey = Uint8Array.from(reader.take(PUBLIC_KEY_LENGTH));
  const random = Uint8Array.from(reader.take(HANDSHAKE_RANDOM_LENGTH));
  try {
    assertPublicKey(ephemeralPublicKey);
  } catch (cause) {
    throw new NetError('HANDSHAKE_FAILED', 'hello ephemeral key is not a valid compressed secp256k1 point', { cause });
  }
  return { ephemeralPublicKey, random };
}

/**
 * ECDH: the x-coordinate of ours × theirs (the compressed form's prefix byte carries no secret).
 * Only 33-byte compressed points are accepted: an x either lies on secp256k1 or is refused, so
 * invalid-curve points cannot even be expressed. HANDSHAKE_FAILED otherwise.
 */
export function ephemeralSharedSecret(privateKey: Uint8Array, peerPublicKey: Uint8Array): Uint8Array {
  try {
    assertPublicKey(peerPublicKey);
    return secp256k1.getSharedSecret(privateKey, peerPublicKey, true).slice(1);
  } catch (cause) {
    throw new NetError('HANDSHAKE_FAILED', 'ECDH with the peer ephemeral failed', { cause });
  }
}

/**
 * Derives both directions' AES-256-GCM keys and the challenge. The two sides are ordered by their
 * ephemeral keys (not by who dialled), so a simultaneous open needs no extra round trip; equal
 * ephemerals mean we are talking to ourselves (or to a reflector) and are refused.
 */
export function deriveSessionKeys(ours: EphemeralKeyPair & { random: Uint8Array }, theirs: Hello): SessionKeys {
  const order = compareBytes(ours.publicKey, theirs.ephemeralPublicKey);
  if (order === 0) throw new NetError('SELF_CONNECTION', 'the peer sent our own ephemeral key back');
  const weAreLow = order < 0;
  const [low, high] = weAreLow
    ? [{ eph: ours.publicKey, random: ours.random }, { eph: theirs.ephemeralPublicKey, random: theirs.random }]
    : [{ eph: theirs.ephemeralPublicKey, random: theirs.random }, { eph: ours.publicKey, random: ours.random }];
  const transcriptHash = sha256(low.eph, high.eph, low.random, high.random);
  const shared = ephemeralSharedSecret(ours.privateKey, theirs.ephemeralPublicKey);
  const okm = hkdf(nobleSha256, shared, transcriptHash, utf8(KEY_SCHEDULE_INFO), 2 * SESSION_KEY_LENGTH + CHALLENGE_LENGTH);
  const lowToHigh = okm.slice(0, SESSION_KEY_LENGTH);
  const highToLow = okm.slice(SESSION_KEY_LENGTH, 2 * SESSION_KEY_LENGTH);
  const challenge = okm.slice(2 * SESSION_KEY_LENGTH);
  return {
    sendKey: weAreLow ? lowToHigh : highToLow,
    receiveKey: weAreLow ? highToLow : lowToHigh,
    challenge,
    transcriptHash,
  };
}

/** The bytes a peer signs under DOMAIN.chainPeer: challenge ‖ UTF-8 chain id. */
export function challengeMessage(challenge: Uint8Array, chainId: string): Uint8Array {
  return concatBytes(challenge, utf8(chainId));
}

export function signChallenge(challenge: Uint8Array, chainId: string, privateKey: Uint8Array): Uint8Array {
  return sign(DOMAIN.chainPeer, challengeMessage(challenge, chainId), privateKey);
}

export function encodeAuth(auth: AuthMessage): Uint8Array {
  return new ByteWriter()
    .u8(HANDSHAKE_VERSION)
    .string(auth.chainId)
    .fixed(auth.publicKey, PUBLIC_KEY_LENGTH)
    .fixed(auth.signature, SIGNATURE_LENGTH)
    .finish();
}

/** HANDSHAKE_FAILED on any malformed auth plaintext (it has already passed AES-GCM, so this is a buggy or hostile peer). */
export function decodeAuth(bytes: Uint8Array): AuthMessage {
  try {
    const reader = new ByteReader(bytes, 'auth message');
    const version = reader.u8();
    if (version !== HANDSHAKE_VERSION) throw new NetError('HANDSHAKE_FAILED', `auth version ${version}`);
    const chainId = reader.string(MAX_CHAIN_ID_LENGTH, 'chain id');
    const publicKey = Uint8Array.from(reader.take(PUBLIC_KEY_LENGTH));
    const signature = Uint8Array.from(reader.take(SIGNATURE_LENGTH));
    reader.end();
    assertPublicKey(publicKey);
    return { chainId, publicKey, signature };
  } catch (err) {
    if (err instanceof NetError) throw err;
    if (err instanceof ProtocolError) throw new NetError('HANDSHAKE_FAILED', `auth message: ${err.message}`, { cause: err });
    throw err;
  }
}

/**
 * Checks a received auth message in the order that gives the most useful error: chain id
 * (WRONG_CHAIN), signature over our challenge (HANDSHAKE_FAILED: wrong key, or a relay in the
 * middle that could not make the two challenges equal), our own key (SELF_CONNECTION).
 * Authorisation is the caller's next step.
 */
export function verifyAuth(auth: AuthMessage, challenge: Uint8Array, chainId: string, ownPublicKey: Uint8Array): void {
  if (auth.chainId !== chainId) {
    throw new NetError('WRONG_CHAIN', `peer is on chain ${JSON.stringify(auth.chainId)}, we are on ${JSON.stringify(chainId)}`);
  }
  if (!isValidSignature(DOMAIN.chainPeer, challengeMessage(challenge, chainId), auth.signature, auth.publicKey)) {
    throw new NetError('HANDSHAKE_FAILED', 'peer signature over the handshake challenge does not verify');
  }
  if (equalBytes(auth.publicKey, ownPublicKey)) throw new NetError('SELF_CONNECTION', 'the peer is ourselves');
}
