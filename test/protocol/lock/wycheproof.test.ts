// The lock's primitives against Wycheproof: every ECDH secp256k1 vector, every HKDF-SHA256 vector, AES-256-GCM/96-bit-IV vectors.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { ecdhSharedSecret, hkdfSha256, openAead, sealAead } from '../../../protocol/lock/key-schedule.js';
import { isLockError } from '../../../protocol/lock/errors.js';

const hex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'hex'));
const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const load = (name: string) => JSON.parse(readFileSync(new URL(`../../fixtures/wycheproof/${name}`, import.meta.url), 'utf8'));

// SubjectPublicKeyInfo { id-ecPublicKey, secp256k1 } with a BIT STRING of 65 (uncompressed) or 33 bytes.
const SPKI_UNCOMPRESSED = '3056301006072a8648ce3d020106052b8104000a034200';
const SPKI_COMPRESSED = '3036301006072a8648ce3d020106052b8104000a032200';

/** Strict reader: only the two named-curve encodings; anything else (explicit parameters, other curves, bad ASN.1) is null. */
function spkiPoint(spki: string): Uint8Array | null {
  if (spki.startsWith(SPKI_UNCOMPRESSED) && spki.length === SPKI_UNCOMPRESSED.length + 130) return hex(spki.slice(SPKI_UNCOMPRESSED.length));
  if (spki.startsWith(SPKI_COMPRESSED) && spki.length === SPKI_COMPRESSED.length + 66) return hex(spki.slice(SPKI_COMPRESSED.length));
  return null;
}

function scalar32(h: string): Uint8Array {
  const b = hex(h);
  const out = new Uint8Array(32);
  const trimmed = b.subarray(Math.max(0, b.length - 32));
  if (b.subarray(0, b.length - trimmed.length).some((x) => x !== 0)) throw new Error('private key wider than 256 bits');
  out.set(trimmed, 32 - trimmed.length);
  return out;
}

t.test('Wycheproof ecdh_secp256k1: valid vectors agree, invalid points are BAD_POINT, odd encodings never parse', (t) => {
  const file = load('ecdh_secp256k1_test.json');
  const counts = { validAgreed: 0, invalidRejectedByEcdh: 0, notNamedSpki: 0, acceptableParsed: 0 };
  for (const group of file.testGroups) {
    for (const v of group.tests) {
      const point = spkiPoint(v.public);
      if (point === null) {
        t.not(v.result, 'valid', `tcId ${v.tcId}: a valid vector is always a named-curve SPKI`);
        counts.notNamedSpki++;
        continue;
      }
      const priv = scalar32(v.private);
      if (v.result === 'valid') {
        t.equal(toHex(ecdhSharedSecret(priv, point)), v.shared, `tcId ${v.tcId} (${v.flags.join(',')})`);
        counts.validAgreed++;
      } else if (v.result === 'invalid') {
        t.throws(() => ecdhSharedSecret(priv, point), { code: 'BAD_POINT' }, `tcId ${v.tcId} (${v.flags.join(',')}) rejected`);
        counts.invalidRejectedByEcdh++;
      } else {
        // acceptable: if we compute anything, it must be the vector's answer.
        try {
          t.equal(toHex(ecdhSharedSecret(priv, point)), v.shared, `tcId ${v.tcId} acceptable and agreed`);
        } catch (err) {
          t.ok(isLockError(err, 'BAD_POINT'), `tcId ${v.tcId} acceptable and refused`);
        }
        counts.acceptableParsed++;
      }
    }
  }
  t.equal(counts.validAgreed + counts.invalidRejectedByEcdh + counts.notNamedSpki + counts.acceptableParsed, file.numberOfTests, 'every vector accounted for');
  t.ok(counts.invalidRejectedByEcdh >= 16, 'the invalid-curve points reach ecdhSharedSecret and are refused there');
  // 473 valid + 21 invalid points refused by ecdhSharedSecret + 2 acceptable compressed + 256 other encodings.
  t.same(counts, { validAgreed: 473, invalidRejectedByEcdh: 21, notNamedSpki: 256, acceptableParsed: 2 });
  t.end();
});

t.test('ECDH: infinity, hybrid and wrong-length encodings are BAD_POINT', (t) => {
  const priv = new Uint8Array(32).fill(7);
  t.throws(() => ecdhSharedSecret(priv, Uint8Array.of(0)), { code: 'BAD_POINT' }, 'SEC1 infinity');
  t.throws(() => ecdhSharedSecret(priv, new Uint8Array(33)), { code: 'BAD_POINT' }, 'all-zero 33 bytes');
  const g = hex('0479be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798483ada7726a3c4655da4fbfc0e1108a8fd17b448a68554199c47d08ffb10d4b8');
  t.equal(ecdhSharedSecret(Uint8Array.of(...new Uint8Array(31), 1), g).length, 32, '1·G works');
  const hybrid = g.slice();
  hybrid[0] = 0x06;
  t.throws(() => ecdhSharedSecret(priv, hybrid), { code: 'BAD_POINT' }, 'hybrid 0x06 prefix');
  const offCurve = g.slice();
  offCurve[64]! ^= 1;
  t.throws(() => ecdhSharedSecret(priv, offCurve), { code: 'BAD_POINT' }, 'off-curve y');
  const xTooBig = Uint8Array.of(0x02, ...new Uint8Array(32).fill(0xff));
  t.throws(() => ecdhSharedSecret(priv, xTooBig), { code: 'BAD_POINT' }, 'x ≥ p');
  t.throws(() => ecdhSharedSecret(priv, g.subarray(0, 64)), { code: 'BAD_POINT' }, 'truncated');
  t.end();
});

t.test('Wycheproof hkdf_sha256: every vector', (t) => {
  const file = load('hkdf_sha256_test.json');
  let valid = 0;
  let invalid = 0;
  for (const group of file.testGroups) {
    for (const v of group.tests) {
      if (v.result === 'valid') {
        t.equal(toHex(hkdfSha256(hex(v.ikm), hex(v.salt), hex(v.info), v.size)), v.okm, `tcId ${v.tcId}`);
        valid++;
      } else {
        t.throws(() => hkdfSha256(hex(v.ikm), hex(v.salt), hex(v.info), v.size), RangeError, `tcId ${v.tcId}: ${v.comment}`);
        invalid++;
      }
    }
  }
  t.same({ valid, invalid }, { valid: 83, invalid: 3 });
  t.end();
});

t.test('Wycheproof aes_gcm: the AES-256 / 96-bit IV / 128-bit tag vectors through sealAead and openAead', (t) => {
  const file = load('aes_gcm_test.json');
  let ran = 0;
  for (const group of file.testGroups) {
    if (group.keySize !== 256 || group.ivSize !== 96 || group.tagSize !== 128) continue;
    for (const v of group.tests) {
      const [key, iv, aad, msg] = [v.key, v.iv, v.aad, v.msg].map(hex) as [Uint8Array, Uint8Array, Uint8Array, Uint8Array];
      const sealed = hex(v.ct + v.tag);
      if (v.result === 'valid') {
        t.equal(toHex(sealAead(key, iv, msg, aad)), v.ct + v.tag, `tcId ${v.tcId} seals`);
        t.equal(toHex(openAead(key, iv, sealed, aad)), v.msg, `tcId ${v.tcId} opens`);
      } else {
        t.throws(() => openAead(key, iv, sealed, aad), { code: 'DECRYPT_FAILED' }, `tcId ${v.tcId} refused`);
      }
      ran++;
    }
  }
  t.ok(ran >= 30, `${ran} vectors ran`);
  t.comment(`${ran} AES-256-GCM vectors`);
  t.end();
});
