// Tests for base58 / base58check: Bitcoin Core vectors, checksum tampering, alphabet and length bounds.
import { readFileSync } from 'node:fs';
import t from 'tap';
import fc from 'fast-check';
import {
  base58Decode,
  base58Encode,
  base58checkDecode,
  base58checkEncode,
  MAX_BASE58CHECK_LENGTH,
} from '../../protocol/base58check.js';
import { isProtocolError } from '../../protocol/errors.js';

const fixture = (name: string): unknown => JSON.parse(readFileSync(new URL(`../fixtures/${name}`, import.meta.url), 'utf8'));
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const unhex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'hex'));

t.test('Bitcoin Core base58_encode_decode.json: every vector encodes and decodes', (t) => {
  const vectors = fixture('base58/base58_encode_decode.json') as [string, string][];
  let run = 0;
  for (const [hexData, text] of vectors) {
    t.equal(base58Encode(unhex(hexData)), text, `encode ${hexData.slice(0, 16)}`);
    t.equal(hex(base58Decode(text, 1000)), hexData.toLowerCase(), `decode ${text.slice(0, 16)}`);
    run++;
  }
  t.equal(run, 21, 'all 21 vectors ran');
  t.equal(run, vectors.length);
  t.end();
});

t.test('base58check decodes a published address and extended keys', (t) => {
  // Bitcoin wiki address: version 00 ‖ hash160 f54a…6e31 (see test/fixtures/base58/p2pkh-addresses.json).
  t.equal(hex(base58checkDecode('1PMycacnJaSqwwJqjawXBErnLsZ7RkXUAs')), '00f54a5851e9372b87810a8e60cdd2e7cfd80b6e31');
  t.equal(base58checkEncode(unhex('00f54a5851e9372b87810a8e60cdd2e7cfd80b6e31')), '1PMycacnJaSqwwJqjawXBErnLsZ7RkXUAs');
  // A plain-base58 Core vector is not base58check: its last 4 bytes are no checksum.
  t.throws(() => base58checkDecode('1NS17iag9jJgTHD1VXjvLCEnZuQ3rJDE9L'), { code: 'CHECKSUM_MISMATCH' });
  // BIP32 test vector 1 master xprv: 78-byte payload starting with version 0488ade4.
  const xprv = 'xprv9s21ZrQH143K3QTDL4LXw2F7HEK3wJUD2nW2nRk4stbPy6cq3jPPqjiChkVvvNKmPGJxWUtg6LnF5kejMRNNU3TGtRBeJgk33yuGBxrMPHi';
  const payload = base58checkDecode(xprv);
  t.equal(payload.length, 78);
  t.equal(hex(payload.subarray(0, 4)), '0488ade4');
  t.equal(base58checkEncode(payload), xprv);
  t.end();
});

t.test('round trip for random payloads (leading zeros included)', (t) => {
  let runs = 0;
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 1, maxLength: 80 }), fc.nat({ max: 4 }), (body, zeros) => {
      runs++;
      const payload = new Uint8Array(zeros + body.length);
      payload.set(body, zeros);
      const text = base58checkEncode(payload);
      return text.length <= MAX_BASE58CHECK_LENGTH && hex(base58checkDecode(text)) === hex(payload);
    }),
    { numRuns: 500 },
  );
  t.equal(runs, 500, 'property held for 500 random payloads');
  t.end();
});

t.test('every single-character substitution of an address is rejected', (t) => {
  const address = '1PMycacnJaSqwwJqjawXBErnLsZ7RkXUAs';
  const alphabet = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz';
  let checksumMismatches = 0;
  let tried = 0;
  for (let i = 0; i < address.length; i++) {
    for (const c of alphabet) {
      if (c === address[i]) continue;
      const tampered = address.slice(0, i) + c + address.slice(i + 1);
      tried++;
      try {
        base58checkDecode(tampered);
        t.fail(`accepted ${tampered}`);
      } catch (err) {
        if (isProtocolError(err, 'CHECKSUM_MISMATCH')) checksumMismatches++;
        else t.ok(isProtocolError(err), `typed error for ${tampered}`);
      }
    }
  }
  t.equal(tried, 34 * 57);
  t.equal(checksumMismatches, tried, 'same length, same alphabet → always a checksum failure');
  t.throws(() => base58checkDecode('1PMycacnJaSqwwJqjawXBErnLsZ7RkXUAt'), { code: 'CHECKSUM_MISMATCH' });
  t.end();
});

t.test('bad characters, too short, too long', (t) => {
  for (const bad of ['0', 'O', 'I', 'l', ' ', '+', '/', 'é', '1PMycacnJaSqwwJqjawXBErnLsZ7RkXUA ', '\u0000', '1PMycacnJaSqwwJqjawXBErnLsZ7RkXU0s']) {
    t.throws(() => base58checkDecode(bad), { code: 'DECODE_INVALID' }, JSON.stringify(bad));
  }
  // Fewer than 1 payload byte + 4 checksum bytes.
  for (const short of ['', '1', '1111', '2g', base58Encode(new Uint8Array([1, 2, 3, 4]))]) {
    t.throws(() => base58checkDecode(short), { code: 'DECODE_INVALID' }, `too short: ${JSON.stringify(short)}`);
  }
  t.throws(() => base58checkDecode('11111'), { code: 'CHECKSUM_MISMATCH' }, '5 zero bytes: long enough, bad checksum');
  t.throws(() => base58checkDecode('2'.repeat(MAX_BASE58CHECK_LENGTH + 1)), { code: 'DECODE_TOO_LARGE' });
  t.throws(() => base58Decode('2'.repeat(5000)), { code: 'DECODE_TOO_LARGE' });
  t.throws(() => base58checkEncode(new Uint8Array(0)), RangeError);
  t.throws(() => base58checkEncode(new Uint8Array(120).fill(0xff)), RangeError, 'would exceed the decode bound');
  t.throws(() => base58checkDecode(42 as unknown as string), TypeError);
  t.throws(() => base58checkEncode([1, 2] as unknown as Uint8Array), TypeError);
  t.end();
});
