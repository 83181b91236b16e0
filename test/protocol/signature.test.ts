// Tests for domain-tagged low-S ECDSA: Wycheproof (Bitcoin variant), RFC 6979 vectors, strict DER, malleability, domains.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import t from 'tap';
import fc from 'fast-check';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import * as ecc from 'tiny-secp256k1';
import { isProtocolError, type ProtocolErrorCode } from '../../protocol/errors.js';
import { p2pkhAddress } from '../../protocol/address.js';
import { keyPairAt, masterKeyFromSeed, mnemonicToSeed, PATH } from '../../protocol/hd-keys.js';
import {
  assertPublicKey,
  CURVE_ORDER,
  decodeDerSignature,
  DOMAIN,
  encodeDerSignature,
  isValidSignature,
  publicKeyFromPrivate,
  randomPrivateKey,
  sign,
  signatureDigest,
  signDigest,
  SIGNATURE_LENGTH,
  type SignatureDomain,
  verify,
  verifyDigest,
} from '../../protocol/signature.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const unhex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'hex'));
const sha256 = (b: Uint8Array): Uint8Array => new Uint8Array(createHash('sha256').update(b).digest());
const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);
const scalar = (v: bigint): Uint8Array => unhex(v.toString(16).padStart(64, '0'));
const toBig = (b: Uint8Array): bigint => BigInt(`0x${hex(b) || '0'}`);
const HALF_ORDER = CURVE_ORDER >> 1n;
const VERIFY_CODES: ProtocolErrorCode[] = ['SIGNATURE_MALFORMED', 'SIGNATURE_HIGH_S', 'KEY_INVALID', 'SIGNATURE_INVALID'];
const DOMAINS = Object.values(DOMAIN);
/** The ProtocolError code `fn` throws ('no error' / 'other: …' otherwise), for one-of-several checks. */
const codeOf = (fn: () => unknown): string => {
  try {
    fn();
    return 'no error';
  } catch (err) {
    return isProtocolError(err) ? err.code : `other: ${String(err)}`;
  }
};
/** Where the 301 invalid Wycheproof tests are rejected (measured; see the report in the docs). */
const WYCHEPROOF_EXPECTED = { der: 232, range: 50, highS: 4, invalid: 15 };

interface WycheproofFile {
  schema: string;
  numberOfTests: number;
  testGroups: {
    publicKey: { uncompressed: string };
    sha: string;
    tests: { tcId: number; comment: string; flags: string[]; msg: string; sig: string; result: 'valid' | 'invalid' | 'acceptable' }[];
  }[];
}

t.test('Wycheproof ecdsa_secp256k1_sha256_bitcoin: all 463 tests', (t) => {
  const file = JSON.parse(
    readFileSync(new URL('../fixtures/wycheproof/ecdsa_secp256k1_sha256_bitcoin_test.json', import.meta.url), 'utf8'),
  ) as WycheproofFile;
  t.equal(file.schema, 'ecdsa_bitcoin_verify_schema.json');
  const outcome: Record<string, number> = {};
  const count = (key: string): void => {
    outcome[key] = (outcome[key] ?? 0) + 1;
  };
  let run = 0;
  let valid = 0;
  for (const group of file.testGroups) {
    t.equal(group.sha, 'SHA-256');
    const publicKey = unhex(group.publicKey.uncompressed);
    for (const test of group.tests) {
      run++;
      const label = `tcId ${test.tcId}: ${test.comment} [${test.flags.join(',')}]`;
      let stage: string;
      try {
        const compact = decodeDerSignature(unhex(test.sig));
        try {
          verifyDigest(sha256(unhex(test.msg)), compact, publicKey);
          stage = 'accepted';
        } catch (err) {
          if (!isProtocolError(err) || !VERIFY_CODES.includes(err.code)) throw err;
          stage = `verify:${err.code}`;
        }
        // Whatever parses as strict DER re-encodes to the very same bytes.
        if (toBig(compact.subarray(0, 32)) > 0n && toBig(compact.subarray(0, 32)) < CURVE_ORDER && toBig(compact.subarray(32)) > 0n && toBig(compact.subarray(32)) < CURVE_ORDER) {
          t.equal(hex(encodeDerSignature(compact)), test.sig, `${label}: DER round trip`);
        }
      } catch (err) {
        if (!isProtocolError(err, 'SIGNATURE_MALFORMED')) throw err;
        stage = 'der:SIGNATURE_MALFORMED';
      }
      count(stage);
      if (test.result === 'valid') {
        valid++;
        t.equal(stage, 'accepted', label);
      } else {
        t.equal(test.result, 'invalid', `${label}: no "acceptable" results in this file`);
        t.not(stage, 'accepted', label);
      }
    }
  }
  t.equal(run, file.numberOfTests, 'every test in the file ran');
  t.equal(run, 463);
  t.equal(valid, 162);
  t.comment(`Wycheproof outcomes: ${JSON.stringify(outcome)}`);
  // Pinned so that a change in where rejections happen is noticed (sums to 463).
  t.same(outcome, {
    accepted: 162,
    'der:SIGNATURE_MALFORMED': WYCHEPROOF_EXPECTED.der,
    'verify:SIGNATURE_MALFORMED': WYCHEPROOF_EXPECTED.range,
    'verify:SIGNATURE_HIGH_S': WYCHEPROOF_EXPECTED.highS,
    'verify:SIGNATURE_INVALID': WYCHEPROOF_EXPECTED.invalid,
  });
  t.end();
});


