// Tests for P2PKH addresses: published pubkey → address examples, Bitcoin Core key_io vectors, wrong versions.
import { readFileSync } from 'node:fs';
import t from 'tap';
import fc from 'fast-check';
import {
  addressMatchesPublicKey,
  decodeAddress,
  isAddress,
  p2pkhAddress,
  P2PKH_VERSION,
} from '../../protocol/address.js';
import { base58checkEncode } from '../../protocol/base58check.js';
import { hash160 } from '../../protocol/hash.js';
import { CURVE_ORDER, publicKeyFromPrivate } from '../../protocol/signature.js';

interface AddressFixture {
  fromPublicKey: { privateKey: string; publicKey: string; hash160?: string; address: string }[];
  keyIoValidP2pkhMain: { address: string; scriptPubKey: string }[];
  keyIoValidOtherVersions: { address: string; kind: string }[];
}
const fixture = JSON.parse(
  readFileSync(new URL('../fixtures/base58/p2pkh-addresses.json', import.meta.url), 'utf8'),
) as AddressFixture;
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const unhex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'hex'));

t.test('published public key → address examples', (t) => {
  let run = 0;
  for (const v of fixture.fromPublicKey) {
    const publicKey = unhex(v.publicKey);
    t.equal(p2pkhAddress(publicKey), v.address, v.address);
    if (v.hash160 !== undefined) t.equal(hex(decodeAddress(v.address)), v.hash160);
    t.equal(hex(decodeAddress(v.address)), hex(hash160(publicKey)));
    t.ok(addressMatchesPublicKey(v.address, publicKey));
    // The private key reproduces the compressed key; uncompressed rows share the scalar.
    const compressed = publicKeyFromPrivate(unhex(v.privateKey));
    if (publicKey.length === 33) t.equal(hex(compressed), v.publicKey);
    else t.equal(hex(compressed.subarray(1)), v.publicKey.slice(2, 66), 'same x coordinate');
    run++;
  }
  t.equal(run, 4);
  t.equal(run, fixture.fromPublicKey.length);
  // Compressed and uncompressed encodings of one point are different addresses.
  const [compressed, uncompressed] = fixture.fromPublicKey;
  t.notOk(addressMatchesPublicKey(compressed!.address, unhex(uncompressed!.publicKey)));
  t.end();
});

t.test('Bitcoin Core key_io_valid.json main-net P2PKH entries decode to their hash160', (t) => {
  let run = 0;
  for (const v of fixture.keyIoValidP2pkhMain) {
    // scriptPubKey = OP_DUP OP_HASH160 <20> hash160 OP_EQUALVERIFY OP_CHECKSIG
    t.match(v.scriptPubKey, /^76a914[0-9a-f]{40}88ac$/);
    const h = v.scriptPubKey.slice(6, 46);
    t.equal(hex(decodeAddress(v.address)), h);
    t.equal(base58checkEncode(Uint8Array.from([P2PKH_VERSION, ...unhex(h)])), v.address);
    t.ok(isAddress(v.address));
    run++;
  }
  t.equal(run, 3);
  t.end();
});

t.test('valid Bitcoin strings that are not main-net P2PKH are ADDRESS_INVALID', (t) => {
  let run = 0;
  for (const v of fixture.keyIoValidOtherVersions) {
    t.throws(() => decodeAddress(v.address), { code: 'ADDRESS_INVALID' }, `${v.address} (${v.kind})`);
    t.notOk(isAddress(v.address));
    run++;
  }
  t.equal(run, 8);
  t.end();
});

t.test('wrong version byte, wrong length, bad checksum', (t) => {
  const h = unhex('f54a5851e9372b87810a8e60cdd2e7cfd80b6e31');
  for (const version of [0x01, 0x05, 0x6f, 0x80, 0xff]) {
    const text = base58checkEncode(Uint8Array.from([version, ...h]));
    t.throws(() => decodeAddress(text), { code: 'ADDRESS_INVALID' }, `version 0x${version.toString(16)}`);
  }
  t.throws(() => decodeAddress(base58checkEncode(Uint8Array.from([0, ...h.subarray(1)]))), { code: 'ADDRESS_INVALID' }, '19-byte hash');
  t.throws(() => decodeAddress(base58checkEncode(Uint8Array.from([0, ...h, 0]))), { code: 'ADDRESS_INVALID' }, '21-byte hash');
  t.throws(() => decodeAddress('1PMycacnJaSqwwJqjawXBErnLsZ7RkXUAt'), { code: 'CHECKSUM_MISMATCH' });
  t.throws(() => decodeAddress(''), { code: 'ADDRESS_INVALID' });
  t.throws(() => decodeAddress('1'.repeat(200)), { code: 'ADDRESS_INVALID' }, 'over the length bound');
  t.notOk(isAddress('1PMycacnJaSqwwJqjawXBErnLsZ7RkXUAt'));
  t.notOk(isAddress(' 1PMycacnJaSqwwJqjawXBErnLsZ7RkXUAs'));
  t.notOk(isAddress(null as unknown as string));
  t.throws(() => decodeAddress(null as unknown as string), TypeError);
  t.throws(() => addressMatchesPublicKey('1PMycacnJaSqwwJqjawXBErnLsZ7RkXUAt', unhex(fixture.fromPublicKey[0]!.publicKey)), {
    code: 'CHECKSUM_MISMATCH',
  });
  t.end();
});

t.test('public keys that are not curve points are KEY_INVALID', (t) => {
  const good = unhex('0250863ad64a87ae8a2fe83c1af1a8403cb53f53e486d8511dad8a04887e5b2352');
  const notOnCurve = good.slice();
  notOnCurve[32] = notOnCurve[32]! ^ 0x01; // this x has no y on the curve
  const wrongPrefix = good.slice();
  wrongPrefix[0] = 0x04;
  const hybrid = unhex(fixture.fromPublicKey[1]!.publicKey);
  hybrid[0] = 0x06; // SEC1 hybrid form: refused
  for (const [name, key] of [
    ['x not on curve', notOnCurve],
    ['33 bytes with 0x04 prefix', wrongPrefix],
    ['hybrid 0x06', hybrid],
    ['32 bytes', good.subarray(1)],
    ['empty', new Uint8Array(0)],
    ['x = p (out of field)', unhex('02' + 'ff'.repeat(28) + 'fffffc2f')],
  ] as const) {
    t.throws(() => p2pkhAddress(key), { code: 'KEY_INVALID' }, name);
    t.throws(() => addressMatchesPublicKey('1PMycacnJaSqwwJqjawXBErnLsZ7RkXUAs', key), { code: 'KEY_INVALID' }, name);
  }
  t.end();
});

t.test('round trip: random key → address → hash160', (t) => {
  let runs = 0;
  fc.assert(
    fc.property(fc.bigInt({ min: 1n, max: CURVE_ORDER - 1n }), (scalar) => {
      runs++;
      const privateKey = unhex(scalar.toString(16).padStart(64, '0'));
      const publicKey = publicKeyFromPrivate(privateKey);
      const address = p2pkhAddress(publicKey);
      return (
        address.startsWith('1') &&
        isAddress(address) &&
        hex(decodeAddress(address)) === hex(hash160(publicKey)) &&
        addressMatchesPublicKey(address, publicKey)
      );
    }),
    { numRuns: 200 },
  );
  t.equal(runs, 200);
  t.end();
});
