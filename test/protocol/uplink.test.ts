// Tests for records, uplink messages and per-record origin proofs: round trips, verification, tampering.
import t from 'tap';
import { generateKeyPairSync } from 'node:crypto';
import { builtinFormatDictionary } from '../../protocol/builtin-formats.js';
import { devicePoolKey, deviceRoot } from '../../protocol/device-keys.js';
import { masterKeyFromSeed } from '../../protocol/hd-keys.js';
import { poolKeyPair, poolMaterialFor } from '../../protocol/owner-keys.js';
import { authorisePoolKey, encodePoolAuthorisation } from '../../protocol/pool-authorisation.js';
import { derivePoolAddresses } from '../../protocol/pools.js';
import { checkRecordKey, decodeRecord, encodeRecord, openRecord, recordId, sealRecord, type SealedRecord } from '../../protocol/record.js';
import { createUplinkMessage, decodeUplinkMessage, encodeUplinkMessage, verifyUplinkMessage } from '../../protocol/uplink.js';
import { decodeOriginProof, encodeOriginProof, encodeOriginProofWith, originProofs, verifyOrigin } from '../../protocol/origin-proof.js';
import { FormatDictionary } from '../../protocol/formats.js';

const formats = builtinFormatDictionary();
const rsa = generateKeyPairSync('rsa', { modulusLength: 3072, publicExponent: 65537 });
const owner = masterKeyFromSeed(new Uint8Array(64).fill(3));
const addresses = derivePoolAddresses(poolMaterialFor(owner, 0, 8));
const device = deviceRoot(new Uint8Array(32).fill(4));
const now = Date.UTC(2026, 10, 21, 8);
const DAY = 86_400_000;

function authFor(index: number) {
  const key = devicePoolKey(device, index);
  const authorisation = authorisePoolKey(poolKeyPair(owner, 0, index).privateKey, { devicePublicKey: key.publicKey, notBefore: now - DAY, notAfter: now + DAY });
  return { key, authorisation };
}

function dtc(address: string, n: number): SealedRecord {
  return sealRecord(formats.get('dtc'), address, { TIME: 20261121080000 + n, SESSION_ID: 1 }, { VID: 'VIN1', stored: [`P030${n % 10}`] }, rsa.publicKey);
}

t.test('a record round-trips, opens for the owner, and has a stable id', (t) => {
  const record = dtc(addresses[2]!, 1);
  const bytes = encodeRecord(record);
  const back = decodeRecord(bytes);
  t.same(encodeRecord(back), bytes);
  t.same(recordId(back.address, back.encodedKey), recordId(record.address, record.encodedKey));
  t.equal(checkRecordKey(back, formats).name, 'dtc');
  const opened = openRecord(back, formats, rsa.privateKey);
  t.same(opened.key, { TIME: 20261121080001, SESSION_ID: 1 });
  t.same(opened.value, { VID: 'VIN1', stored: ['P0301'] });
  t.throws(() => checkRecordKey(back, new FormatDictionary([])), { code: 'FORMAT_UNKNOWN' });
  const moved = { ...back, address: addresses[3]! };
  t.throws(() => openRecord(moved, formats, rsa.privateKey), { code: 'ENVELOPE_OPEN_FAILED' }, 'a ciphertext cannot move to another address');
  t.throws(() => sealRecord(formats.get('dtc'), 'not-an-address', { TIME: 1, SESSION_ID: 1 }, { VID: 'x', stored: [] }, rsa.publicKey), { code: 'ADDRESS_INVALID' });
  t.end();
});