// RFC 6979 deterministic signatures over SHA-256(msg), DER, low-S. From decred/dcrd
// dcrec/secp256k1/ecdsa/signature_test.go TestRFC6979Compat, which matches trezor-crypto and CoreBitcoin.
const RFC6979_VECTORS: [string, string, string][] = [
  ['cca9fbcc1b41e5a95d369eaa6ddcff73b61a4efaa279cfc6567e8daa39cbaf50', 'sample', '3045022100af340daf02cc15c8d5d08d7735dfe6b98a474ed373bdb5fbecf7571be52b384202205009fb27f37034a9b24b707b7c6b79ca23ddef9e25f7282e8a797efe53a8f124'],
  // Raw s is above n/2 here: only a low-S normalising signer reproduces this.
  ['0000000000000000000000000000000000000000000000000000000000000001', 'Satoshi Nakamoto', '3045022100934b1ea10a4b3c1757e2b0c017d0b6143ce3c9a7e6a4a49860d7a6ab210ee3d802202442ce9d2b916064108014783e923ec36b49743e2ffa1c4496f01a512aafd9e5'],
  ['fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364140', 'Satoshi Nakamoto', '3045022100fd567d121db66e382991534ada77a6bd3106f0a1098c231e47993447cd6af2d002206b39cd0eb1bc8603e159ef5c20a5c8ad685a45b06ce9bebed3f153d10d93bed5'],
  ['f8b8af8ce3c7cca5e300d33939540c10d45ce001b8f252bfbc57ba0342904181', 'Alan Turing', '304402207063ae83e7f62bbb171798131b4a0564b956930092b33b07b395615d9ec7e15c022058dfcc1e00a35e1572f366ffe34ba0fc47db1e7189759b9fb233c5b05ab388ea'],
  ['0000000000000000000000000000000000000000000000000000000000000001', 'All those moments will be lost in time, like tears in rain. Time to die...', '30450221008600dbd41e348fe5c9465ab92d23e3db8b98b873beecd930736488696438cb6b0220547fe64427496db33bf66019dacbf0039c04199abb0122918601db38a72cfc21'],
  ['e91671c46231f833a6406ccbea0e3e392c76c167bac1cb013f6f1013980455c2', "There is a computer disease that anybody who works with computers knows about. It's a very serious disease and it interferes completely with the work. The trouble with computers is that you 'play' with them!", '3045022100b552edd27580141f3b2a5463048cb7cd3e047b97c9f98076c32dbdf85a68718b0220279fa72dd19bfae05577e06c7c0c1900c371fcd5893f7e1d56a37d30174671f6'],
];

t.test('RFC 6979 vectors: signDigest is deterministic and low-S', (t) => {
  let run = 0;
  for (const [key, message, der] of RFC6979_VECTORS) {
    const digest = sha256(utf8(message));
    const signature = signDigest(digest, unhex(key));
    t.equal(hex(encodeDerSignature(signature)), der, message.slice(0, 20));
    t.equal(hex(signature), hex(decodeDerSignature(unhex(der))));
    verifyDigest(digest, signature, publicKeyFromPrivate(unhex(key)));
    run++;
  }
  t.equal(run, 6);
  t.end();
});

