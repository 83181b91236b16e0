// Tests for protocol/aead.ts: every Wycheproof AES-GCM vector, size policy (short IVs, truncated tags), tamper cases.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { createDecipheriv } from 'node:crypto';
import { AES_GCM_MAX_IV_BYTES, AES_GCM_MIN_IV_BYTES, aesGcmOpen, aesGcmSeal } from '../../protocol/aead.js';
import { isProtocolError } from '../../protocol/errors.js';

const hex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'hex'));
const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

interface GcmVector {
  tcId: number;
  key: string;
  iv: string;
  aad: string;
  msg: string;
  ct: string;
  tag: string;
  result: 'valid' | 'invalid' | 'acceptable';
  flags: string[];
}
interface GcmFile {
  numberOfTests: number;
  testGroups: { keySize: number; ivSize: number; tagSize: number; tests: GcmVector[] }[];
}

t.test('Wycheproof aes_gcm_test.json: every vector runs or is refused by policy', (t) => {
  const file = JSON.parse(readFileSync(new URL('../fixtures/wycheproof/aes_gcm_test.json', import.meta.url), 'utf8')) as GcmFile;
  const counts = { valid: 0, invalid: 0, acceptable: 0, refusedShortIv: 0, refusedLongIv: 0 };
  for (const group of file.testGroups) {
    for (const v of group.tests) {
      const [key, iv, aad, msg, ct, tag] = [v.key, v.iv, v.aad, v.msg, v.ct, v.tag].map(hex) as [
        Uint8Array, Uint8Array, Uint8Array, Uint8Array, Uint8Array, Uint8Array,
      ];
      t.equal(tag.length * 8, group.tagSize);
      if (iv.length < AES_GCM_MIN_IV_BYTES || iv.length > AES_GCM_MAX_IV_BYTES) {
        // Refused by design, whatever the vector's verdict: both directions, before any crypto.
        t.throws(() => aesGcmSeal(key, iv, msg, aad), RangeError, `tcId ${v.tcId}: ${group.ivSize}-bit IV refused (seal)`);
        t.throws(() => aesGcmOpen(key, iv, ct, tag, aad), RangeError, `tcId ${v.tcId}: ${group.ivSize}-bit IV refused (open)`);
        counts[iv.length < AES_GCM_MIN_IV_BYTES ? 'refusedShortIv' : 'refusedLongIv']++;
        continue;
      }
      counts[v.result]++;
      const sealed = aesGcmSeal(key, iv, msg, aad);
      if (v.result === 'valid') {
        t.equal(toHex(sealed.ciphertext) + toHex(sealed.tag), v.ct + v.tag, `tcId ${v.tcId} seals`);
        t.equal(toHex(aesGcmOpen(key, iv, ct, tag, aad)), v.msg, `tcId ${v.tcId} opens`);
      } else {
        t.not(toHex(sealed.ciphertext) + toHex(sealed.tag), v.ct + v.tag, `tcId ${v.tcId}: not what we would produce`);
        t.throws(() => aesGcmOpen(key, iv, ct, tag, aad), { code: 'ENVELOPE_OPEN_FAILED' }, `tcId ${v.tcId} is rejected`);
      }
    }
  }
  t.equal(counts.valid + counts.invalid + counts.acceptable + counts.refusedShortIv + counts.refusedLongIv, file.numberOfTests, 'every vector accounted for');
  // 316 = 270 run (189 valid + 81 modified-tag) + 43 with IVs under 96 bits (37 valid, 6 zero-length
  // invalid) + 3 valid with 2056-bit IVs (over OpenSSL's 128-byte limit).
  t.same(counts, { valid: 189, invalid: 81, acceptable: 0, refusedShortIv: 43, refusedLongIv: 3 });
  t.end();
});

t.test('truncated tags are refused even though node would accept them', (t) => {
  const key = new Uint8Array(32).fill(1);
  const iv = new Uint8Array(12).fill(2);
  const aad = Uint8Array.of(3);
  const { ciphertext, tag } = aesGcmSeal(key, iv, Uint8Array.of(4, 5, 6), aad);
  for (const length of [0, 4, 8, 12, 13, 14, 15, 17]) {
    const truncated = length <= 16 ? tag.subarray(0, length) : Uint8Array.of(...tag, 0);
    t.throws(() => aesGcmOpen(key, iv, ciphertext, truncated, aad), RangeError, `${length}-byte tag`);
  }
  // What the guard protects against: plain node accepts a 12-byte prefix of the tag as authentic.
  const naive = createDecipheriv('aes-256-gcm', key, iv);
  naive.setAuthTag(tag.subarray(0, 12));
  naive.setAAD(aad);
  t.same([...naive.update(ciphertext), ...naive.final()], [4, 5, 6]);
  t.end();
});

t.test('size policy and tampering', (t) => {
  const key = new Uint8Array(32).fill(9);
  const iv = new Uint8Array(12).fill(8);
  const aad = Uint8Array.of(1, 2, 3);
  const plaintext = new Uint8Array(100).fill(7);
  const { ciphertext, tag } = aesGcmSeal(key, iv, plaintext, aad);
  t.equal(ciphertext.length, 100);
  t.equal(tag.length, 16);
  t.same(aesGcmOpen(key, iv, ciphertext, tag, aad), plaintext);
  t.same(aesGcmOpen(key, iv, new Uint8Array(0), aesGcmSeal(key, iv, new Uint8Array(0), aad).tag, aad), new Uint8Array(0));
  for (const length of [0, 8, 15, 31, 33, 64]) {
    t.throws(() => aesGcmSeal(new Uint8Array(length), iv, plaintext, aad), RangeError, `${length}-byte key`);
  }
  t.throws(() => aesGcmSeal(key, new Uint8Array(11), plaintext, aad), RangeError, '88-bit IV');
  t.throws(() => aesGcmSeal(key, iv, 'text' as unknown as Uint8Array, aad), TypeError);
  const flip = (b: Uint8Array, i: number): Uint8Array => b.map((x, j) => (j === i ? x ^ 0x80 : x));
  const attempts: [string, () => unknown][] = [
    ['ciphertext', () => aesGcmOpen(key, iv, flip(ciphertext, 50), tag, aad)],
    ['tag', () => aesGcmOpen(key, iv, ciphertext, flip(tag, 15), aad)],
    ['iv', () => aesGcmOpen(key, flip(iv, 0), ciphertext, tag, aad)],
    ['aad', () => aesGcmOpen(key, iv, ciphertext, tag, flip(aad, 2))],
    ['key', () => aesGcmOpen(flip(key, 31), iv, ciphertext, tag, aad)],
    ['truncated ciphertext', () => aesGcmOpen(key, iv, ciphertext.subarray(0, 99), tag, aad)],
    ['empty aad', () => aesGcmOpen(key, iv, ciphertext, tag, new Uint8Array(0))],
  ];
  for (const [what, attempt] of attempts) {
    try {
      attempt();
      t.fail(`${what}: opened`);
    } catch (err) {
      t.ok(isProtocolError(err, 'ENVELOPE_OPEN_FAILED'), `${what}: ENVELOPE_OPEN_FAILED`);
      t.equal((err as Error).message, 'envelope: authentication failed');
    }
  }
  t.end();
});
