// Gateway verification of uplink messages: good traffic accepted with origin proofs; hostile input rejected by reason.
import t from 'tap';
import { generateKeyPairSync } from 'node:crypto';
import { UplinkVerifier } from '../../../gateway/ingest/uplink-verifier.js';
import { builtinFormatDictionary } from '../../../protocol/builtin-formats.js';
import { devicePoolKey, deviceRoot } from '../../../protocol/device-keys.js';
import { FormatDictionary } from '../../../protocol/formats.js';
import { masterKeyFromSeed } from '../../../protocol/hd-keys.js';
import { decodeOriginProof, verifyOrigin } from '../../../protocol/origin-proof.js';
import { poolKeyPair, poolMaterialFor } from '../../../protocol/owner-keys.js';
import { authorisePoolKey } from '../../../protocol/pool-authorisation.js';
import { derivePoolAddresses } from '../../../protocol/pools.js';
import { encodeRecord, sealRecord } from '../../../protocol/record.js';
import { createUplinkMessage, encodeUplinkMessage } from '../../../protocol/uplink.js';
import { ByteWriter } from '../../../protocol/wire.js';

const formats = builtinFormatDictionary();
const rsa = generateKeyPairSync('rsa', { modulusLength: 2048, publicExponent: 65537 });
const owner = masterKeyFromSeed(new Uint8Array(64).fill(1));
const addresses = derivePoolAddresses(poolMaterialFor(owner, 0, 4));
const device = deviceRoot(new Uint8Array(32).fill(2));
const now = Date.UTC(2026, 10, 21, 12);
const DAY = 86_400_000;
const auth = (i: number, window = { notBefore: now - DAY, notAfter: now + DAY }) =>
  authorisePoolKey(poolKeyPair(owner, 0, i).privateKey, { devicePublicKey: devicePoolKey(device, i).publicKey, ...window });
const dtc = (address: string, n: number, def = formats.get('dtc')) =>
  sealRecord(def, address, def.name === 'dtc' ? { TIME: 20261121120000 + n, SESSION_ID: 1 } : { K: n }, def.name === 'dtc' ? { VID: 'V', stored: [] } : {}, rsa.publicKey);
const message = (i: number, n = 3) => encodeUplinkMessage(createUplinkMessage(Array.from({ length: n }, (_, k) => dtc(addresses[i]!, k)), auth(i), devicePoolKey(device, i).privateKey));

t.test('a good message: records, ids, leaf hashes and origin proofs that verify alone', (t) => {
  const verifier = new UplinkVerifier({ formats: () => formats });
  const result = verifier.verify(message(0), now);
  t.ok(result.ok);
  if (!result.ok) return t.end();
  t.equal(result.records.length, 3);
  for (const r of result.records) verifyOrigin(r.record, decodeOriginProof(r.originProof), now);
  t.equal(verifier.verify(message(0), now).ok, true, 'a replay verifies too: de-duplication is the store\'s job');
  t.end();
});

t.test('hostile input is rejected with a reason, never thrown', (t) => {
  const verifier = new UplinkVerifier({ formats: () => formats });
  const good = message(1);
  const reasons = (bytes: Uint8Array, at = now) => {
    const r = verifier.verify(bytes, at);
    return r.ok ? 'accepted' : r.reason;
  };
  t.equal(reasons(new Uint8Array(3 * 1024 * 1024)), 'too-large');
  t.equal(reasons(Uint8Array.from({ length: 200 }, (_, i) => (i * 37) & 0xff)), 'unsupported-version');
  t.equal(reasons(good.subarray(0, good.length - 10)), 'malformed', 'truncated');
  const flipped = Uint8Array.from(good);
  flipped[flipped.length - 1] = flipped[flipped.length - 1]! ^ 1;
  t.equal(reasons(flipped), 'bad-signature');
  t.equal(reasons(good, now + 2 * DAY), 'authorisation-expired');
  // k_1's authorisation covers A_1 only: records under A_2 in that message are refused.
  const foreign = dtc(addresses[2]!, 9);
  const spliced = new ByteWriter().raw(good.subarray(0, 1 + 147)).varint(1).bytes(encodeRecord(foreign)).raw(good.subarray(good.length - 64)).finish();
  t.equal(reasons(spliced), 'not-authorised');
  // A forged authorisation (signed by the wrong pool key) for A_3.
  const forgedAuth = authorisePoolKey(poolKeyPair(owner, 0, 2).privateKey, { devicePublicKey: devicePoolKey(device, 3).publicKey, notBefore: now - DAY, notAfter: now + DAY });
  const forged = encodeUplinkMessage({ ...createUplinkMessage([dtc(addresses[2]!, 1)], forgedAuth, devicePoolKey(device, 3).privateKey) });
  t.equal(reasons(forged), 'accepted', 'an authorisation by A_2 for its own address is valid, whoever holds k');
  const custom = new FormatDictionary([...formats.list(), { name: 'custom', version: 1, description: '', key: [{ name: 'K', type: 'uint' }], columns: [] }]);
  const customRecord = sealRecord(custom.get('custom'), addresses[3]!, { K: 1 }, {}, rsa.publicKey);
  const unknown = encodeUplinkMessage(createUplinkMessage([customRecord], auth(3), devicePoolKey(device, 3).privateKey));
  t.equal(reasons(unknown), 'unknown-format');
  t.equal(new UplinkVerifier({ formats: () => custom }).verify(unknown, now).ok, true, 'known once registered');
  t.equal(reasons(good), 'accepted', 'good traffic still flows');
  t.end();
});
