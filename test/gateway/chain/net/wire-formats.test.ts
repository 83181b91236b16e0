// Pure parts of the peer layer: key schedule against an independent implementation, frame cipher, envelopes, decoders under fuzz.
import { createECDH, createHash, hkdfSync, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { hkdf } from '@noble/hashes/hkdf.js';
import { sha256 as nobleSha256 } from '@noble/hashes/sha2.js';
import fc from 'fast-check';
import t from 'tap';
import { decodeEnvelope, encodeEnvelope, MAX_ERROR_MESSAGE, type Envelope } from '../../../../gateway/chain/net/envelope.js';
import { NetError } from '../../../../gateway/chain/net/errors.js';
import { FrameOpener, FrameSealer, StreamBuffer } from '../../../../gateway/chain/net/frame-cipher.js';
import {
  decodeAuth,
  decodeHello,
  deriveSessionKeys,
  encodeAuth,
  encodeHello,
  ephemeralSharedSecret,
  generateEphemeral,
  HELLO_LENGTH,
  KEY_SCHEDULE_INFO,
  signChallenge,
  verifyAuth,
} from '../../../../gateway/chain/net/handshake.js';
import { CHAIN_ID, testKey } from './helpers.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

function side() {
  return { ...generateEphemeral(), random: new Uint8Array(randomBytes(32)) };
}

t.test('key schedule: both sides agree, directions differ, and node:crypto derives the same keys', (t) => {
  for (let i = 0; i < 20; i++) {
    const a = side();
    const b = side();
    const ka = deriveSessionKeys(a, decodeHello(encodeHello({ ephemeralPublicKey: b.publicKey, random: b.random })));
    const kb = deriveSessionKeys(b, { ephemeralPublicKey: a.publicKey, random: a.random });
    t.equal(hex(ka.sendKey), hex(kb.receiveKey));
    t.equal(hex(ka.receiveKey), hex(kb.sendKey));
    t.equal(hex(ka.challenge), hex(kb.challenge));
    t.not(hex(ka.sendKey), hex(ka.receiveKey), 'one key per direction');

    // Independent: OpenSSL ECDH (x-coordinate) + OpenSSL HKDF, transcript written out by hand.
    const ecdh = createECDH('secp256k1');
    ecdh.setPrivateKey(a.privateKey);
    const shared = ecdh.computeSecret(b.publicKey);
    const [low, high] = Buffer.compare(Buffer.from(a.publicKey), Buffer.from(b.publicKey)) < 0 ? [a, b] : [b, a];
    const salt = createHash('sha256').update(low.publicKey).update(high.publicKey).update(low.random).update(high.random).digest();
    const okm = new Uint8Array(hkdfSync('sha256', shared, salt, Buffer.from(KEY_SCHEDULE_INFO), 96));
    t.equal(hex(ka.transcriptHash), salt.toString('hex'));
    const aIsLow = low === a;
    t.equal(hex(ka.sendKey), hex(okm.subarray(aIsLow ? 0 : 32, aIsLow ? 32 : 64)), 'low→high key is the first 32 bytes');
    t.equal(hex(ka.challenge), hex(okm.subarray(64)), 'challenge is the last 32 bytes');
  }
  t.end();
});

t.test('key schedule: a changed random changes every key (randoms are in the transcript)', (t) => {
  const a = side();
  const b = side();
  const k1 = deriveSessionKeys(a, { ephemeralPublicKey: b.publicKey, random: b.random });
  const r2 = Uint8Array.from(b.random);
  r2[0]! ^= 1;
  const k2 = deriveSessionKeys(a, { ephemeralPublicKey: b.publicKey, random: r2 });
  t.not(hex(k1.sendKey), hex(k2.sendKey));
  t.not(hex(k1.challenge), hex(k2.challenge));
  t.end();
});

t.test('auth message: round trip, wrong chain, wrong signer, self', (t) => {
  const me = testKey(1);
  const peer = testKey(2);
  const challenge = new Uint8Array(randomBytes(32));
  const auth = decodeAuth(encodeAuth({ chainId: CHAIN_ID, publicKey: peer.publicKey, signature: signChallenge(challenge, CHAIN_ID, peer.privateKey) }));
  t.doesNotThrow(() => verifyAuth(auth, challenge, CHAIN_ID, me.publicKey));
  const code = (f: () => void): string => {
    try {
      f();
      return 'ok';
    } catch (err) {
      return err instanceof NetError ? err.code : 'other';
    }
  };
  t.equal(code(() => verifyAuth(auth, challenge, 'other', me.publicKey)), 'WRONG_CHAIN');
  t.equal(code(() => verifyAuth(auth, new Uint8Array(32), CHAIN_ID, me.publicKey)), 'HANDSHAKE_FAILED', 'signature over another challenge');
  const forged = { ...auth, signature: signChallenge(challenge, CHAIN_ID, testKey(3).privateKey) };
  t.equal(code(() => verifyAuth(forged, challenge, CHAIN_ID, me.publicKey)), 'HANDSHAKE_FAILED', 'signed by another key');
  const otherChainSig = { ...auth, signature: signChallenge(challenge, 'other', peer.privateKey) };
  t.equal(code(() => verifyAuth(otherChainSig, challenge, CHAIN_ID, me.publicKey)), 'HANDSHAKE_FAILED', 'signed for another chain');
  t.equal(code(() => verifyAuth(auth, challenge, CHAIN_ID, peer.publicKey)), 'SELF_CONNECTION');
  t.end();
});

t.test('decoders throw only NetError on garbage', (t) => {
  const onlyNetErrors = (f: () => unknown): boolean => {
    try {
      f();
      return true;
    } catch (err) {
      return err instanceof NetError;
    }
  };
  fc.assert(fc.property(fc.uint8Array({ minLength: 0, maxLength: 200 }), (junk) => onlyNetErrors(() => decodeHello(junk))), { numRuns: 500 });
  fc.assert(fc.property(fc.uint8Array({ minLength: HELLO_LENGTH, maxLength: HELLO_LENGTH }), (junk) => onlyNetErrors(() => decodeHello(Uint8Array.of(1, ...junk.subarray(1))))), { numRuns: 300 });
  fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), (junk) => onlyNetErrors(() => decodeAuth(junk))), { numRuns: 500 });
  fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), (junk) => onlyNetErrors(() => decodeEnvelope(junk))), { numRuns: 500 });
  const key = new Uint8Array(32);
  fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), (junk) => onlyNetErrors(() => new FrameOpener(key).open(junk))), { numRuns: 500 });
  t.end();
});

