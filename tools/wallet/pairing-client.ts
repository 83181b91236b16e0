// Wallet side of pairing a dongle over its local endpoint: setup, setDup (pool + authorisations) and reset.
import { randomBytes } from 'node:crypto';
import type { HDKey } from '../../protocol/hd-keys.js';
import { CarchainError } from '../../protocol/errors.js';
import {
  encodeDeviceSetupStatement, signDeviceReset, vehicleIdHash, verifyDeviceSetup, type SignedDeviceSetup,
} from '../../protocol/device-statements.js';
import { ownerIdentity, ownerRsaKeyPair, poolKeyPair, poolMaterialFor } from '../../protocol/owner-keys.js';
import { authorisePoolKey, encodePoolAuthorisation } from '../../protocol/pool-authorisation.js';
import { encodePoolMaterial } from '../../protocol/pools.js';
import { encodeRsaPublicKey, rsaKeyFingerprint } from '../../protocol/rsa.js';
import { DOMAIN, sign } from '../../protocol/signature.js';

export class PairingClientError extends CarchainError<string> {}

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const unhex = (h: string) => Uint8Array.from(Buffer.from(h, 'hex'));
const YEAR_MS = 365 * 86_400_000;

export interface PairOptions {
  url: string;
  /** `carchain-pair:v1:<deviceAddress>:<secret>` as shown by the dongle. */
  pairingCode: string;
  root: HDKey;
  vid: string;
  /** Which of this wallet's vehicles this is (selects the pool account). */
  vehicleIndex: number;
  poolSize: number;
  agent: string;
  now?: number;
  /** How long pool authorisations stay valid. */
  authorisationMs?: number;
}

async function call<T>(url: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch(`${url}${path}`, body === undefined ? {} : { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const json = (await res.json()) as T & { error?: { code: string; message: string } };
  if (!res.ok) throw new PairingClientError(json.error?.code ?? 'PAIRING_HTTP', json.error?.message ?? `HTTP ${res.status}`);
  return json;
}

export async function pairDongle(o: PairOptions): Promise<{ setup: SignedDeviceSetup; poolSize: number; authorised: number }> {
  const now = o.now ?? Date.now();
  const [scheme, version, deviceAddress, secret] = o.pairingCode.split(':');
  if (scheme !== 'carchain-pair' || version !== 'v1' || !deviceAddress || !secret) throw new PairingClientError('PAIRING_CODE_INVALID', 'not a carchain pairing code');
  // The RSA key costs a prime search (seconds on a busy machine): done before the first request, so
  // the dongle's HTTP server never sees an idle kept-alive connection time out between two steps.
  const identity = ownerIdentity(o.root);
  const rsa = ownerRsaKeyPair(o.root);
  const info = await call<{ deviceAddress: string; identityPublicKey: string }>(o.url, '/pairing');
  if (info.deviceAddress !== deviceAddress) throw new PairingClientError('PAIRING_WRONG_DEVICE', `endpoint is ${info.deviceAddress}, code is for ${deviceAddress}`);
  const statement = {
    vidHash: vehicleIdHash(o.vid),
    devicePublicKey: unhex(info.identityPublicKey),
    ownerPublicKey: identity.publicKey,
    rsaFingerprint: rsaKeyFingerprint(rsa.publicKey),
    agent: o.agent,
    time: now,
    nonce: Uint8Array.from(randomBytes(16)),
  };
  const ownerSignature = sign(DOMAIN.deviceSetup, encodeDeviceSetupStatement(statement), identity.privateKey);
  const answer = await call<{ deviceSignature: string }>(o.url, '/setup', {
    secret, vid: o.vid, ownerPublicKey: hex(identity.publicKey), rsaPublicKeySpki: hex(encodeRsaPublicKey(rsa.publicKey)),
    agent: o.agent, time: now, nonce: hex(statement.nonce), ownerSignature: hex(ownerSignature),
  });
  const setup: SignedDeviceSetup = { statement, ownerSignature, deviceSignature: unhex(answer.deviceSignature) };
  verifyDeviceSetup(setup); // the dongle really is the key it claims to be

  const { keys } = await call<{ keys: string[] }>(o.url, `/pool-keys?count=${o.poolSize}`);
  const material = encodePoolMaterial(poolMaterialFor(o.root, o.vehicleIndex, o.poolSize));
  const authorisations: Record<string, string> = {};
  keys.forEach((key, i) => {
    const auth = authorisePoolKey(poolKeyPair(o.root, o.vehicleIndex, i).privateKey, {
      devicePublicKey: unhex(key), notBefore: now - 86_400_000, notAfter: now + (o.authorisationMs ?? 2 * YEAR_MS),
    });
    authorisations[String(i)] = hex(encodePoolAuthorisation(auth));
  });
  const dup = await call<{ poolSize: number; authorised: number }>(o.url, '/setdup', {
    material: hex(material), authorisations, ownerSignature: hex(sign(DOMAIN.poolMaterial, material, identity.privateKey)),
  });
  return { setup, ...dup };
}

export async function resetDongle(url: string, root: HDKey, now = Date.now()): Promise<{ resetAt: number }> {
  const info = await call<{ identityPublicKey: string }>(url, '/pairing');
  const identity = ownerIdentity(root);
  const statement = { devicePublicKey: unhex(info.identityPublicKey), ownerPublicKey: identity.publicKey, time: now, nonce: Uint8Array.from(randomBytes(16)) };
  return call(url, '/reset', { ownerPublicKey: hex(identity.publicKey), time: now, nonce: hex(statement.nonce), signature: hex(signDeviceReset(statement, identity.privateKey)) });
}
