// Tests for protocol/envelope.ts: round trips, slot binding, tampering, grants (re-wrap), strict decoding, pinned vectors.
import t from 'tap';
import { createHash, generateKeyPairSync } from 'node:crypto';
import {
  CONTENT_KEY_BYTES,
  ENVELOPE_KEY_LABEL_TAG,
  ENVELOPE_VERSION,
  MAX_ENVELOPE_BYTES,
  MAX_PLAINTEXT_BYTES,
  decodeEnvelope,
  encodeEnvelope,
  envelopeAad,
  openValue,
  rewrapContentKey,
  sealValue,
  unwrapContentKey,
  type Envelope,
  type EnvelopeSlot,
} from '../../protocol/envelope.js';
import { aesGcmOpen } from '../../protocol/aead.js';
import { deriveRsaKeyPair, oaepWrap } from '../../protocol/rsa.js';
import { taggedHash } from '../../protocol/hash.js';
import { ByteWriter, utf8 } from '../../protocol/wire.js';

const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const sha256Hex = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');
/** Deterministic "randomness" for fixtures: the bytes 00 01 02 … in order across calls. */
const counterRandom = (): ((n: number) => Uint8Array) => {
  let next = 0;
  return (n) => Uint8Array.from({ length: n }, () => next++ & 0xff);
};

const owner = deriveRsaKeyPair(Uint8Array.from({ length: 32 }, (_, i) => i), 3072); // pinned in rsa.test.ts
const SLOT: EnvelopeSlot = { address: '1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2', format: 'trip-gps', encodedKey: Uint8Array.of(1, 2, 3, 4) };
const VALUE = utf8('{"vid":"LSVAU2180N2183294"}');

t.test('pinned vectors: AAD, OAEP label, envelope bytes from counter randomness', (t) => {
  const aad = envelopeAad(SLOT);
  t.equal(
    toHex(aad),
    '01' + '22' + toHex(utf8(SLOT.address)) + '08' + toHex(utf8('trip-gps')) + '04' + '01020304',
    'AAD layout: version, then varint-length-prefixed address, format, key',
  );
  t.equal(toHex(aad), '0122314276424d53455973745765747154466e354175346d3447466737784a614e564e3208747269702d6770730401020304');
  t.equal(toHex(taggedHash(ENVELOPE_KEY_LABEL_TAG, aad)), '1fdae8d7c7a026d0faaed2217959d80877a7c81c7d10b484299207d497dc6e6a');

  const first = encodeEnvelope(sealValue(owner.publicKey, SLOT, VALUE, counterRandom()));
  const second = encodeEnvelope(sealValue(owner.publicKey, SLOT, VALUE, counterRandom()));
  t.same(first, second, 'same randomness, same bytes');
  t.equal(first.length, 1 + 2 + 384 + 12 + 16 + 1 + VALUE.length);
  t.equal(sha256Hex(first), '5243d321530f76c5857b2ae9d751369aafaf4975029a2763947bf17653c43719');
  const envelope = decodeEnvelope(first);
  t.equal(toHex(envelope.iv), '202122232425262728292a2b', 'IV is the second draw (after the 32-byte content key)');
  t.same(unwrapContentKey(owner.privateKey, SLOT, envelope.wrappedKey), Uint8Array.from({ length: 32 }, (_, i) => i));
  t.same(openValue(owner.privateKey, SLOT, envelope), VALUE);
  t.not(toHex(encodeEnvelope(sealValue(owner.publicKey, SLOT, VALUE))), toHex(first), 'default randomness differs');
  t.end();
});

t.test('round trip through the wire format, from empty to the maximum size', (t) => {
  for (const size of [0, 1, 1000, MAX_PLAINTEXT_BYTES]) {
    const plaintext = Uint8Array.from({ length: size }, (_, i) => (i * 31) & 0xff);
    const envelope = sealValue(owner.publicKey, SLOT, plaintext);
    t.equal(envelope.version, ENVELOPE_VERSION);
    t.equal(envelope.wrappedKey.length, 384);
    t.equal(envelope.ciphertext.length, size);
    const decoded = decodeEnvelope(encodeEnvelope(envelope));
    t.same(decoded, envelope);
    t.same(openValue(owner.privateKey, SLOT, decoded), plaintext, `${size} bytes`);
  }
  t.throws(() => sealValue(owner.publicKey, SLOT, new Uint8Array(MAX_PLAINTEXT_BYTES + 1)), RangeError);
  t.throws(() => sealValue(owner.publicKey, SLOT, 'text' as unknown as Uint8Array), TypeError);
  t.throws(() => sealValue(generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey, SLOT, VALUE), { code: 'KEY_INVALID' });
  t.throws(() => sealValue(owner.publicKey, SLOT, VALUE, () => new Uint8Array(1)), TypeError);
  t.end();
});