t.test('frame cipher: in-order frames open; reordered, truncated, or keyed differently do not', (t) => {
  const key = new Uint8Array(randomBytes(32));
  const sealer = new FrameSealer(key);
  const frames = [0, 1, 2].map((i) => sealer.seal(Uint8Array.of(i, i, i)));
  const code = (f: () => unknown): string => {
    try {
      f();
      return 'ok';
    } catch (err) {
      return err instanceof NetError ? err.code : 'other';
    }
  };
  t.equal(code(() => new FrameOpener(key).open(frames[1]!)), 'BAD_FRAME', 'skipping a frame');
  t.equal(code(() => new FrameOpener(new Uint8Array(32)).open(frames[0]!)), 'BAD_FRAME', 'another key');
  const shortened = frames[0]!.slice(0, -1);
  t.equal(code(() => new FrameOpener(key).open(shortened)), 'BAD_FRAME', 'truncated');
  const retagged = Uint8Array.from(frames[0]!);
  retagged[3]! += 1; // length prefix is AAD: changing it (and the length) is caught
  t.equal(code(() => new FrameOpener(key).open(Uint8Array.of(...retagged, 0))), 'BAD_FRAME', 'changed length prefix');
  const opener = new FrameOpener(key);
  t.same(frames.map((f) => [...opener.open(f)]), [[0, 0, 0], [1, 1, 1], [2, 2, 2]]);
  t.equal(opener.framesOpened, 3);
  t.end();
});

t.test('stream buffer reassembles frames split at any byte', (t) => {
  fc.assert(
    fc.property(fc.array(fc.uint8Array({ maxLength: 50 }), { maxLength: 8 }), fc.array(fc.integer({ min: 1, max: 30 }), { minLength: 1, maxLength: 20 }), (parts, cuts) => {
      const whole = Buffer.concat(parts);
      const buffer = new StreamBuffer();
      let offset = 0;
      let i = 0;
      while (offset < whole.length) {
        const n = cuts[i++ % cuts.length]!;
        buffer.push(whole.subarray(offset, offset + n));
        offset += n;
      }
      const out: Buffer[] = [];
      for (const p of parts) out.push(Buffer.from(buffer.take(p.length)));
      return Buffer.concat(out).equals(whole) && buffer.length === 0;
    }),
    { numRuns: 300 },
  );
  t.end();
});

