// Tests for protocol/rsa.ts: HMAC-DRBG against NIST, pinned deterministic key derivation, SPKI/PEM codecs, RSA-OAEP against Wycheproof.
import t from 'tap';
import { readFileSync } from 'node:fs';
import {
  checkPrimeSync,
  constants,
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  privateDecrypt,
  type KeyObject,
} from 'node:crypto';
import {
  HmacDrbgSha256,
  RSA_KEYGEN_PERSONALIZATION,
  decodeRsaPublicKey,
  deriveRsaKeyPair,
  encodeRsaPublicKey,
  oaepUnwrap,
  oaepWrap,
  rsaKeyFingerprint,
  rsaPublicKeyFromPem,
  rsaPublicKeyToPem,
} from '../../protocol/rsa.js';
import { isProtocolError } from '../../protocol/errors.js';
import { utf8 } from '../../protocol/wire.js';

const hex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'hex'));
const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const sha256Hex = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');
const SEED = Uint8Array.from({ length: 32 }, (_, i) => i); // 000102…1f

/** Pinned: SHA-256 of the SPKI DER of deriveRsaKeyPair(000102…1f, bits). Changing these locks owners out. */
const PINNED_FINGERPRINTS: Record<number, string> = {
  2048: 'e26c07a4cf90233239a430713293743a7eec7130b1b585c9b65a9b25721b8747',
  3072: '0d292f7edd2a8a0c5377ab983a7342047188b248531959a502d707dec881b03a',
};

t.test('HMAC_DRBG matches NIST CAVP HMAC_DRBG.rsp (SHA-256, no reseed; second 1024-bit output)', (t) => {
  // NIST CAVP drbgtestvectors, [SHA-256] [PredictionResistance = False] COUNT = 0 without and with
  // a personalization string (public domain; hex as published).
  const cases = [
    {
      entropy: 'ca851911349384bffe89de1cbdc46e6831e44d34a4fb935ee285dd14b71a7488',
      nonce: '659ba96c601dc69fc902940805ec0ca8',
      personalization: '',
      returned:
        'e528e9abf2dece54d47c7e75e5fe302149f817ea9fb4bee6f4199697d04d5b89d54fbb978a15b5c443c9ec21036d2460b6f73ebad0dc2aba6e624abf07745bc107694bb7547bb0995f70de25d6b29e2d3011bb19d27676c07162c8b5ccde0668961df86803482cb37ed6d5c0bb8d50cf1f50d476aa0458bdaba806f48be9dcb8',
    },
    {
      entropy: '5cacc68165a2e2ee20812f35ec73a79dbf30fd475476ac0c44fc6174cdac2b55',
      nonce: '6f885496c1e63af620becd9e71ecb824',
      personalization: 'e72dd8590d4ed5295515c35ed6199e9d211b8f069b3058caa6670b96ef1208d0',
      returned:
        'f1012cf543f94533df27fedfbf58e5b79a3dc517a9c402bdbfc9a0c0f721f9d53faf4aafdc4b8f7a1b580fcaa52338d4bd95f58966a243cdcd3f446ed4bc546d9f607b190dd69954450d16cd0e2d6437067d8b44d19a6af7a7cfa8794e5fbd728e8fb2f2e8db5dd4ff1aa275f35886098e80ff844886060da8b1e7137846b23b',
    },
  ];
  for (const c of cases) {
    const drbg = new HmacDrbgSha256(hex(c.entropy), hex(c.nonce), hex(c.personalization));
    const first = drbg.generate(128);
    t.not(toHex(first), c.returned);
    t.equal(toHex(drbg.generate(128)), c.returned);
  }
  // Odd lengths take a prefix of the last block and still advance the state once per call.
  const a = new HmacDrbgSha256(SEED, new Uint8Array(0), new Uint8Array(0));
  const b = new HmacDrbgSha256(SEED, new Uint8Array(0), new Uint8Array(0));
  t.equal(toHex(a.generate(33)), toHex(b.generate(64)).slice(0, 66));
  t.throws(() => a.generate(65537), RangeError);
  t.end();
});