t.test('an envelope opens only in its own slot, with the right key, untampered', (t) => {
  const envelope = sealValue(owner.publicKey, SLOT, VALUE);
  const fails = (what: string, f: () => unknown): void => {
    t.throws(f, { code: 'ENVELOPE_OPEN_FAILED' }, what);
  };
  fails('other address', () => openValue(owner.privateKey, { ...SLOT, address: '1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN3' }, envelope));
  fails('other format', () => openValue(owner.privateKey, { ...SLOT, format: 'carvio' }, envelope));
  fails('other key', () => openValue(owner.privateKey, { ...SLOT, encodedKey: Uint8Array.of(1, 2, 3, 5) }, envelope));
  fails('longer key', () => openValue(owner.privateKey, { ...SLOT, encodedKey: Uint8Array.of(1, 2, 3, 4, 0) }, envelope));
  const flip = (b: Uint8Array, i: number): Uint8Array => b.map((x, j) => (j === i ? x ^ 1 : x));
  fails('tampered wrappedKey', () => openValue(owner.privateKey, SLOT, { ...envelope, wrappedKey: flip(envelope.wrappedKey, 200) }));
  fails('tampered iv', () => openValue(owner.privateKey, SLOT, { ...envelope, iv: flip(envelope.iv, 11) }));
  fails('tampered tag', () => openValue(owner.privateKey, SLOT, { ...envelope, tag: flip(envelope.tag, 0) }));
  fails('tampered ciphertext', () => openValue(owner.privateKey, SLOT, { ...envelope, ciphertext: flip(envelope.ciphertext, 5) }));
  fails('truncated ciphertext', () => openValue(owner.privateKey, SLOT, { ...envelope, ciphertext: envelope.ciphertext.subarray(1) }));
  fails('someone else\'s key', () => openValue(generateKeyPairSync('rsa', { modulusLength: 3072 }).privateKey, SLOT, envelope));
  // The wire bytes too: flip every byte of an encoded envelope; each must fail with a typed error.
  const bytes = encodeEnvelope(envelope);
  let typed = 0;
  for (let i = 0; i < bytes.length; i++) {
    try {
      openValue(owner.privateKey, SLOT, decodeEnvelope(flip(bytes, i)));
    } catch (err) {
      if ((err as { code?: string }).code !== undefined) typed++;
    }
  }
  t.equal(typed, bytes.length, 'every single-bit flip of the wire bytes is rejected with a code');
  t.end();
});

t.test('a content key that is not 32 bytes is the same generic failure', (t) => {
  const label = taggedHash(ENVELOPE_KEY_LABEL_TAG, envelopeAad(SLOT));
  const envelope = sealValue(owner.publicKey, SLOT, VALUE);
  // Anyone holding the public key can wrap a 16-byte key with the right label.
  const short = oaepWrap(owner.publicKey, new Uint8Array(16), label);
  t.throws(() => unwrapContentKey(owner.privateKey, SLOT, short), { code: 'ENVELOPE_OPEN_FAILED' });
  t.throws(() => openValue(owner.privateKey, SLOT, envelope, short), { code: 'ENVELOPE_OPEN_FAILED' });
  const contentKey = unwrapContentKey(owner.privateKey, SLOT, envelope.wrappedKey);
  t.equal(contentKey.length, CONTENT_KEY_BYTES);
  t.same(aesGcmOpen(contentKey, envelope.iv, envelope.ciphertext, envelope.tag, envelopeAad(SLOT)), VALUE, 'it is the AES key');
  t.end();
});