t.test('the documented vector (docs/protocol/keys-and-signatures.md) is what the code produces', (t) => {
  const doc = readFileSync(new URL('../../docs/protocol/keys-and-signatures.md', import.meta.url), 'utf8');
  const field = (name: string): string => {
    const m = new RegExp(`^${name}:[ \\t]+(.+)$`, 'm').exec(doc);
    if (m === null) throw new Error(`docs: no "${name}:" line`);
    return m[1]!.trim();
  };
  const mnemonic = field('mnemonic');
  const passphrase = field('passphrase');
  const path = field('path');
  const domain = field('domain') as SignatureDomain;
  const message = unhex(field('message'));
  t.equal(mnemonic.split(' ').length, 12);
  t.equal(path, PATH.ownerIdentity);
  t.equal(domain, DOMAIN.poolAuthorisation);
  t.equal(new TextDecoder().decode(message), 'CarChain keys-and-signatures test vector');
  const pair = keyPairAt(masterKeyFromSeed(mnemonicToSeed(mnemonic, passphrase)), path);
  t.equal(hex(pair.privateKey), field('privateKey'));
  t.equal(hex(pair.publicKey), field('publicKey'));
  t.equal(p2pkhAddress(pair.publicKey), field('address'));
  t.equal(hex(sha256(utf8(domain))), field('tagHash'));
  const digest = signatureDigest(domain, message);
  t.equal(hex(digest), field('digest'));
  // Independent recomputation of the tagged hash.
  const tag = sha256(utf8(domain));
  t.equal(hex(sha256(Uint8Array.from([...tag, ...tag, ...message]))), field('digest'));
  const signature = sign(domain, message, pair.privateKey);
  t.equal(hex(signature), field('signature'));
  t.equal(hex(encodeDerSignature(signature)), field('der'));
  // A second implementation (@noble/curves, RFC 6979 + low-S) produces the same bytes.
  t.equal(hex(secp256k1.sign(digest, pair.privateKey, { prehash: false, lowS: true })), field('signature'));
  verify(domain, message, signature, pair.publicKey);
  t.end();
});

t.test('domain separation: a signature for one domain fails for every other', (t) => {
  const privateKey = scalar(0x1234567890abcdefn);
  const publicKey = publicKeyFromPrivate(privateKey);
  const message = utf8('same bytes, different meaning');
  t.equal(DOMAINS.length, 14);
  t.equal(new Set(DOMAINS).size, DOMAINS.length, 'tags are distinct');
  let pairs = 0;
  for (const signedFor of DOMAINS) {
    const signature = sign(signedFor, message, privateKey);
    for (const checkedAs of DOMAINS) {
      if (checkedAs === signedFor) {
        verify(checkedAs, message, signature, publicKey);
        t.ok(isValidSignature(checkedAs, message, signature, publicKey));
      } else {
        t.throws(() => verify(checkedAs, message, signature, publicKey), { code: 'SIGNATURE_INVALID' });
        t.notOk(isValidSignature(checkedAs, message, signature, publicKey));
        pairs++;
      }
    }
  }
  t.equal(pairs, DOMAINS.length * (DOMAINS.length - 1));
  // A raw SHA-256 signature over the message does not verify under any domain either.
  const untagged = signDigest(sha256(message), privateKey);
  for (const d of DOMAINS) t.notOk(isValidSignature(d, message, untagged, publicKey));
  t.throws(() => signatureDigest('carchain/v1/unknown' as SignatureDomain, message), { code: 'DOMAIN_INVALID' });
  t.throws(() => sign('' as SignatureDomain, message, privateKey), { code: 'DOMAIN_INVALID' });
  t.throws(() => signatureDigest(DOMAIN.chainVote, 'text' as unknown as Uint8Array), TypeError);
  t.end();
});

t.test('tampered message, signature or key fails', (t) => {
  const privateKey = scalar(0xc0ffeen);
  const publicKey = publicKeyFromPrivate(privateKey);
  const message = utf8('uplink root 0001');
  const signature = sign(DOMAIN.uplinkRoot, message, privateKey);
  for (let i = 0; i < message.length; i++) {
    const m = message.slice();
    m[i] = m[i]! ^ 0x01;
    t.throws(() => verify(DOMAIN.uplinkRoot, m, signature, publicKey), { code: 'SIGNATURE_INVALID' });
  }
  t.throws(() => verify(DOMAIN.uplinkRoot, Uint8Array.of(...message, 0), signature, publicKey), { code: 'SIGNATURE_INVALID' });
  t.throws(() => verify(DOMAIN.uplinkRoot, message.subarray(1), signature, publicKey), { code: 'SIGNATURE_INVALID' });
  let flips = 0;
  for (let i = 0; i < SIGNATURE_LENGTH; i++) {
    for (const bit of [0x01, 0x80]) {
      const bad = signature.slice();
      bad[i] = bad[i]! ^ bit;
      const code = codeOf(() => verify(DOMAIN.uplinkRoot, message, bad, publicKey));
      t.ok((VERIFY_CODES as string[]).includes(code), `byte ${i} bit ${bit}: ${code}`);
      flips++;
    }
  }
  t.equal(flips, 128);
  const otherKey = publicKeyFromPrivate(scalar(0xc0ffefn));
  t.throws(() => verify(DOMAIN.uplinkRoot, message, signature, otherKey), { code: 'SIGNATURE_INVALID' });
  t.end();
});

