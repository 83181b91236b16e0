// Key sets: canonical bytes, owner signature, acceptance rules (epoch, conflict, finality proof), who may do what and when.
import t from 'tap';
import { sha256 } from '../../../protocol/hash.js';
import { permissionsOf } from '../../../protocol/lock/commands.js';
import {
  acceptKeySet,
  checkPermission,
  decodeKeySet,
  encodeKeySetBody,
  MAX_KEY_SET_BYTES,
  resolvePrincipal,
  signKeySet,
  type KeySet,
} from '../../../protocol/lock/key-set.js';
import { CURVE_ORDER, DOMAIN, publicKeyFromPrivate, sign } from '../../../protocol/signature.js';
import { ByteWriter } from '../../../protocol/wire.js';
import { makeFinalityProof } from './fixtures/commit-finality.js';
import { DAY, defaultDelegates, delegate, finality, HOUR, KEYS, keySet, OTHER_VID_HASH, proofFor, T0, validators, VID_HASH } from './fixtures/world.js';

const accept = (current: Uint8Array | null, bytes: Uint8Array, proof: Uint8Array, lockPublicKey = KEYS.lock.publicKey) =>
  acceptKeySet({ current: current === null ? null : decodeKeySet(current), bytes, proof, vidHash: VID_HASH, lockPublicKey, finality, now: T0 });

const base = (): KeySet => decodeKeySet(keySet({ epoch: 1 })).keySet;

t.test('encode → decode round trip; the hash is over the signed bytes', (t) => {
  const bytes = keySet({ epoch: 7 });
  const d = decodeKeySet(bytes);
  t.equal(d.keySet.epoch, 7);
  t.same(d.keySet.delegates.map((x) => x.permissions), [permissionsOf(['unlock', 'lock', 'status'])]);
  t.same(d.hash, sha256(bytes));
  t.same(decodeKeySet(signKeySet(d.keySet, KEYS.owner.privateKey)).bytes, bytes, 'deterministic');
  t.end();
});

t.test('structural rules: canonical order, duplicates, empty windows, unknown permissions, size', (t) => {
  const ks = base();
  const twoDelegates = [delegate(KEYS.alice.publicKey, T0, T0 + DAY, ['unlock']), delegate(KEYS.mallory.publicKey, T0, T0 + DAY, ['unlock'])].sort((a, b) => Buffer.compare(Buffer.from(b.publicKey), Buffer.from(a.publicKey)));
  t.throws(() => encodeKeySetBody({ ...ks, delegates: twoDelegates }), { code: 'KEYSET_INVALID' }, 'descending delegates');
  t.throws(() => encodeKeySetBody({ ...ks, delegates: [delegate(KEYS.owner.publicKey, T0, T0 + DAY, ['unlock'])] }), { code: 'KEYSET_INVALID' }, 'owner as delegate');
  t.throws(() => encodeKeySetBody({ ...ks, revoked: [KEYS.alice.publicKey] }), { code: 'KEYSET_INVALID' }, 'a key both delegated and revoked');
  t.throws(() => encodeKeySetBody({ ...ks, delegates: [delegate(KEYS.alice.publicKey, T0, T0, ['unlock'])] }), { code: 'KEYSET_INVALID' }, 'empty window');
  t.throws(() => encodeKeySetBody({ ...ks, delegates: [{ ...defaultDelegates()[0]!, permissions: 1 << 20 }] }), { code: 'KEYSET_INVALID' }, 'unknown permission bit');
  t.throws(() => encodeKeySetBody({ ...ks, delegates: [{ ...defaultDelegates()[0]!, permissions: 0 }] }), { code: 'KEYSET_INVALID' }, 'no permission');
  t.throws(() => encodeKeySetBody({ ...ks, epoch: 0 }), { code: 'KEYSET_INVALID' }, 'epoch 0');
  t.throws(() => encodeKeySetBody({ ...ks, ownerPublicKey: new Uint8Array(33) }), { code: 'BAD_POINT' }, 'owner key not a point');
  t.throws(() => signKeySet(ks, KEYS.mallory.privateKey), { code: 'BAD_SIGNATURE' }, 'signed by someone other than the owner');
  // 64 delegates + 64 revoked is more than the chain's 4096 bytes.
  const many = (n: number, salt: number) => Array.from({ length: n }, (_, i) => publicKeyFromPrivate(sha256(Uint8Array.of(salt, i)))).sort((a, b) => Buffer.compare(a, b));
  const big = { ...ks, delegates: many(64, 1).map((k) => delegate(k, T0, T0 + DAY, ['unlock'])), revoked: many(64, 2) };
  t.throws(() => signKeySet(big, KEYS.owner.privateKey), { code: 'KEYSET_INVALID' }, `over ${MAX_KEY_SET_BYTES} bytes`);
  t.throws(() => decodeKeySet(new Uint8Array(MAX_KEY_SET_BYTES + 1)), { code: 'BAD_FRAME' });
  t.end();
});