t.test('grants: re-wrap to 2048- and 3072-bit grantees without touching the ciphertext', (t) => {
  const envelope = sealValue(owner.publicKey, SLOT, VALUE);
  const wire = encodeEnvelope(envelope);
  const grantees = [
    { bits: 2048, ...deriveRsaKeyPair(new Uint8Array(32).fill(0xaa), 2048) },
    { bits: 3072, ...generateKeyPairSync('rsa', { modulusLength: 3072 }) },
  ];
  for (const grantee of grantees) {
    const granteeKey = rewrapContentKey(owner.privateKey, SLOT, envelope.wrappedKey, grantee.publicKey);
    t.equal(granteeKey.length, grantee.bits / 8);
    t.same(openValue(grantee.privateKey, SLOT, decodeEnvelope(wire), granteeKey), VALUE, `${grantee.bits}-bit grantee reads`);
    t.same(encodeEnvelope(envelope), wire, 'ciphertext and envelope bytes unchanged');
    t.throws(() => openValue(grantee.privateKey, SLOT, envelope), { code: 'ENVELOPE_OPEN_FAILED' }, 'owner\'s wrapped key is not the grantee\'s');
    t.throws(() => openValue(owner.privateKey, SLOT, envelope, granteeKey), { code: 'ENVELOPE_OPEN_FAILED' }, 'owner cannot use the grantee\'s');
    for (const other of [{ ...SLOT, address: '1111111111111111111114oLvT2' }, { ...SLOT, format: 'dtc' }, { ...SLOT, encodedKey: new Uint8Array(0) }]) {
      t.throws(() => unwrapContentKey(grantee.privateKey, other, granteeKey), { code: 'ENVELOPE_OPEN_FAILED' }, 'grantee key bound to the slot');
      // Moving the ciphertext and the grantee's key together to another slot fails too.
      t.throws(() => openValue(grantee.privateKey, other, envelope, granteeKey), { code: 'ENVELOPE_OPEN_FAILED' });
    }
    // The re-wrapped key is an ordinary envelope wrappedKey: it fits the wire format.
    const granteeEnvelope: Envelope = { ...envelope, wrappedKey: granteeKey };
    t.same(openValue(grantee.privateKey, SLOT, decodeEnvelope(encodeEnvelope(granteeEnvelope))), VALUE);
  }
  t.throws(
    () => rewrapContentKey(owner.privateKey, { ...SLOT, format: 'dtc' }, envelope.wrappedKey, grantees[0]!.publicKey),
    { code: 'ENVELOPE_OPEN_FAILED' },
    'cannot re-wrap for another slot',
  );
  const a = rewrapContentKey(owner.privateKey, SLOT, envelope.wrappedKey, grantees[0]!.publicKey, counterRandom());
  const b = rewrapContentKey(owner.privateKey, SLOT, envelope.wrappedKey, grantees[0]!.publicKey, counterRandom());
  t.same(a, b, 'deterministic with injected randomness');
  t.end();
});

t.test('decodeEnvelope: strict, bounded, typed', (t) => {
  const envelope = sealValue(owner.publicKey, SLOT, VALUE);
  const bytes = encodeEnvelope(envelope);
  for (let length = 0; length < bytes.length; length++) {
    t.throws(() => decodeEnvelope(bytes.subarray(0, length)), { code: 'DECODE_TRUNCATED' }, `prefix of ${length}`);
  }
  t.throws(() => decodeEnvelope(new Uint8Array([...bytes, 0])), { code: 'DECODE_TRAILING_BYTES' });
  t.throws(() => decodeEnvelope(new Uint8Array([2, ...bytes.subarray(1)])), { code: 'UNSUPPORTED_VERSION' });
  t.throws(() => decodeEnvelope(new Uint8Array([0, ...bytes.subarray(1)])), { code: 'UNSUPPORTED_VERSION' });
  t.throws(() => decodeEnvelope(new Uint8Array(MAX_ENVELOPE_BYTES + 1)), { code: 'DECODE_TOO_LARGE' });
  t.throws(() => decodeEnvelope('01' as unknown as Uint8Array), TypeError);

  const build = (wrappedKey: Uint8Array, ciphertextLength: number, body = ciphertextLength): Uint8Array =>
    new ByteWriter().u8(1).bytes(wrappedKey).raw(new Uint8Array(28)).varint(ciphertextLength).raw(new Uint8Array(body)).finish();
  t.throws(() => decodeEnvelope(build(new Uint8Array(513), 0)), { code: 'DECODE_TOO_LARGE' }, '513-byte wrapped key');
  t.throws(() => decodeEnvelope(build(new Uint8Array(255), 0)), { code: 'DECODE_INVALID' }, '255-byte wrapped key');
  t.throws(() => decodeEnvelope(build(new Uint8Array(256), MAX_PLAINTEXT_BYTES + 1, 0)), { code: 'DECODE_TOO_LARGE' }, 'ciphertext length over the limit');
  t.throws(() => decodeEnvelope(build(new Uint8Array(256), 2 ** 40, 0)), { code: 'DECODE_TOO_LARGE' }, 'absurd length, no allocation');
  const nonCanonical = new Uint8Array([1, 0x80, 0x83, 0x00, ...bytes.subarray(3)]); // 384 as a 3-byte varint
  t.throws(() => decodeEnvelope(nonCanonical), { code: 'DECODE_NON_CANONICAL' });

  const largest = build(new Uint8Array(512).fill(1), MAX_PLAINTEXT_BYTES);
  t.equal(largest.length, MAX_ENVELOPE_BYTES, 'MAX_ENVELOPE_BYTES is the largest valid encoding');
  t.equal(decodeEnvelope(largest).ciphertext.length, MAX_PLAINTEXT_BYTES);
  const smallest = build(new Uint8Array(256), 0);
  t.same(decodeEnvelope(smallest).wrappedKey, new Uint8Array(256));

  // Decoded fields are copies: mutating the input afterwards changes nothing.
  const input = Uint8Array.from(bytes);
  const decoded = decodeEnvelope(input);
  input.fill(0);
  t.same(openValue(owner.privateKey, SLOT, decoded), VALUE);
  t.end();
});