t.test('high-S twin (n − s) is rejected with SIGNATURE_HIGH_S although it is mathematically valid', (t) => {
  let run = 0;
  for (let i = 1; i <= 50; i++) {
    const privateKey = scalar(BigInt(i) * 0x9e3779b97f4a7c15n);
    const publicKey = publicKeyFromPrivate(privateKey);
    const message = utf8(`vote ${i}`);
    const signature = sign(DOMAIN.chainVote, message, privateKey);
    const s = toBig(signature.subarray(32));
    t.ok(s <= HALF_ORDER);
    const twin = Uint8Array.of(...signature.subarray(0, 32), ...scalar(CURVE_ORDER - s));
    t.throws(() => verify(DOMAIN.chainVote, message, twin, publicKey), { code: 'SIGNATURE_HIGH_S' });
    t.throws(() => verifyDigest(signatureDigest(DOMAIN.chainVote, message), twin, publicKey), { code: 'SIGNATURE_HIGH_S' });
    // The lenient library mode would accept it: the check is what stops the malleability.
    t.ok(ecc.verify(signatureDigest(DOMAIN.chainVote, message), publicKey, twin, false));
    run++;
  }
  t.equal(run, 50);
  // Boundary: s = n/2 (floor) is low, s = n/2 + 1 is high.
  const digest = sha256(utf8('boundary'));
  const publicKey = publicKeyFromPrivate(scalar(7n));
  const withS = (s: bigint): Uint8Array => Uint8Array.of(...scalar(1n), ...scalar(s));
  t.throws(() => verifyDigest(digest, withS(HALF_ORDER), publicKey), { code: 'SIGNATURE_INVALID' });
  t.throws(() => verifyDigest(digest, withS(HALF_ORDER + 1n), publicKey), { code: 'SIGNATURE_HIGH_S' });
  t.end();
});

t.test('malformed compact signatures', (t) => {
  const digest = sha256(utf8('x'));
  const publicKey = publicKeyFromPrivate(scalar(3n));
  const good = signDigest(digest, scalar(3n));
  const r = good.subarray(0, 32);
  const s = good.subarray(32);
  const cases: [string, Uint8Array][] = [
    ['63 bytes', good.subarray(1)],
    ['65 bytes', Uint8Array.of(...good, 0)],
    ['empty', new Uint8Array(0)],
    ['DER instead of compact', encodeDerSignature(good).subarray(0, 64)],
    ['r = 0', Uint8Array.of(...scalar(0n), ...s)],
    ['s = 0', Uint8Array.of(...r, ...scalar(0n))],
    ['r = n', Uint8Array.of(...scalar(CURVE_ORDER), ...s)],
    ['s = n', Uint8Array.of(...r, ...scalar(CURVE_ORDER))],
    ['r = 2^256 - 1', Uint8Array.of(...new Uint8Array(32).fill(0xff), ...s)],
  ];
  for (const [name, signature] of cases) {
    const expected: string[] = name === 'DER instead of compact' ? VERIFY_CODES : ['SIGNATURE_MALFORMED'];
    const code = codeOf(() => verifyDigest(digest, signature, publicKey));
    t.ok(expected.includes(code), `${name}: ${code}`);
  }
  t.throws(() => encodeDerSignature(Uint8Array.of(...scalar(0n), ...s)), { code: 'SIGNATURE_MALFORMED' });
  t.throws(() => verifyDigest(digest.subarray(1), good, publicKey), RangeError);
  t.throws(() => verifyDigest(digest, 'sig' as unknown as Uint8Array, publicKey), TypeError);
  t.end();
});