t.test('owner signature: tampered, under another tag, high-S', (t) => {
  const bytes = keySet({ epoch: 1 });
  const tampered = bytes.slice();
  tampered[110]! ^= 1; // inside issuedAt
  t.throws(() => decodeKeySet(tampered), { code: 'BAD_SIGNATURE' });
  const body = encodeKeySetBody(base());
  const otherTag = new ByteWriter().raw(body).raw(sign(DOMAIN.chainTransaction, body, KEYS.owner.privateKey)).finish();
  t.throws(() => decodeKeySet(otherTag), { code: 'BAD_SIGNATURE' }, 'signed under chainTransaction');
  const sig = bytes.subarray(bytes.length - 64);
  let s = 0n;
  for (const b of sig.subarray(32)) s = (s << 8n) | BigInt(b);
  const high = bytes.slice();
  let hs = CURVE_ORDER - s;
  for (let i = high.length - 1; i >= high.length - 32; i--) {
    high[i] = Number(hs & 0xffn);
    hs >>= 8n;
  }
  t.throws(() => decodeKeySet(high), { code: 'BAD_SIGNATURE' }, 'high-S');
  t.end();
});

t.test('first key set installs with a proof; refresh; rotation', (t) => {
  const one = keySet({ epoch: 1 });
  t.equal(accept(null, one, proofFor(one)).outcome, 'installed');
  t.equal(accept(one, one, proofFor(one, T0)).outcome, 'refreshed', 'the identical set again refreshes the proof');
  const two = keySet({ epoch: 2, owner: KEYS.newOwner, delegates: [] });
  const r = accept(one, two, proofFor(two, T0, 120));
  t.equal(r.outcome, 'rotated');
  t.equal(r.height, 120);
  t.end();
});

t.test('a validly signed key set with a lower epoch', (t) => {
  const three = keySet({ epoch: 3 });
  const two = keySet({ epoch: 2 });
  t.throws(() => accept(three, two, proofFor(two)), { code: 'EPOCH_NOT_INCREASING' });
  t.end();
});

t.test('same epoch, different content', (t) => {
  const a = keySet({ epoch: 2 });
  const b = keySet({ epoch: 2, delegates: [] });
  t.throws(() => accept(a, b, proofFor(b)), { code: 'KEYSET_CONFLICT' });
  t.end();
});