t.test('hand-built envelopes and slots are validated with typed errors', (t) => {
  const envelope = sealValue(owner.publicKey, SLOT, VALUE);
  t.throws(() => openValue(owner.privateKey, SLOT, { ...envelope, version: 2 }), { code: 'UNSUPPORTED_VERSION' });
  t.throws(() => openValue(owner.privateKey, SLOT, { ...envelope, iv: new Uint8Array(16) }), { code: 'DECODE_INVALID' });
  t.throws(() => openValue(owner.privateKey, SLOT, { ...envelope, tag: envelope.tag.subarray(0, 12) }), { code: 'DECODE_INVALID' });
  t.throws(() => openValue(owner.privateKey, SLOT, { ...envelope, wrappedKey: new Uint8Array(600) }), { code: 'DECODE_TOO_LARGE' });
  t.throws(() => openValue(owner.privateKey, SLOT, { ...envelope, ciphertext: new Uint8Array(MAX_PLAINTEXT_BYTES + 1) }), { code: 'DECODE_TOO_LARGE' });
  t.throws(() => openValue(owner.privateKey, SLOT, envelope, new Uint8Array(300)), { code: 'ENVELOPE_OPEN_FAILED' });
  t.throws(() => encodeEnvelope({ ...envelope, iv: new Uint8Array(11) }), RangeError);
  t.throws(() => encodeEnvelope({ ...envelope, version: 2 }), RangeError);
  t.throws(() => encodeEnvelope({ ...envelope, wrappedKey: new Uint8Array(100) }), RangeError);

  // The AAD is injective: length prefixes keep "ab"+"c" and "a"+"bc" apart.
  t.not(toHex(envelopeAad({ address: 'ab', format: 'c', encodedKey: new Uint8Array(0) })), toHex(envelopeAad({ address: 'a', format: 'bc', encodedKey: new Uint8Array(0) })));
  t.not(toHex(envelopeAad({ ...SLOT, format: 'x', encodedKey: Uint8Array.of(1) })), toHex(envelopeAad({ ...SLOT, format: 'x\u0001', encodedKey: new Uint8Array(0) })));
  t.ok(envelopeAad({ ...SLOT, format: '维修' }).length > 0, 'non-ASCII names are fine');
  t.throws(() => envelopeAad({ ...SLOT, address: '' }), RangeError);
  t.throws(() => envelopeAad({ ...SLOT, format: '' }), RangeError);
  // '\uD800' and '\uFFFD' would both encode to EF BF BD: refuse the ill-formed one.
  t.throws(() => envelopeAad({ ...SLOT, format: 'trip\uD800' }), RangeError);
  t.throws(() => envelopeAad({ ...SLOT, address: 'a\uDC00b' }), RangeError);
  t.ok(envelopeAad({ ...SLOT, format: 'trip\uD83D\uDE97' }), 'surrogate pairs are well-formed');
  t.throws(() => envelopeAad({ ...SLOT, address: 5 as unknown as string }), TypeError);
  t.throws(() => envelopeAad({ ...SLOT, encodedKey: [1] as unknown as Uint8Array }), TypeError);
  t.throws(() => envelopeAad(null as unknown as EnvelopeSlot), TypeError);
  t.end();
});
