// Tests for address pools (setDup material, randomFrom/deductFrom) and pool authorisations.
import t from 'tap';
import { HDKey } from '@scure/bip32';
import { masterKeyFromSeed } from '../../protocol/hd-keys.js';
import { poolKeyPair, poolMaterialFor } from '../../protocol/owner-keys.js';
import { devicePoolKey, deviceRoot } from '../../protocol/device-keys.js';
import {
  authorisePoolKey, decodePoolAuthorisation, encodePoolAuthorisation, poolAuthorisationAddress, verifyPoolAuthorisation,
} from '../../protocol/pool-authorisation.js';
import {
  decodePoolMaterial, deductFrom, derivePoolAddresses, encodePoolMaterial, poolIndexForDate, randomFrom, utcDay,
} from '../../protocol/pools.js';
import { p2pkhAddress } from '../../protocol/address.js';
import { hmacSha256 } from '../../protocol/hash.js';

const owner = masterKeyFromSeed(new Uint8Array(64).fill(1));
const device = deviceRoot(new Uint8Array(32).fill(2));
const material = poolMaterialFor(owner, 0, 16);
const addresses = derivePoolAddresses(material);
const DAY = 86_400_000;

t.test('pool addresses come from the xpub alone and match the wallet\'s private keys', (t) => {
  t.equal(addresses.length, 16);
  t.equal(new Set(addresses).size, 16, 'distinct');
  t.notOk(HDKey.fromExtendedKey(material.accountXpub).privateKey, 'the dongle gets no private key');
  for (const i of [0, 7, 15]) t.equal(addresses[i], p2pkhAddress(poolKeyPair(owner, 0, i).publicKey), `address ${i}`);
  t.not(derivePoolAddresses(poolMaterialFor(owner, 1, 16))[0], addresses[0], 'another vehicle, another pool');
  t.end();
});

t.test('setDup material round-trips and rejects bad input', (t) => {
  t.same(decodePoolMaterial(encodePoolMaterial(material)), material);
  const wire = encodePoolMaterial(material);
  t.throws(() => decodePoolMaterial(wire.subarray(0, wire.length - 1)), { code: 'DECODE_TRUNCATED' });
  t.throws(() => decodePoolMaterial(Uint8Array.of(...wire, 0)), { code: 'DECODE_TRAILING_BYTES' });
  const zeroSize = Uint8Array.from(wire);
  zeroSize[zeroSize.length - 1] = 0;
  zeroSize[zeroSize.length - 2] = 0;
  t.throws(() => decodePoolMaterial(zeroSize), { code: 'DECODE_INVALID' });
  t.throws(() => encodePoolMaterial({ ...material, accountXpub: owner.privateExtendedKey }), { code: 'POOL_INVALID' }, 'never an xprv');
  t.throws(() => encodePoolMaterial({ ...material, size: 5000 }), { code: 'POOL_INVALID' });
  t.throws(() => encodePoolMaterial({ ...material, userSeed: new Uint8Array(31) }), { code: 'POOL_INVALID' });
  t.end();
});

t.test('date → index is HMAC-SHA256(userSeed, "YYYYMMDD") mod N, the same for device and wallet', (t) => {
  const mac = hmacSha256(material.userSeed, new TextEncoder().encode('20261121'));
  const expected = Number(BigInt(`0x${Buffer.from(mac).toString('hex')}`) % 16n);
  t.equal(poolIndexForDate(material.userSeed, '20261121', 16), expected);
  const noon = Date.UTC(2026, 10, 21, 12);
  t.equal(poolIndexForDate(material.userSeed, noon, 16), expected, 'a time maps to its UTC day');
  t.equal(poolIndexForDate(material.userSeed, Date.UTC(2026, 10, 21, 23, 59, 59, 999), 16), expected, 'up to midnight UTC');
  t.equal(randomFrom(addresses, noon, material.userSeed), deductFrom(addresses, '20261121', material.userSeed));
  const used = new Set<number>();
  for (let d = 0; d < 365; d++) used.add(poolIndexForDate(material.userSeed, Date.UTC(2026, 0, 1) + d * DAY, 16));
  t.ok(used.size >= 14, `a year of days spreads over the pool (${used.size}/16 used)`);
  t.end();
});

t.test('dates are validated', (t) => {
  t.equal(utcDay(Date.UTC(2024, 1, 29)), '20240229');
  t.throws(() => utcDay('20230229'), { code: 'DATE_INVALID' });
  t.throws(() => utcDay('2023-02-01'), { code: 'DATE_INVALID' });
  t.throws(() => utcDay(Number.NaN), { code: 'DATE_INVALID' });
  t.throws(() => poolIndexForDate(material.userSeed, '20260101', 0), { code: 'POOL_INVALID' });
  t.end();
});

t.test('pool authorisations: signed by A_i for k_i, windowed, bound to both keys', (t) => {
  const now = Date.UTC(2026, 10, 21);
  const i = poolIndexForDate(material.userSeed, now, 16);
  const k = devicePoolKey(device, i);
  const auth = authorisePoolKey(poolKeyPair(owner, 0, i).privateKey, { devicePublicKey: k.publicKey, notBefore: now - DAY, notAfter: now + DAY });
  t.equal(poolAuthorisationAddress(auth), addresses[i]);
  verifyPoolAuthorisation(auth, { now, poolAddress: addresses[i], devicePublicKey: k.publicKey });
  t.same(decodePoolAuthorisation(encodePoolAuthorisation(auth)), auth, 'round trip');
  t.throws(() => verifyPoolAuthorisation(auth, { now: now + DAY }), { code: 'AUTH_EXPIRED' });
  t.throws(() => verifyPoolAuthorisation(auth, { now: now - DAY - 1 }), { code: 'AUTH_NOT_YET_VALID' });
  t.throws(() => verifyPoolAuthorisation(auth, { now, poolAddress: addresses[(i + 1) % 16] }), { code: 'AUTH_MISMATCH' });
  t.throws(() => verifyPoolAuthorisation(auth, { now, devicePublicKey: devicePoolKey(device, i + 1).publicKey }), { code: 'AUTH_MISMATCH' });
  const stretched = { ...auth, notAfter: auth.notAfter + DAY };
  t.throws(() => verifyPoolAuthorisation(stretched, { now }), { code: 'SIGNATURE_INVALID' }, 'a widened window breaks the signature');
  const swapped = { ...auth, devicePublicKey: devicePoolKey(device, 99).publicKey };
  t.throws(() => verifyPoolAuthorisation(swapped, { now }), { code: 'SIGNATURE_INVALID' }, 'another device key breaks it');
  const wire = encodePoolAuthorisation(auth);
  const badPoint = Uint8Array.from(wire);
  badPoint[1] = 0x05;
  t.throws(() => decodePoolAuthorisation(badPoint), { code: 'DECODE_INVALID' });
  t.throws(() => decodePoolAuthorisation(wire.subarray(0, 100)), { code: 'DECODE_TRUNCATED' });
  t.throws(() => authorisePoolKey(poolKeyPair(owner, 0, i).privateKey, { devicePublicKey: k.publicKey, notBefore: now, notAfter: now }), { code: 'AUTH_INVALID' });
  t.end();
});