t.test('a key set with a missing or forged finality proof', (t) => {
  const ks = keySet({ epoch: 1 });
  const other = keySet({ epoch: 1, delegates: [] });
  const [v1, v2, v3, v4] = validators.privateKeys as [Uint8Array, Uint8Array, Uint8Array, Uint8Array];
  const cases: [string, Uint8Array][] = [
    ['missing', new Uint8Array(0)],
    ['garbage', new Uint8Array(40).fill(7)],
    ['2 of 4 validators (not > 2/3)', makeFinalityProof([v1, v2], 100, T0, sha256(ks))],
    ['the same validator three times', makeFinalityProof([v1, v1, v1], 100, T0, sha256(ks))],
    ['signed by non-validators', makeFinalityProof([KEYS.mallory.privateKey, KEYS.bob.privateKey, KEYS.alice.privateKey], 100, T0, sha256(ks))],
    ['for another key set', proofFor(other)],
    ['for another chain', makeFinalityProof([v1, v2, v3], 100, T0, sha256(ks), 'other-chain')],
  ];
  for (const [name, proof] of cases) t.throws(() => accept(null, ks, proof), { code: 'PROOF_INVALID' }, name);
  t.equal(accept(null, ks, makeFinalityProof([v2, v3, v4], 100, T0, sha256(ks))).outcome, 'installed', 'control: 3 of 4');
  // A bit flip anywhere in a good proof.
  const good = proofFor(ks);
  let refused = 0;
  for (let i = 0; i < good.length; i += 3) {
    const bad = good.slice();
    bad[i]! ^= 0x10;
    try {
      accept(null, ks, bad);
    } catch (err) {
      if ((err as { code?: string }).code === 'PROOF_INVALID') refused++;
    }
  }
  t.equal(refused, Math.ceil(good.length / 3), 'every flipped proof refused');
  t.end();
});

t.test('wrong vehicle id or lock key in a key set', (t) => {
  const otherCar = keySet({ epoch: 1, vidHash: OTHER_VID_HASH });
  t.throws(() => accept(null, otherCar, proofFor(otherCar)), { code: 'WRONG_VEHICLE' });
  const otherLock = keySet({ epoch: 1, lockPublicKey: KEYS.otherLock.publicKey });
  t.throws(() => accept(null, otherLock, proofFor(otherLock)), { code: 'WRONG_LOCK_KEY' });
  t.end();
});

t.test('principals: owner always, delegates by window, staleness and the clock floor', (t) => {
  const ks = base();
  const ctx = { trustedNow: T0, clockBelowFloor: false, proofBlockTime: T0 - HOUR, stalenessMs: 7 * DAY };
  t.equal(resolvePrincipal(ks, KEYS.owner.publicKey, { ...ctx, clockBelowFloor: true, proofBlockTime: 0 }).role, 'owner', 'owner on a rolled clock and an ancient proof');
  t.equal(resolvePrincipal(ks, KEYS.alice.publicKey, ctx).role, 'delegate');
  t.throws(() => resolvePrincipal(ks, KEYS.alice.publicKey, { ...ctx, clockBelowFloor: true }), { code: 'CLOCK_BELOW_FLOOR' });
  t.throws(() => resolvePrincipal(ks, KEYS.alice.publicKey, { ...ctx, proofBlockTime: T0 - 7 * DAY - 1 }), { code: 'STALE_PROOF' });
  t.throws(() => resolvePrincipal(ks, KEYS.alice.publicKey, { ...ctx, trustedNow: T0 + DAY }), { code: 'DELEGATION_EXPIRED' }, 'notAfter is exclusive');
  t.equal(resolvePrincipal(ks, KEYS.alice.publicKey, { ...ctx, trustedNow: T0 - HOUR }).role, 'delegate', 'notBefore is inclusive');
  t.throws(() => resolvePrincipal(ks, KEYS.bob.publicKey, ctx), { code: 'KEY_REVOKED' });
  t.throws(() => resolvePrincipal(ks, KEYS.mallory.publicKey, ctx), { code: 'UNKNOWN_KEY' });
  const alice = resolvePrincipal(ks, KEYS.alice.publicKey, ctx);
  t.doesNotThrow(() => checkPermission(alice, 'unlock'));
  t.throws(() => checkPermission(alice, 'start'), { code: 'PERMISSION_DENIED' });
  t.throws(() => checkPermission(alice, 'unblock'), { code: 'PERMISSION_DENIED' });
  t.end();
});
