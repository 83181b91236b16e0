// Tests for the key trees: BIP39 (Trezor vectors) and BIP32 (vectors 1–3), CarChain paths, pool addresses from an xpub.
import { readFileSync } from 'node:fs';
import t from 'tap';
import { p2pkhAddress } from '../../protocol/address.js';
import {
  CARCHAIN_PURPOSE,
  deriveAt,
  generateMnemonic,
  HARDENED_OFFSET,
  HDKey,
  keyPairAt,
  masterKeyFromSeed,
  mnemonicToSeed,
  parsePath,
  PATH,
  poolAddressFromAccount,
  validateMnemonic,
} from '../../protocol/hd-keys.js';
import { CURVE_ORDER, publicKeyFromPrivate } from '../../protocol/signature.js';

const fixture = (name: string): unknown => JSON.parse(readFileSync(new URL(`../fixtures/${name}`, import.meta.url), 'utf8'));
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const unhex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'hex'));

interface Bip32Fixture {
  vectors: { name: string; seed: string; chains: { path: string; xpub: string; xprv: string }[] }[];
}
interface Bip39Fixture {
  passphrase: string;
  english: [string, string, string, string][];
}
const bip32 = fixture('bip32/bip32-test-vectors.json') as Bip32Fixture;
const bip39 = fixture('bip39/vectors-english-trezor.json') as Bip39Fixture;
const ABOUT = 'abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about';

t.test('BIP32 test vectors 1–3: every chain, xprv and xpub', (t) => {
  let chains = 0;
  for (const vector of bip32.vectors) {
    const master = masterKeyFromSeed(unhex(vector.seed));
    for (const chain of vector.chains) {
      const key = deriveAt(master, chain.path);
      t.equal(key.privateExtendedKey, chain.xprv, `${vector.name} ${chain.path} xprv`);
      t.equal(key.publicExtendedKey, chain.xpub, `${vector.name} ${chain.path} xpub`);
      chains++;
    }
  }
  t.equal(chains, 14, '6 + 6 + 2 chains');
  t.end();
});

t.test('BIP32: public derivation from an xpub matches private derivation', (t) => {
  // Vector 1, chain m/0'/1/2'/2 → child 1000000000 is non-hardened: derive it from the parent xpub.
  const v1 = bip32.vectors[0]!;
  const parent = HDKey.fromExtendedKey(v1.chains[4]!.xpub);
  const child = parent.deriveChild(1000000000);
  t.equal(child.publicExtendedKey, v1.chains[5]!.xpub);
  t.end();
});

t.test('BIP39 Trezor vectors: mnemonic from entropy, seed with passphrase "TREZOR", master xprv', (t) => {
  t.equal(bip39.passphrase, 'TREZOR');
  let run = 0;
  for (const [entropy, mnemonic, seed, xprv] of bip39.english) {
    t.equal(generateMnemonic(unhex(entropy)), mnemonic, `entropy ${entropy}`);
    t.ok(validateMnemonic(mnemonic));
    const derived = mnemonicToSeed(mnemonic, bip39.passphrase);
    t.equal(hex(derived), seed);
    t.equal(masterKeyFromSeed(derived).privateExtendedKey, xprv);
    run++;
  }
  t.equal(run, 24, 'all 24 English vectors ran');
  t.end();
});

t.test('invalid mnemonics are rejected with MNEMONIC_INVALID', (t) => {
  const twelveAbandon = Array(12).fill('abandon').join(' ');
  const cases: [string, string][] = [
    ['bad checksum', twelveAbandon],
    ['last word swapped', ABOUT.replace(/about$/, 'above')],
    ['unknown word', ABOUT.replace(/^abandon/, 'abandonn')],
    ['not in the English list', ABOUT.replace(/^abandon/, 'bitcoin')],
    ['11 words', ABOUT.split(' ').slice(1).join(' ')],
    ['13 words', `abandon ${ABOUT}`],
    ['upper case', ABOUT.toUpperCase()],
    ['capitalised first word', `A${ABOUT.slice(1)}`],
    ['double space', ABOUT.replace(' ', '  ')],
    ['leading space', ` ${ABOUT}`],
    ['trailing newline', `${ABOUT}\n`],
    ['tab separator', ABOUT.replace(' ', '\t')],
    ['ideographic space (NFKD would turn it into a space)', ABOUT.replaceAll(' ', '\u3000')],
    ['full-width letters (NFKD would fold them)', ABOUT.replace(/^abandon/, 'ａｂａｎｄｏｎ')],
    ['empty', ''],
    ['huge', 'abandon '.repeat(10000)],
    ['24-word vector with a bad checksum', bip39.english[8]![1].replace(/art$/, 'zoo')],
  ];
  for (const [name, mnemonic] of cases) {
    t.notOk(validateMnemonic(mnemonic), name);
    t.throws(() => mnemonicToSeed(mnemonic), { code: 'MNEMONIC_INVALID' }, name);
  }
  t.notOk(validateMnemonic(undefined as unknown as string));
  t.throws(() => mnemonicToSeed(ABOUT, 42 as unknown as string), TypeError);
  t.end();
});

