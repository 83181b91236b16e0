// The WriteGrant plateKey: owner and shop derive the same keyed hash from opposite key halves; nobody else can; plates are canonicalised.
import t from 'tap';
import { createECDH, createHash, createHmac } from 'node:crypto';
import { canonicalPlate, plateKey, plateKeySecret, plateKeyWith } from '../../protocol/plate-key.js';
import { publicKeyFromPrivate } from '../../protocol/signature.js';

const key = (byte: number) => new Uint8Array(32).fill(byte);
const owner = key(0x11);
const shop = key(0x22);
const stranger = key(0x33);

t.test('owner (owner priv × shop pub) and shop (shop priv × owner pub) compute the same plateKey', (t) => {
  const a = plateKey(owner, publicKeyFromPrivate(shop), '皖A·12345');
  const b = plateKey(shop, publicKeyFromPrivate(owner), '皖A12345');
  t.equal(a.length, 32);
  t.same(a, b);
  t.notSame(plateKey(stranger, publicKeyFromPrivate(owner), '皖A12345'), a, 'another shop gets another hash for the same plate');
  t.notSame(plateKey(owner, publicKeyFromPrivate(shop), '皖A12346'), a, 'another plate, another hash');
  t.end();
});

t.test('canonical form: separators, spacing, case and full-width forms do not matter', (t) => {
  t.equal(canonicalPlate('皖a · 12345'), '皖A12345');
  t.equal(canonicalPlate('ＡＢ-123.4'), 'AB1234');
  const secret = plateKeySecret(owner, publicKeyFromPrivate(shop));
  t.same(plateKeyWith(secret, 'b-12 3'), plateKeyWith(secret, 'B123'));
  t.throws(() => canonicalPlate(' · '), { code: 'PLATE_INVALID' });
  t.throws(() => canonicalPlate('A'.repeat(17)), { code: 'PLATE_INVALID' });
  t.end();
});

t.test('the derivation, recomputed with node:crypto ECDH and HMAC (and pinned)', (t) => {
  const ecdh = createECDH('secp256k1');
  ecdh.setPrivateKey(Buffer.from(owner));
  const x = ecdh.computeSecret(Buffer.from(publicKeyFromPrivate(shop)));
  const tag = createHash('sha256').update('carchain/v1/plate-key-secret').digest();
  const secret = createHash('sha256').update(tag).update(tag).update(x).digest();
  const expected = createHmac('sha256', secret).update('carchain/v1/plate-key:皖A12345', 'utf8').digest('hex');
  t.equal(Buffer.from(plateKey(owner, publicKeyFromPrivate(shop), '皖A·12345')).toString('hex'), expected);
  t.equal(expected, 'd929619edc1177276a4d460abb2bd56dc622e1f39a243e5ea78595a68f2a381e');
  t.end();
});
