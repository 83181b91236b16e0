// Signed pairing statements: DeviceSetup (vehicle ↔ device key ↔ owner, signed by both) and DeviceReset (by the owner).
//
// These are the payloads of the chain's DeviceSetup / DeviceReset transactions; the dongle checks the
// owner's signature locally before it accepts a setup or wipes itself on a reset.
import { p2pkhAddress } from './address.js';
import { ProtocolError } from './errors.js';
import { sha256 } from './hash.js';
import { DOMAIN, SIGNATURE_LENGTH, assertPublicKey, sign, verify } from './signature.js';
import { ByteReader, ByteWriter, expectVersion, utf8 } from './wire.js';

export const DEVICE_STATEMENT_VERSION = 1;
const MAX_AGENT_CHARS = 256;

/** On the chain only a hash of the VID appears (ARCHITECTURE: vehicles are identified by H(VID)). */
export function vehicleIdHash(vid: string): Uint8Array {
  if (!/^[A-HJ-NPR-Z0-9]{11,17}$/.test(vid)) throw new ProtocolError('DECODE_INVALID', `VID ${JSON.stringify(vid)} is not a VIN`);
  return sha256(utf8(`carchain/v1/vid:${vid}`));
}

export interface DeviceSetupStatement {
  vidHash: Uint8Array;
  devicePublicKey: Uint8Array;
  ownerPublicKey: Uint8Array;
  /** SHA-256 of the owner's RSA public key (SPKI DER) the dongle will seal to. */
  rsaFingerprint: Uint8Array;
  /** The gateway that submits the transaction ("agent" in the API sketch). */
  agent: string;
  /** ms since the epoch; with the device's nonce it makes the statement single-use. */
  time: number;
  nonce: Uint8Array;
}

export interface SignedDeviceSetup {
  statement: DeviceSetupStatement;
  ownerSignature: Uint8Array;
  deviceSignature: Uint8Array;
}

export function encodeDeviceSetupStatement(s: DeviceSetupStatement): Uint8Array {
  assertPublicKey(s.devicePublicKey);
  assertPublicKey(s.ownerPublicKey);
  return new ByteWriter()
    .u8(DEVICE_STATEMENT_VERSION)
    .fixed(s.vidHash, 32)
    .fixed(s.devicePublicKey, 33)
    .fixed(s.ownerPublicKey, 33)
    .fixed(s.rsaFingerprint, 32)
    .string(s.agent)
    .u64(s.time)
    .fixed(s.nonce, 16)
    .finish();
}

export function decodeDeviceSetupStatement(bytes: Uint8Array): DeviceSetupStatement {
  const r = new ByteReader(bytes, 'device setup');
  expectVersion(r, DEVICE_STATEMENT_VERSION, 'device setup');
  const s: DeviceSetupStatement = {
    vidHash: Uint8Array.from(r.take(32)),
    devicePublicKey: Uint8Array.from(r.take(33)),
    ownerPublicKey: Uint8Array.from(r.take(33)),
    rsaFingerprint: Uint8Array.from(r.take(32)),
    agent: r.string(MAX_AGENT_CHARS, 'agent'),
    time: r.u64Number('time'),
    nonce: Uint8Array.from(r.take(16)),
  };
  r.end();
  return s;
}

export function signDeviceSetup(statement: DeviceSetupStatement, privateKey: Uint8Array): Uint8Array {
  return sign(DOMAIN.deviceSetup, encodeDeviceSetupStatement(statement), privateKey);
}

/** Both signatures over the same statement; the owner's address is the P2PKH of its key. */
export function verifyDeviceSetup(setup: SignedDeviceSetup): { ownerAddress: string } {
  const bytes = encodeDeviceSetupStatement(setup.statement);
  verify(DOMAIN.deviceSetup, bytes, setup.ownerSignature, setup.statement.ownerPublicKey);
  verify(DOMAIN.deviceSetup, bytes, setup.deviceSignature, setup.statement.devicePublicKey);
  return { ownerAddress: p2pkhAddress(setup.statement.ownerPublicKey) };
}

export interface DeviceResetStatement {
  devicePublicKey: Uint8Array;
  ownerPublicKey: Uint8Array;
  time: number;
  nonce: Uint8Array;
}

export function encodeDeviceResetStatement(s: DeviceResetStatement): Uint8Array {
  assertPublicKey(s.devicePublicKey);
  assertPublicKey(s.ownerPublicKey);
  return new ByteWriter()
    .u8(DEVICE_STATEMENT_VERSION)
    .fixed(s.devicePublicKey, 33)
    .fixed(s.ownerPublicKey, 33)
    .u64(s.time)
    .fixed(s.nonce, 16)
    .finish();
}

export function decodeDeviceResetStatement(bytes: Uint8Array): DeviceResetStatement {
  const r = new ByteReader(bytes, 'device reset');
  expectVersion(r, DEVICE_STATEMENT_VERSION, 'device reset');
  const s: DeviceResetStatement = {
    devicePublicKey: Uint8Array.from(r.take(33)),
    ownerPublicKey: Uint8Array.from(r.take(33)),
    time: r.u64Number('time'),
    nonce: Uint8Array.from(r.take(16)),
  };
  r.end();
  return s;
}

export function signDeviceReset(statement: DeviceResetStatement, ownerPrivateKey: Uint8Array): Uint8Array {
  return sign(DOMAIN.deviceReset, encodeDeviceResetStatement(statement), ownerPrivateKey);
}

export function verifyDeviceReset(statement: DeviceResetStatement, signature: Uint8Array): void {
  if (signature.length !== SIGNATURE_LENGTH) throw new ProtocolError('SIGNATURE_MALFORMED', 'reset signature must be 64 bytes');
  verify(DOMAIN.deviceReset, encodeDeviceResetStatement(statement), signature, statement.ownerPublicKey);
}