t.test('generateMnemonic: 24 random words by default; entropy lengths checked', (t) => {
  const a = generateMnemonic();
  const b = generateMnemonic();
  t.equal(a.split(' ').length, 24);
  t.ok(validateMnemonic(a));
  t.not(a, b);
  for (const length of [15, 17, 33, 0, 64]) t.throws(() => generateMnemonic(new Uint8Array(length)), RangeError, `${length} bytes`);
  t.throws(() => generateMnemonic([1, 2, 3] as unknown as Uint8Array), TypeError);
  t.end();
});

t.test('CarChain paths', (t) => {
  t.equal(CARCHAIN_PURPOSE, 0x4343);
  t.equal(String.fromCharCode(CARCHAIN_PURPOSE >> 8, CARCHAIN_PURPOSE & 0xff), 'CC');
  t.equal(PATH.ownerIdentity, "m/17219'/0'/0'");
  t.equal(PATH.poolAccount(7), "m/17219'/1'/7'");
  t.equal(PATH.ownerRsaSeed, "m/17219'/2'/0'");
  t.equal(PATH.lockKeys(2147483647), "m/17219'/3'/2147483647'");
  t.equal(PATH.deviceIdentity, "m/17219'/10'/0'");
  t.equal(PATH.devicePoolKey(0), "m/17219'/11'/0'");
  for (const bad of [-1, 2 ** 31, 1.5, Number.NaN, Infinity, '3' as unknown as number]) {
    t.throws(() => PATH.poolAccount(bad), RangeError, `vehicle ${String(bad)}`);
    t.throws(() => PATH.lockKeys(bad), RangeError);
    t.throws(() => PATH.devicePoolKey(bad), RangeError);
  }
  t.same(parsePath(PATH.poolAccount(5)), [CARCHAIN_PURPOSE + HARDENED_OFFSET, 1 + HARDENED_OFFSET, 5 + HARDENED_OFFSET]);
  // All fixed paths are distinct keys of one wallet.
  const master = masterKeyFromSeed(mnemonicToSeed(ABOUT));
  const paths = [PATH.ownerIdentity, PATH.poolAccount(0), PATH.poolAccount(1), PATH.ownerRsaSeed, PATH.lockKeys(0), PATH.deviceIdentity, PATH.devicePoolKey(0)];
  const keys = new Set(paths.map((p) => hex(keyPairAt(master, p).publicKey)));
  t.equal(keys.size, paths.length);
  t.end();
});

t.test('malformed paths are PATH_INVALID', (t) => {
  const master = masterKeyFromSeed(unhex(bip32.vectors[0]!.seed));
  const bad = [
    '', 'M', 'M/0', 'm/', 'm//0', "m/0''", 'm/01', 'm/00', 'm/0h', 'm/0H', 'm/-1', 'm/+1', 'm/1e3', 'm/ 0', 'm/0 ', 'm/0/',
    'm/a', '/0', "m'/0", 'm/2147483648', "m/2147483648'", 'm/99999999999', `m${'/0'.repeat(256)}`, `m/${'0'.repeat(2000)}`,
    'm/0x10', 'm/１',
  ];
  for (const path of bad) t.throws(() => deriveAt(master, path), { code: 'PATH_INVALID' }, JSON.stringify(path.slice(0, 30)));
  t.equal(deriveAt(master, 'm'), master);
  t.equal(deriveAt(master, `m${'/0'.repeat(255)}`).depth, 255, 'depth 255 is the BIP32 maximum');
  t.equal(deriveAt(master, "m/2147483647'").index, 2 ** 32 - 1);
  t.throws(() => deriveAt(master, 5 as unknown as string), TypeError);
  // An absolute path needs the master; a hardened step needs a private key.
  const child = deriveAt(master, "m/0'");
  t.throws(() => deriveAt(child, 'm/1'), { code: 'PATH_INVALID' });
  const publicMaster = HDKey.fromExtendedKey(master.publicExtendedKey);
  t.throws(() => deriveAt(publicMaster, "m/0'"), { code: 'PATH_INVALID' });
  t.equal(deriveAt(publicMaster, 'm/0/1').publicExtendedKey, deriveAt(master, 'm/0/1').publicExtendedKey);
  t.throws(() => keyPairAt(publicMaster, 'm/0'), TypeError);
  t.end();
});