t.test('deriveRsaKeyPair: pinned vectors, and a straightforward re-implementation of the spec agrees', (t) => {
  for (const bits of [2048, 3072]) {
    const { publicKey, privateKey } = deriveRsaKeyPair(SEED, bits);
    t.equal(toHex(rsaKeyFingerprint(publicKey)), PINNED_FINGERPRINTS[bits], `${bits}-bit fingerprint`);
    const jwk = privateKey.export({ format: 'jwk' });
    const reference = referenceDerivation(SEED, bits);
    const big = (field: string | undefined): bigint => BigInt('0x' + Buffer.from(field ?? '', 'base64url').toString('hex'));
    t.equal(big(jwk.p), reference.p, `${bits}: p`);
    t.equal(big(jwk.q), reference.q, `${bits}: q`);
    t.equal(big(jwk.d), reference.d, `${bits}: d`);
    t.equal(big(jwk.n), reference.p * reference.q, `${bits}: n = pq`);
    if (bits === 3072) {
      // Intermediate values quoted in docs/protocol/envelope.md for re-implementers.
      const drbg = new HmacDrbgSha256(SEED, Uint8Array.of(0x0c, 0x00), utf8('carchain/v1/rsa-keygen'));
      const start = (bytes: Uint8Array): bigint => BigInt('0x' + toHex(bytes)) | (3n << 1534n) | 1n;
      const first = drbg.generate(192);
      t.equal(toHex(first.subarray(0, 16)), '4b6114976a34ac4b8eb253be38bb14d0');
      t.equal(reference.p - start(first), 666n, 'p = first start + 666');
      t.equal(reference.q - start(drbg.generate(192)), 2362n, 'q = second start + 2362');
    }
    t.equal(publicKey.asymmetricKeyDetails?.modulusLength, bits);
    t.equal(publicKey.asymmetricKeyDetails?.publicExponent, 65537n);
    // The key works with OpenSSL's own OAEP.
    const label = utf8('label');
    t.same(oaepUnwrap(privateKey, oaepWrap(publicKey, utf8('hi'), label), label), utf8('hi'));
  }
  t.end();
});

t.test('deriveRsaKeyPair: deterministic, seed- and size-separated, argument checks', (t) => {
  const again = deriveRsaKeyPair(Uint8Array.from(SEED), 2048);
  t.equal(toHex(rsaKeyFingerprint(again.publicKey)), PINNED_FINGERPRINTS[2048]);
  const otherSeed = Uint8Array.from(SEED);
  otherSeed[31] = otherSeed[31]! ^ 1;
  t.not(toHex(rsaKeyFingerprint(deriveRsaKeyPair(otherSeed, 2048).publicKey)), PINNED_FINGERPRINTS[2048]);
  const longerSeed = new Uint8Array(33);
  longerSeed.set(SEED);
  t.not(toHex(rsaKeyFingerprint(deriveRsaKeyPair(longerSeed, 2048).publicKey)), PINNED_FINGERPRINTS[2048]);
  t.throws(() => deriveRsaKeyPair(new Uint8Array(31)), RangeError);
  t.throws(() => deriveRsaKeyPair([...SEED] as unknown as Uint8Array), TypeError);
  for (const bits of [1024, 2040, 3000, 4112, 2048.5]) t.throws(() => deriveRsaKeyPair(SEED, bits), RangeError, `bits ${bits}`);
  t.end();
});

t.test('SPKI DER and PEM codecs', (t) => {
  const { publicKey, privateKey } = deriveRsaKeyPair(SEED, 2048);
  const der = encodeRsaPublicKey(publicKey);
  t.same(encodeRsaPublicKey(privateKey), der, 'a private key encodes as its public half');
  t.equal(sha256Hex(der), PINNED_FINGERPRINTS[2048]);
  t.same(encodeRsaPublicKey(decodeRsaPublicKey(der)), der);
  const pem = rsaPublicKeyToPem(publicKey);
  t.match(pem, /^-----BEGIN PUBLIC KEY-----\n/);
  t.same(encodeRsaPublicKey(rsaPublicKeyFromPem(pem)), der);
  t.same(encodeRsaPublicKey(rsaPublicKeyFromPem(pem.replace(/\n/g, '\r\n'))), der, 'CRLF line ends');

  const rejectDer = (bytes: Uint8Array, why: string): void => {
    t.throws(() => decodeRsaPublicKey(bytes), { code: 'KEY_INVALID' }, why);
  };
  rejectDer(new Uint8Array(0), 'empty');
  rejectDer(der.subarray(0, der.length - 1), 'truncated');
  const trailing = new Uint8Array(der.length + 1);
  trailing.set(der);
  rejectDer(trailing, 'trailing byte');
  // Outer SEQUENCE length re-encoded in non-minimal long form (0x82 → 0x83 00 …): BER, not DER.
  t.equal(der[1], 0x82);
  rejectDer(new Uint8Array([0x30, 0x83, 0x00, ...der.subarray(2)]), 'non-minimal length');
  // AlgorithmIdentifier without its NULL parameters (30 0d 06 09 … 05 00 → 30 0b 06 09 …).
  t.equal(toHex(der.subarray(4, 19)), '300d06092a864886f70d0101010500');
  const absentParams = new Uint8Array([0x30, 0x82, 0x01, 0x20, 0x30, 0x0b, ...der.subarray(6, 17), ...der.subarray(19)]);
  rejectDer(absentParams, 'rsaEncryption parameters absent');
  rejectDer(spki(generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey), 'EC key');
  rejectDer(spki(generateKeyPairSync('rsa-pss', { modulusLength: 2048 }).publicKey), 'RSA-PSS key');
  rejectDer(spki(generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey), '1024-bit modulus');
  // Public-key import does not check the modulus, so odd sizes and exponents can be forged cheaply.
  rejectDer(spki(rsaJwk((1n << 4100n) + 1n, 65537n)), '4101-bit modulus');
  rejectDer(spki(rsaJwk((1n << 3071n) + 1n, 3n)), 'e = 3');
  rejectDer(spki(rsaJwk((1n << 3071n) + 2n, 65537n)), 'even modulus');
  t.ok(decodeRsaPublicKey(spki(rsaJwk((1n << 4095n) + 1n, 65537n))), '4096-bit modulus is accepted');
  t.ok(decodeRsaPublicKey(spki(rsaJwk((1n << 2047n) + 1n, 65537n))), '2048-bit modulus is accepted');
  t.throws(() => decodeRsaPublicKey('30' as unknown as Uint8Array), TypeError);

  const rejectPem = (text: string, why: string): void => {
    t.throws(() => rsaPublicKeyFromPem(text), { code: 'KEY_INVALID' }, why);
  };
  const pkcs1 = publicKey.export({ type: 'pkcs1', format: 'pem' }) as string;
  rejectPem(pkcs1, 'PKCS#1 "RSA PUBLIC KEY" block');
  rejectPem(pem + pem, 'two blocks');
  rejectPem(pem.replace('MII', 'M*II'), 'junk in base64');
  rejectPem(pem.replace(/=*\n-----END/, '\n-----END').replace('MII', 'MIIA'), 'misaligned base64');
  rejectPem('', 'empty');
  t.end();
});