t.test('strict DER: BER variants and malformed encodings are SIGNATURE_MALFORMED', (t) => {
  const good = signDigest(sha256(utf8('der')), scalar(11n));
  const der = encodeDerSignature(good);
  t.equal(hex(decodeDerSignature(der)), hex(good));
  const r = [...der.subarray(4, 4 + der[3]!)];
  const s = [...der.subarray(6 + der[3]!)];
  const seq = (body: number[]): Uint8Array => Uint8Array.from([0x30, body.length, ...body]);
  const int = (bytes: number[]): number[] => [0x02, bytes.length, ...bytes];
  t.equal(hex(seq([...int(r), ...int(s)])), hex(der), 'helpers rebuild the valid encoding');
  const positiveR = r[0] === 0 ? r.slice(1) : r; // without its sign-padding byte
  const cases: [string, Uint8Array][] = [
    ['extra 0x00 padding on r', seq([...int([0, ...r]), ...int(s)])],
    ['extra 0x00 padding on s', seq([...int(r), ...int([0, ...s])])],
    ['negative r (top bit set, no padding)', seq([...int([0x80 | positiveR[0]!, ...positiveR.slice(1)]), ...int(s)])],
    ['negative s', seq([...int(r), ...int([0xff, ...s.slice(1)])])],
    ['SEQUENCE length too long', Uint8Array.from([0x30, der[1]! + 1, ...der.subarray(2)])],
    ['SEQUENCE length too short', Uint8Array.from([0x30, der[1]! - 1, ...der.subarray(2)])],
    ['r length too long', Uint8Array.from([...der.subarray(0, 3), der[3]! + 1, ...der.subarray(4)])],
    ['r length too short', Uint8Array.from([...der.subarray(0, 3), der[3]! - 1, ...der.subarray(4)])],
    ['trailing byte', Uint8Array.from([...der, 0x00])],
    ['trailing byte, SEQUENCE length adjusted', seq([...int(r), ...int(s), 0x00])],
    ['sighash byte appended (Bitcoin script form)', Uint8Array.from([...der, 0x01])],
    ['long-form SEQUENCE length (BER)', Uint8Array.from([0x30, 0x81, der[1]!, ...der.subarray(2)])],
    ['long-form INTEGER length (BER)', seq([0x02, 0x81, r.length, ...r, ...int(s)])],
    ['wrong SEQUENCE tag', Uint8Array.from([0x31, ...der.subarray(1)])],
    ['wrong INTEGER tag', Uint8Array.from([0x30, der[1]!, 0x03, ...der.subarray(3)])],
    ['zero-length r', seq([...int([]), ...int(s)])],
    ['zero-length s', seq([...int(r), ...int([])])],
    ['r of 33 significant bytes', seq([...int([0x01, ...positiveR.concat(Array(32 - positiveR.length).fill(1))]), ...int(s)])],
    ['s missing', seq([...int(r)])],
    ['three integers', seq([...int(r), ...int(s), ...int([1])])],
    ['empty', new Uint8Array(0)],
    ['just a SEQUENCE header', Uint8Array.of(0x30, 0x00)],
    ['truncated', der.subarray(0, der.length - 1)],
    ['73 bytes', new Uint8Array(73).fill(0x30)],
  ];
  for (const [name, bytes] of cases) t.throws(() => decodeDerSignature(bytes), { code: 'SIGNATURE_MALFORMED' }, name);
  t.equal(cases.length, 24);
  // Minimal encodings of small values are fine: r = 1, s = 1 (range is checked at verification).
  t.equal(hex(decodeDerSignature(seq([...int([1]), ...int([1])]))), hex(Uint8Array.of(...scalar(1n), ...scalar(1n))));
  t.equal(hex(encodeDerSignature(Uint8Array.of(...scalar(1n), ...scalar(0x80n)))), '3007020101020200' + '80');
  t.end();
});

