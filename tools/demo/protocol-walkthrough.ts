// End-to-end protocol run with no services: owner wallet → pairing material → device seals and signs → verify → owner reads.
//
// This is the embedded default job until the gateway exists: every step goes through protocol/
// exactly as the dongle, gateway and wallet will call it.
import { performance } from 'node:perf_hooks';
import { builtinFormatDictionary, timeKey } from '../../protocol/builtin-formats.js';
import { devicePoolKey, deviceRoot, newDeviceSeed } from '../../protocol/device-keys.js';
import { generateMnemonic, masterKeyFromSeed, mnemonicToSeed } from '../../protocol/hd-keys.js';
import { ownerIdentity, ownerRsaKeyPair, poolKeyPair, poolMaterialFor } from '../../protocol/owner-keys.js';
import { encodeOriginProof, originProofs, verifyOrigin } from '../../protocol/origin-proof.js';
import { authorisePoolKey } from '../../protocol/pool-authorisation.js';
import { decodePoolMaterial, deductFrom, derivePoolAddresses, encodePoolMaterial, poolIndexForDate, randomFrom, utcDay } from '../../protocol/pools.js';
import { decodeRecord, openRecord, recordId, sealRecord } from '../../protocol/record.js';
import { projectColumns } from '../../protocol/record-value.js';
import { rewrapContentKey } from '../../protocol/envelope.js';
import { deriveRsaKeyPair } from '../../protocol/rsa.js';
import { createUplinkMessage, decodeUplinkMessage, encodeUplinkMessage, verifyUplinkMessage } from '../../protocol/uplink.js';

export interface WalkthroughOptions {
  /** Restore this wallet instead of creating one. */
  mnemonic?: string;
  poolSize?: number;
  vid?: string;
  now: number;
}

export interface WalkthroughStep {
  step: string;
  ms: number;
  detail: Record<string, unknown>;
}

export interface WalkthroughReport {
  mnemonicCreated: boolean;
  steps: WalkthroughStep[];
  ok: boolean;
}

const DAY_MS = 86_400_000;
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

/** A sample trip shaped like the original API sketch's trip-gps example (Shanghai). */
function sampleTrip(vid: string, start: number) {
  const gps = [
    [31.250885, 121.44662], [31.251259, 121.4456], [31.25419, 121.485504], [31.268875, 121.59015], [31.29777, 121.61309],
    [31.298483, 121.6138], [31.297743, 121.614525], [31.194258, 121.74957], [31.195974, 121.75078], [31.115866, 121.77829],
  ].map(([lat, lng], i) => ({ lat, lng, t: start + i * 60_000 }));
  const speed = [0, 23, 52, 45, 51, 33, 49, 49, 48, 37];
  return { gps, speed, end: start + (gps.length - 1) * 60_000 };
}