t.test('oaepWrap / oaepUnwrap: limits, labels, keys, errors carry no detail', (t) => {
  const { publicKey, privateKey } = deriveRsaKeyPair(SEED, 2048);
  const label = utf8('label');
  const longest = new Uint8Array(256 - 66).fill(7);
  t.same(oaepUnwrap(privateKey, oaepWrap(publicKey, longest, label), label), longest);
  t.same(oaepUnwrap(privateKey, oaepWrap(publicKey, new Uint8Array(0), new Uint8Array(0)), new Uint8Array(0)), new Uint8Array(0));
  t.throws(() => oaepWrap(publicKey, new Uint8Array(256 - 65), label), RangeError, 'message one byte too long');
  t.not(toHex(oaepWrap(publicKey, longest, label)), toHex(oaepWrap(publicKey, longest, label)), 'randomised by default');
  t.throws(() => oaepWrap(publicKey, longest, label, () => new Uint8Array(31)), TypeError);
  t.throws(() => oaepWrap(spki1024(), longest.subarray(0, 10), label), { code: 'KEY_INVALID' });

  const wrapped = oaepWrap(publicKey, utf8('secret'), label);
  const other = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
  const failures: unknown[] = [];
  const collect = (f: () => unknown): void => {
    try {
      f();
      failures.push(undefined);
    } catch (err) {
      failures.push(err);
    }
  };
  collect(() => oaepUnwrap(privateKey, wrapped, utf8('lab3l')));
  collect(() => oaepUnwrap(other, wrapped, label));
  collect(() => oaepUnwrap(privateKey, wrapped.subarray(1), label));
  collect(() => oaepUnwrap(privateKey, new Uint8Array([0, ...wrapped]), label));
  collect(() => oaepUnwrap(privateKey, wrapped.map((b, i) => (i === 100 ? b ^ 1 : b)), label));
  for (const err of failures) {
    t.ok(isProtocolError(err, 'ENVELOPE_OPEN_FAILED'));
    t.equal((err as Error).message, 'envelope: cannot unwrap the content key', 'one generic message');
    t.equal((err as Error).cause, undefined, 'no OpenSSL detail attached');
  }
  t.throws(() => oaepUnwrap(publicKey, wrapped, label), TypeError);
  t.end();
});

interface OaepVector {
  tcId: number;
  msg: string;
  ct: string;
  label: string;
  result: 'valid' | 'invalid' | 'acceptable';
}
interface OaepFile {
  numberOfTests: number;
  testGroups: { keySize: number; sha: string; mgfSha: string; privateKeyPkcs8: string; tests: OaepVector[] }[];
}