t.test('uplink messages: sign once, verify once, every record proven alone', (t) => {
  const { key, authorisation } = authFor(5);
  const records = Array.from({ length: 7 }, (_, n) => dtc(addresses[5]!, n));
  const message = createUplinkMessage(records, authorisation, key.privateKey);
  const wire = encodeUplinkMessage(message);
  const decoded = decodeUplinkMessage(wire);
  t.equal(decoded.address, addresses[5]);
  t.equal(decoded.decodedRecords.length, 7);
  const verified = verifyUplinkMessage(decoded, { now });
  t.equal(verified.leafHashes.length, 7);
  t.same(verifyUplinkMessage(decoded, { now, authorisationChecked: true }).root, verified.root, 'cached authorisation path');
  t.throws(() => verifyUplinkMessage(decoded, { now: now + 2 * DAY, authorisationChecked: true }), { code: 'AUTH_EXPIRED' }, 'window re-checked even when cached');
  const proofs = originProofs(decoded);
  for (const [i, proof] of proofs.entries()) {
    const back = decodeOriginProof(encodeOriginProof(proof));
    verifyOrigin(decoded.records[i]!, back, now);
  }
  t.pass('7 origin proofs verify after a wire round trip');
  const encodedAuth = encodePoolAuthorisation(decoded.authorisation);
  t.ok(proofs.every((p) => Buffer.from(encodeOriginProofWith(p, encodedAuth)).equals(encodeOriginProof(p))), 'the pre-encoded authorisation path gives the same bytes');
  t.throws(() => verifyOrigin(decoded.records[1]!, proofs[0]!, now), { code: 'SIGNATURE_INVALID' }, 'the proof of another record leads to another root');
  t.throws(() => verifyOrigin(decoded.records[0]!, { ...proofs[0]!, treeSize: 8 }, now), { code: /PROOF_INVALID|SIGNATURE_INVALID/ }, 'a changed tree size');
  t.throws(() => verifyOrigin(decoded.records[0]!, proofs[0]!, now + 2 * DAY), { code: 'AUTH_EXPIRED' });
  t.throws(() => verifyOrigin(decoded.records[0]!, { ...proofs[0]!, signature: proofs[0]!.signature.map((b, i) => (i === 10 ? b ^ 1 : b)) }, now), { code: /SIGNATURE_/ });
  t.end();
});

t.test('uplink verification rejects tampering and mismatches', (t) => {
  const { key, authorisation } = authFor(1);
  const other = authFor(2);
  const records = [dtc(addresses[1]!, 1), dtc(addresses[1]!, 2)];
  const message = createUplinkMessage(records, authorisation, key.privateKey);
  t.throws(() => createUplinkMessage(records, authorisation, other.key.privateKey), { code: 'AUTH_MISMATCH' }, 'signing key must be the authorised one');
  t.throws(() => createUplinkMessage([dtc(addresses[2]!, 1)], authorisation, key.privateKey), { code: 'MESSAGE_INVALID' }, 'records of another address');
  t.throws(() => verifyUplinkMessage({ ...message, records: [message.records[1]!, message.records[0]!] }, { now }), { code: 'SIGNATURE_INVALID' }, 'reordered');
  t.throws(() => verifyUplinkMessage({ ...message, records: [message.records[0]!] }, { now }), { code: 'SIGNATURE_INVALID' }, 'dropped record');
  t.throws(() => verifyUplinkMessage({ ...message, authorisation: other.authorisation }, { now }), { code: 'SIGNATURE_INVALID' }, 'swapped authorisation');
  const wire = encodeUplinkMessage(message);
  const flipped = Uint8Array.from(wire);
  flipped[wire.length - 70] = flipped[wire.length - 70]! ^ 0x01;
  t.throws(() => verifyUplinkMessage(decodeUplinkMessage(flipped), { now }), { code: /SIGNATURE_|DECODE_|ENVELOPE/ }, 'a flipped ciphertext byte');
  const foreign = createUplinkMessage([dtc(addresses[2]!, 1)], other.authorisation, other.key.privateKey);
  const spliced = encodeUplinkMessage({ ...message, records: [message.records[0]!, foreign.records[0]!] });
  t.throws(() => decodeUplinkMessage(spliced), { code: 'MESSAGE_INVALID' }, 'a record filed elsewhere');
  t.throws(() => decodeUplinkMessage(wire.subarray(0, wire.length - 1)), { code: 'DECODE_TRUNCATED' });
  t.throws(() => decodeUplinkMessage(Uint8Array.of(...wire, 0)), { code: 'DECODE_TRAILING_BYTES' });
  t.throws(() => decodeUplinkMessage(Uint8Array.of(9, ...wire.subarray(1))), { code: 'UNSUPPORTED_VERSION' });
  t.end();
});