export function runProtocolWalkthrough(options: WalkthroughOptions): WalkthroughReport {
  const steps: WalkthroughStep[] = [];
  const timed = <T>(step: string, fn: () => [T, Record<string, unknown>]): T => {
    const t0 = performance.now();
    const [result, detail] = fn();
    steps.push({ step, ms: Math.round((performance.now() - t0) * 100) / 100, detail });
    return result;
  };
  const formats = builtinFormatDictionary();
  const vid = options.vid ?? 'LBVNU79049SB81546';
  const poolSize = options.poolSize ?? 16;
  const now = options.now;

  const mnemonic = options.mnemonic ?? generateMnemonic();
  const wallet = timed('owner wallet: mnemonic → BIP32 → identity, RSA-3072 data key', () => {
    const root = masterKeyFromSeed(mnemonicToSeed(mnemonic));
    const identity = ownerIdentity(root);
    const rsa = ownerRsaKeyPair(root);
    return [{ root, identity, rsa }, { ownerAddress: identity.address, words: mnemonic.split(' ').length }];
  });

  const pairing = timed('setDup: wallet hands the dongle its pool material', () => {
    const material = poolMaterialFor(wallet.root, 0, poolSize);
    const wire = encodePoolMaterial(material);
    const onDevice = decodePoolMaterial(wire);
    const addresses = derivePoolAddresses(onDevice);
    return [{ material: onDevice, addresses }, { poolSize, materialBytes: wire.length, firstAddress: addresses[0] }];
  });

  const device = timed("dongle: today's pool address, device key k_i, owner's pool authorisation", () => {
    const root = deviceRoot(newDeviceSeed());
    const index = poolIndexForDate(pairing.material.userSeed, now, poolSize);
    const address = randomFrom(pairing.addresses, now, pairing.material.userSeed);
    const key = devicePoolKey(root, index);
    const authorisation = authorisePoolKey(poolKeyPair(wallet.root, 0, index).privateKey, {
      devicePublicKey: key.publicKey,
      notBefore: now - DAY_MS,
      notAfter: now + 365 * DAY_MS,
    });
    return [{ index, address, key, authorisation }, { day: utcDay(now), poolIndex: index, address }];
  });

  const sealed = timed('dongle: seal a trip and a DTC record to the owner, sign one uplink message', () => {
    const trip = sampleTrip(vid, now - 3_600_000);
    const tripRecord = sealRecord(formats.get('trip-gps'), device.address, { SESSION_ID: 1, START_TIME: timeKey(now - 3_600_000), END_TIME: timeKey(trip.end) }, {
      VID: vid, VEHICLE_DATA: 1, len: trip.gps.length, GPS: trip.gps, SPEED: trip.speed, MAX_SPEED: 52,
    }, wallet.rsa.publicKey);
    const dtcRecord = sealRecord(formats.get('dtc'), device.address, { TIME: timeKey(now), SESSION_ID: 1 }, {
      VID: vid, stored: ['P0301'], pending: [], mil: true,
    }, wallet.rsa.publicKey);
    const message = createUplinkMessage([tripRecord, dtcRecord], device.authorisation, device.key.privateKey);
    const bytes = encodeUplinkMessage(message);
    return [bytes, { records: 2, messageBytes: bytes.length, recordIds: [tripRecord, dtcRecord].map((r) => hex(recordId(r.address, r.encodedKey))) }];
  });

  const verified = timed('gateway: decode, verify authorisation and signature, cut origin proofs', () => {
    const message = decodeUplinkMessage(sealed);
    const result = verifyUplinkMessage(message, { now });
    const proofs = originProofs(message);
    for (const [i, proof] of proofs.entries()) verifyOrigin(message.records[i]!, proof, now);
    return [{ message, proofs }, { address: result.address, root: hex(result.root), originProofBytes: proofs.map((p) => encodeOriginProof(p).length) }];
  });

  timed("owner: deductFrom(date) finds the day's address, opens and projects the records", () => {
    const address = deductFrom(pairing.addresses, utcDay(now), pairing.material.userSeed);
    const opened = verified.message.records.map((bytes) => openRecord(decodeRecord(bytes), formats, wallet.rsa.privateKey));
    const trip = opened.find((r) => r.format === 'trip-gps')!;
    return [null, {
      addressMatches: address === device.address,
      formats: opened.map((r) => r.format),
      trip: projectColumns(formats.get('trip-gps'), trip.value, ['VID', 'len', 'SPEED']),
    }];
  });

  timed('grant: owner re-wraps the trip key to a grantee; the ciphertext is untouched', () => {
    const grantee = deriveRsaKeyPair(new Uint8Array(32).fill(7), 2048);
    const record = decodeRecord(verified.message.records[0]!);
    const slot = { address: record.address, format: 'trip-gps', encodedKey: record.encodedKey };
    const wrapped = rewrapContentKey(wallet.rsa.privateKey, slot, record.envelope.wrappedKey, grantee.publicKey);
    const opened = openRecord(record, formats, grantee.privateKey, wrapped);
    return [null, { granteeReads: opened.value.VID === vid, wrappedKeyBytes: wrapped.length }];
  });

  return { mnemonicCreated: options.mnemonic === undefined, steps, ok: true };
}