t.test('envelopes round trip; error messages are bounded', (t) => {
  const samples: Envelope[] = [
    { type: 'message', kind: 7, payload: Uint8Array.of(1, 2, 3) },
    { type: 'message', kind: 0, payload: new Uint8Array(0) },
    { type: 'request', kind: 255, id: 0xffffffff, payload: Uint8Array.of(9) },
    { type: 'response', kind: 3, id: 1, payload: new Uint8Array(0) },
    { type: 'error', kind: 3, id: 42, message: 'no such block ✓' },
  ];
  for (const e of samples) t.same(decodeEnvelope(encodeEnvelope(e)), e, e.type);
  const long = decodeEnvelope(encodeEnvelope({ type: 'error', kind: 1, id: 1, message: '✓'.repeat(5000) }));
  t.ok(long.type === 'error' && Buffer.byteLength(long.message) <= MAX_ERROR_MESSAGE, 'a long error message is cut to the limit');
  t.throws(() => decodeEnvelope(Uint8Array.of(9, 0)), { code: 'BAD_FRAME' }, 'unknown type');
  t.throws(() => decodeEnvelope(Uint8Array.of(1, 0, 0, 0)), { code: 'BAD_FRAME' }, 'truncated request id');
  t.end();
});

interface WycheproofFile<T> {
  numberOfTests: number;
  testGroups: { tests: T[] }[];
}

function loadVectors<T>(name: string): T[] {
  const file = JSON.parse(readFileSync(fileURLToPath(new URL(`../../../fixtures/wycheproof/${name}`, import.meta.url)), 'utf8')) as WycheproofFile<T>;
  const tests = file.testGroups.flatMap((g) => g.tests);
  if (tests.length !== file.numberOfTests) throw new Error(`${name}: ${tests.length} tests, header says ${file.numberOfTests}`);
  return tests;
}

t.test('Wycheproof ECDH secp256k1: every valid and compressed-point vector through the handshake ECDH', (t) => {
  const tests = loadVectors<{ tcId: number; public: string; private: string; shared: string; result: string; flags: string[] }>('ecdh_secp256k1_test.json');
  const privateKey = (h: string): Uint8Array => Uint8Array.from(Buffer.from(h.replace(/^(00)+/, '').padStart(64, '0'), 'hex'));
  let valid = 0;
  let compressed = 0;
  for (const v of tests) {
    const spki = Buffer.from(v.public, 'hex');
    if (v.result === 'valid') {
      // Valid vectors carry uncompressed points (0x04 ‖ x ‖ y, the last 65 bytes); the handshake
      // only carries compressed points, so compress (lossless for a point on the curve).
      const point = spki.subarray(spki.length - 65);
      if (point[0] !== 0x04) throw new Error(`tcId ${v.tcId}: expected an uncompressed point`);
      const key = Uint8Array.of(point[64]! & 1 ? 0x03 : 0x02, ...point.subarray(1, 33));
      if (hex(ephemeralSharedSecret(privateKey(v.private), key)) !== v.shared) t.fail(`tcId ${v.tcId}`);
      else valid++;
    } else if (v.flags.includes('CompressedPoint') && !v.flags.includes('WrongCurve')) {
      const key = Uint8Array.from(spki.subarray(spki.length - 33));
      let outcome: string;
      try {
        outcome = hex(ephemeralSharedSecret(privateKey(v.private), key)) === v.shared ? 'match' : 'mismatch';
      } catch (err) {
        outcome = err instanceof NetError ? err.code : 'other';
      }
      t.equal(outcome, v.result === 'invalid' ? 'HANDSHAKE_FAILED' : 'match', `tcId ${v.tcId} ${v.flags.join(',')}`);
      compressed++;
    }
  }
  t.equal(valid, 473, 'all valid vectors agree');
  t.equal(compressed, 2, 'the compressed-point vectors');
  t.end();
});

t.test('Wycheproof HKDF-SHA256: the KDF call the key schedule makes', (t) => {
  const tests = loadVectors<{ tcId: number; ikm: string; salt: string; info: string; size: number; okm: string; result: string }>('hkdf_sha256_test.json');
  let checked = 0;
  for (const v of tests) {
    if (v.result !== 'valid') continue;
    const okm = hkdf(nobleSha256, Buffer.from(v.ikm, 'hex'), Buffer.from(v.salt, 'hex'), Buffer.from(v.info, 'hex'), v.size);
    if (hex(okm) !== v.okm) t.fail(`tcId ${v.tcId}`);
    else checked++;
  }
  t.ok(checked > 50, `${checked} valid vectors agree`);
  t.end();
});