t.test('keyPairAt returns 32-byte scalar + 33-byte compressed key, as copies', (t) => {
  const master = masterKeyFromSeed(mnemonicToSeed(ABOUT, 'TREZOR'));
  const pair = keyPairAt(master, PATH.ownerIdentity);
  t.equal(pair.privateKey.length, 32);
  t.equal(pair.publicKey.length, 33);
  t.equal(hex(publicKeyFromPrivate(pair.privateKey)), hex(pair.publicKey));
  pair.privateKey.fill(0);
  t.not(hex(keyPairAt(master, PATH.ownerIdentity).privateKey), hex(pair.privateKey), 'zeroing the copy leaves the tree intact');
  t.end();
});

t.test('pool addresses: the dongle (xpub only) and the wallet (xprv) agree', (t) => {
  const master = masterKeyFromSeed(mnemonicToSeed(ABOUT, 'TREZOR'));
  const walletAccount = deriveAt(master, PATH.poolAccount(3));
  const dongleAccount = HDKey.fromExtendedKey(walletAccount.publicExtendedKey);
  t.equal(dongleAccount.privateKey, null);
  const seen = new Set<string>();
  for (let i = 0; i < 20; i++) {
    const fromXpub = poolAddressFromAccount(dongleAccount, i);
    t.equal(fromXpub, poolAddressFromAccount(walletAccount, i));
    t.equal(fromXpub, p2pkhAddress(keyPairAt(master, `${PATH.poolAccount(3)}/${i}`).publicKey));
    seen.add(fromXpub);
  }
  t.equal(seen.size, 20, 'distinct addresses');
  t.not(poolAddressFromAccount(deriveAt(master, PATH.poolAccount(4)), 0), poolAddressFromAccount(walletAccount, 0), 'vehicles are separate');
  t.equal(poolAddressFromAccount(dongleAccount, 2 ** 31 - 1).startsWith('1'), true);
  for (const bad of [-1, 2 ** 31, 0.5, Number.NaN]) t.throws(() => poolAddressFromAccount(dongleAccount, bad), RangeError);
  t.end();
});

t.test('the BIP32 invalid-child case is KEY_INVALID, not a silent skip to index + 1', (t) => {
  // parse256(I_L) = n is invalid. @scure/bip32 exposes a test seam taking I; without our check it
  // would return child i + 1, so two pool indices would share one key.
  const forcedI = new Uint8Array(64);
  forcedI.set(unhex(CURVE_ORDER.toString(16)), 0);
  type Seam = { _deriveChild(index: number, I: Uint8Array): HDKey };
  const poison = (key: HDKey, bad: number): void => {
    const real = key.deriveChild.bind(key);
    key.deriveChild = (index: number) => (index === bad ? (key as unknown as Seam)._deriveChild(index, forcedI) : real(index));
  };

  const master = masterKeyFromSeed(unhex(bip32.vectors[0]!.seed));
  const account = deriveAt(master, PATH.poolAccount(0));
  poison(account, 5);
  t.equal(account.deriveChild(5).index, 6, 'the library itself skips to 6');
  t.throws(() => poolAddressFromAccount(account, 5), { code: 'KEY_INVALID' });
  t.ok(poolAddressFromAccount(account, 4).startsWith('1'), 'neighbours unaffected');

  const master2 = masterKeyFromSeed(unhex(bip32.vectors[0]!.seed));
  poison(master2, CARCHAIN_PURPOSE + HARDENED_OFFSET);
  t.throws(() => deriveAt(master2, PATH.ownerIdentity), { code: 'KEY_INVALID' });
  t.end();
});

t.test('masterKeyFromSeed argument checks', (t) => {
  t.throws(() => masterKeyFromSeed(new Uint8Array(15)), RangeError);
  t.throws(() => masterKeyFromSeed(new Uint8Array(65)), RangeError);
  t.throws(() => masterKeyFromSeed('00' as unknown as Uint8Array), TypeError);
  t.equal(masterKeyFromSeed(new Uint8Array(16)).depth, 0);
  t.end();
});