for (const bits of [2048, 3072]) {
  t.test(`Wycheproof rsa_oaep_${bits}_sha256_mgf1sha256: decrypt every vector, re-encode every valid one`, (t) => {
    const file = JSON.parse(
      readFileSync(new URL(`../fixtures/wycheproof/rsa_oaep_${bits}_sha256_mgf1sha256_test.json`, import.meta.url), 'utf8'),
    ) as OaepFile;
    const counts = { valid: 0, invalid: 0, acceptable: 0, reencoded: 0 };
    for (const group of file.testGroups) {
      t.equal(group.sha, 'SHA-256');
      t.equal(group.mgfSha, 'SHA-256');
      const privateKey = createPrivateKey({ key: Buffer.from(group.privateKeyPkcs8, 'hex'), format: 'der', type: 'pkcs8' });
      const publicKey = createPublicKey(privateKey);
      for (const v of group.tests) {
        const ct = hex(v.ct);
        const label = hex(v.label);
        counts[v.result]++;
        if (v.result === 'valid') {
          t.equal(toHex(oaepUnwrap(privateKey, ct, label)), v.msg, `tcId ${v.tcId} decrypts`);
          // Recover the seed per RFC 8017 §7.1.2 from the raw RSA result, then our encoder must
          // reproduce the published ciphertext byte for byte.
          const seed = recoverOaepSeed(privateKey, ct);
          t.equal(toHex(oaepWrap(publicKey, hex(v.msg), label, () => seed)), v.ct, `tcId ${v.tcId} re-encodes`);
          counts.reencoded++;
        } else {
          // No vector in these files is "acceptable"; if one appears it must be looked at (counted below).
          t.throws(() => oaepUnwrap(privateKey, ct, label), { code: 'ENVELOPE_OPEN_FAILED' }, `tcId ${v.tcId} is rejected`);
        }
      }
    }
    t.equal(counts.valid + counts.invalid + counts.acceptable, file.numberOfTests, 'every vector ran');
    t.same(counts, { valid: 18, invalid: 19, acceptable: 0, reencoded: 18 });
    t.end();
  });
}

/** Spec as written in docs/protocol/envelope.md, without the sieve: one checkPrime per odd candidate. */
function referenceDerivation(seed: Uint8Array, bits: number): { p: bigint; q: bigint; d: bigint } {
  const half = bits / 2;
  const drbg = new HmacDrbgSha256(seed, Uint8Array.of(bits >> 8, bits & 0xff), utf8(RSA_KEYGEN_PERSONALIZATION));
  const e = 65537n;
  const prime = (): bigint => {
    for (;;) {
      let c = BigInt('0x' + toHex(drbg.generate(half / 8))) | (3n << BigInt(half - 2)) | 1n;
      for (; c < 1n << BigInt(half); c += 2n) {
        if (checkPrimeSync(c, { checks: 64 }) && (c - 1n) % e !== 0n) return c;
      }
    }
  };
  const p = prime();
  for (;;) {
    const q = prime();
    if ((p > q ? p - q : q - p) <= 1n << BigInt(half - 100)) continue;
    const g = gcdBig(p - 1n, q - 1n);
    const lambda = ((p - 1n) * (q - 1n)) / g;
    // d = e⁻¹ mod λ computed differently from the module (no extended Euclid): d = (1 + kλ) / e for
    // the unique k in [1, e) that makes it integral.
    let d = 0n;
    for (let k = 1n; k < e; k++) {
      if ((1n + k * lambda) % e === 0n) {
        d = (1n + k * lambda) / e;
        break;
      }
    }
    if (d <= 1n << BigInt(half)) continue;
    return { p, q, d };
  }
}

function gcdBig(a: bigint, b: bigint): bigint {
  return b === 0n ? a : gcdBig(b, a % b);
}

function recoverOaepSeed(privateKey: KeyObject, ct: Uint8Array): Uint8Array {
  const em = new Uint8Array(privateDecrypt({ key: privateKey, padding: constants.RSA_NO_PADDING }, ct));
  const maskedSeed = em.subarray(1, 33);
  const maskedDb = em.subarray(33);
  const mask = createHash('sha256').update(maskedDb).update(new Uint8Array(4)).digest(); // MGF1 block 0
  return maskedSeed.map((b, i) => b ^ mask[i]!);
}

function spki(key: KeyObject): Uint8Array {
  return new Uint8Array(key.export({ type: 'spki', format: 'der' }));
}

function spki1024(): KeyObject {
  return generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey;
}

function rsaJwk(n: bigint, e: bigint): KeyObject {
  const b64 = (v: bigint): string => {
    const h = v.toString(16);
    return Buffer.from(h.length % 2 ? '0' + h : h, 'hex').toString('base64url');
  };
  return createPublicKey({ key: { kty: 'RSA', n: b64(n), e: b64(e) }, format: 'jwk' });
}