t.test('keys: KEY_INVALID for bad scalars and points', (t) => {
  const digest = sha256(utf8('k'));
  for (const [name, key] of [
    ['zero', scalar(0n)],
    ['n', scalar(CURVE_ORDER)],
    ['n + 1', scalar(CURVE_ORDER + 1n)],
    ['all ff', new Uint8Array(32).fill(0xff)],
  ] as const) {
    t.throws(() => publicKeyFromPrivate(key), { code: 'KEY_INVALID' }, name);
    t.throws(() => signDigest(digest, key), { code: 'KEY_INVALID' }, name);
    t.throws(() => sign(DOMAIN.deviceSetup, digest, key), { code: 'KEY_INVALID' }, name);
  }
  t.throws(() => publicKeyFromPrivate(new Uint8Array(31).fill(1)), { code: 'KEY_INVALID' });
  t.throws(() => publicKeyFromPrivate('k' as unknown as Uint8Array), TypeError);
  t.equal(hex(publicKeyFromPrivate(scalar(CURVE_ORDER - 1n))), '0379be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798', '−G');

  const privateKey = scalar(5n);
  const compressed = publicKeyFromPrivate(privateKey);
  const uncompressed = ecc.pointCompress(compressed, false);
  const signature = signDigest(digest, privateKey);
  assertPublicKey(compressed);
  verifyDigest(digest, signature, uncompressed); // 65 bytes accepted at the digest level (vectors)
  t.throws(() => assertPublicKey(uncompressed), { code: 'KEY_INVALID' }, 'domain API wants 33 bytes');
  t.throws(() => verify(DOMAIN.deviceReset, digest, sign(DOMAIN.deviceReset, digest, privateKey), uncompressed), { code: 'KEY_INVALID' });
  const offCurve = compressed.slice();
  offCurve[32] = offCurve[32]! ^ 1;
  const hybrid = uncompressed.slice();
  hybrid[0] = 0x06 | (uncompressed[64]! & 1);
  t.ok(ecc.isPoint(hybrid), 'libsecp256k1 would parse the hybrid form…');
  for (const [name, key] of [
    ['off curve', offCurve],
    ['hybrid 0x06/0x07', hybrid],
    ['x-only 32 bytes', compressed.subarray(1)],
    ['prefix 0x05', Uint8Array.of(0x05, ...compressed.subarray(1))],
    ['point at infinity 0x00', Uint8Array.of(0)],
  ] as const) {
    t.throws(() => verifyDigest(digest, signature, key), { code: 'KEY_INVALID' }, name);
    t.throws(() => verify(DOMAIN.deviceReset, digest, signature, key), { code: 'KEY_INVALID' }, `${name} (domain API)`);
    t.throws(() => assertPublicKey(key), { code: 'KEY_INVALID' }, name);
  }
  // The curve check inside verify is libsecp256k1's own key parsing: an x with no point is refused
  // as KEY_INVALID there too, never as a mere failed signature.
  let noPoint = 0;
  for (let x = 1; noPoint < 8; x++) {
    const key = Uint8Array.of(0x02, ...scalar(BigInt(x)));
    if (ecc.isPoint(key)) continue;
    noPoint++;
    t.throws(() => verifyDigest(digest, signature, key), { code: 'KEY_INVALID' }, `x = ${x} has no point`);
  }
  t.end();
});

t.test('randomPrivateKey: injectable source, redraws invalid scalars, gives up on a broken source', (t) => {
  const draws = [scalar(0n), scalar(CURVE_ORDER), scalar(42n)];
  let calls = 0;
  const key = randomPrivateKey((n) => {
    t.equal(n, 32);
    return draws[calls++]!;
  });
  t.equal(hex(key), hex(scalar(42n)));
  t.equal(calls, 3);
  t.throws(() => randomPrivateKey(() => new Uint8Array(32)), Error);
  t.throws(() => randomPrivateKey(() => new Uint8Array(16).fill(1)), Error, 'short output is never used');
  const a = randomPrivateKey();
  const b = randomPrivateKey();
  t.equal(a.length, 32);
  t.not(hex(a), hex(b));
  t.end();
});

t.test('property: sign/verify round trip, deterministic, never high-S', (t) => {
  let runs = 0;
  fc.assert(
    fc.property(
      fc.bigInt({ min: 1n, max: CURVE_ORDER - 1n }),
      fc.uint8Array({ maxLength: 300 }),
      fc.constantFrom(...DOMAINS),
      (k, message, domain) => {
        runs++;
        const privateKey = scalar(k);
        const publicKey = publicKeyFromPrivate(privateKey);
        const signature = sign(domain, message, privateKey);
        verify(domain, message, signature, publicKey);
        return (
          signature.length === SIGNATURE_LENGTH &&
          toBig(signature.subarray(32)) <= HALF_ORDER &&
          hex(sign(domain, message, privateKey)) === hex(signature) &&
          hex(decodeDerSignature(encodeDerSignature(signature))) === hex(signature)
        );
      },
    ),
    { numRuns: 1000 },
  );
  t.equal(runs, 1000);
  // And over 2000 fresh random keys and messages: no high-S ever leaves signDigest.
  let highS = 0;
  for (let i = 0; i < 2000; i++) {
    const signature = signDigest(sha256(randomPrivateKey()), randomPrivateKey());
    if (toBig(signature.subarray(32)) > HALF_ORDER) highS++;
  }
  t.equal(highS, 0);
  t.end();
});
