// The wallet file: round trip, wrong passphrase vs damage, 0600 atomic writes, and restore deriving the same keys and pool addresses.
import t, { type Test } from 'tap';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateMnemonic } from '../../../protocol/hd-keys.js';
import { ownerIdentity, poolMaterialFor } from '../../../protocol/owner-keys.js';
import { derivePoolAddresses } from '../../../protocol/pools.js';
import {
  KEYSTORE_FORMAT, KeystoreError, createWallet, readPassphrase, readWalletMeta, saveWalletMeta, unlockWallet,
} from '../../../tools/wallet/wallet-keystore.js';

// Small scrypt cost for the many unlocks below; the default cost is checked once on its own.
const FAST_KDF = { N: 1024, r: 8, p: 1 };
const mnemonic = generateMnemonic(new Uint8Array(32).fill(0x42));

function tempDir(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'carchain-wallet-ks-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function rejectsWith(t: Test, p: Promise<unknown>, code: string, what: string): Promise<void> {
  try {
    await p;
    t.fail(`${what}: expected ${code}`);
  } catch (err) {
    t.ok(err instanceof KeystoreError, `${what}: a KeystoreError`);
    t.equal((err as KeystoreError).code, code, `${what}: ${code}`);
  }
}

t.test('round trip: the mnemonic and metadata come back; the file is 0600 JSON with its parameters and no plaintext words', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'sub', 'wallet.json');
  const created = await createWallet(path, { mnemonic, passphrase: 'correct horse', meta: { gatewayUrl: 'http://127.0.0.1:9' }, kdf: FAST_KDF, now: 1_795_000_000_000 });
  t.equal(statSync(path).mode & 0o777, 0o600, 'file mode 0600');
  const text = readFileSync(path, 'utf8');
  const file = JSON.parse(text) as { format: string; crypto: { kdf: string; kdfparams: { N: number; salt: string }; cipher: string } };
  t.equal(file.format, KEYSTORE_FORMAT);
  t.match(file.crypto, { kdf: 'scrypt', cipher: 'aes-256-gcm', kdfparams: { N: 1024, r: 8, p: 1, dklen: 64 } });
  for (const word of mnemonic.split(' ')) t.notOk(text.includes(`${word} `), `"${word}" not in the file`);
  const unlocked = await unlockWallet(path, 'correct horse');
  t.equal(unlocked.mnemonic, mnemonic);
  t.equal(unlocked.meta.ownerAddress, ownerIdentity(unlocked.root).address);
  t.equal(unlocked.meta.ownerAddress, created.meta.ownerAddress);
  t.same(unlocked.meta, { devices: [], createdAt: 1_795_000_000_000, gatewayUrl: 'http://127.0.0.1:9', ownerAddress: created.meta.ownerAddress });
  t.same(readdirSync(join(dir, 'sub')), ['wallet.json'], 'no temp file left behind');

  const device = { deviceId: '1Dev', devicePublicKey: '02'.padEnd(66, '0'), vid: 'LBVNU79049SB81546', vehicleIndex: 0, poolSize: 8, pairedAt: 1 };
  saveWalletMeta(path, { ...unlocked.meta, devices: [device] });
  t.equal(statSync(path).mode & 0o777, 0o600, 'still 0600 after a metadata update');
  t.same(readWalletMeta(path).devices, [device], 'metadata readable without the passphrase');
  t.equal((await unlockWallet(path, 'correct horse')).mnemonic, mnemonic, 'the encrypted part is unchanged by a metadata update');
  t.throws(() => saveWalletMeta(path, { ...unlocked.meta, ownerAddress: '1BoatSLRHtKNngkdXEeobR76b53LETtpyT' }), { code: 'KEYSTORE_CORRUPT' }, 'metadata of another owner is refused');
});

t.test('the default scrypt cost (N = 2^17) works within Node\'s memory limit', async (t) => {
  const path = join(tempDir(t), 'wallet.json');
  await createWallet(path, { mnemonic, passphrase: 'p' });
  t.equal((JSON.parse(readFileSync(path, 'utf8')) as { crypto: { kdfparams: { N: number } } }).crypto.kdfparams.N, 131_072);
  t.equal((await unlockWallet(path, 'p')).mnemonic, mnemonic);
});

t.test('wrong passphrase is WRONG_PASSPHRASE; a damaged file is KEYSTORE_CORRUPT; an existing file is KEYSTORE_EXISTS', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'wallet.json');
  await createWallet(path, { mnemonic, passphrase: 'right', kdf: FAST_KDF });
  await rejectsWith(t, unlockWallet(path, 'wrong'), 'WRONG_PASSPHRASE', 'wrong passphrase');
  await rejectsWith(t, createWallet(path, { mnemonic, passphrase: 'x', kdf: FAST_KDF }), 'KEYSTORE_EXISTS', 'init over an existing wallet');
  await rejectsWith(t, unlockWallet(join(dir, 'absent.json'), 'right'), 'KEYSTORE_MISSING', 'no file');
  const good = JSON.parse(readFileSync(path, 'utf8')) as { crypto: Record<string, unknown>; meta: Record<string, unknown> };
  const variant = async (name: string, mutate: (f: typeof good) => void, code = 'KEYSTORE_CORRUPT') => {
    const copy = structuredClone(good);
    mutate(copy);
    const p = join(dir, `${name}.json`);
    writeFileSync(p, JSON.stringify(copy));
    await rejectsWith(t, unlockWallet(p, 'right'), code, name);
  };
  const flip = (h: string) => `${h.slice(0, -2)}${((Number.parseInt(h.slice(-2), 16) ^ 1) & 0xff).toString(16).padStart(2, '0')}`;
  await variant('ciphertext bit flipped', (f) => (f.crypto.ciphertext = flip(f.crypto.ciphertext as string)));
  await variant('tag bit flipped', (f) => (f.crypto.tag = flip(f.crypto.tag as string)));
  await variant('owner address swapped', (f) => (f.meta.ownerAddress = '1BoatSLRHtKNngkdXEeobR76b53LETtpyT'));
  await variant('iv missing', (f) => delete f.crypto.iv);
  await variant('salt changed (another key)', (f) => (f.crypto.kdfparams = { ...(f.crypto.kdfparams as object), salt: '00'.repeat(32) }), 'WRONG_PASSPHRASE');
  await variant('N not a power of two', (f) => (f.crypto.kdfparams = { ...(f.crypto.kdfparams as object), N: 1000 }));
  writeFileSync(join(dir, 'truncated.json'), readFileSync(path, 'utf8').slice(0, 100));
  await rejectsWith(t, unlockWallet(join(dir, 'truncated.json'), 'right'), 'KEYSTORE_CORRUPT', 'truncated JSON');
  await rejectsWith(t, createWallet(join(dir, 'bad-words.json'), { mnemonic: `${mnemonic.split(' ').slice(1).join(' ')} abandon`, passphrase: 'x', kdf: FAST_KDF }), 'MNEMONIC_INVALID', 'a mnemonic with a bad checksum');
});

t.test('restore: the same mnemonic under another passphrase gives the same owner address and the same pool addresses', async (t) => {
  const dir = tempDir(t);
  const a = await createWallet(join(dir, 'a.json'), { mnemonic, passphrase: 'one', kdf: FAST_KDF });
  // Restoring from words as a person types them: extra spaces and a trailing newline.
  const b = await unlockWallet((await createWallet(join(dir, 'b.json'), { mnemonic: `  ${mnemonic.replaceAll(' ', '   ')}\n`, passphrase: 'two', kdf: FAST_KDF }), join(dir, 'b.json')), 'two');
  t.equal(b.meta.ownerAddress, a.meta.ownerAddress);
  for (const vehicle of [0, 1, 5]) {
    t.same(derivePoolAddresses(poolMaterialFor(b.root, vehicle, 16)), derivePoolAddresses(poolMaterialFor(a.root, vehicle, 16)), `vehicle ${vehicle}: same 16 pool addresses`);
    t.same(poolMaterialFor(b.root, vehicle, 16).userSeed, poolMaterialFor(a.root, vehicle, 16).userSeed, `vehicle ${vehicle}: same userSeed (same day → address rule)`);
  }
  const other = await createWallet(join(dir, 'c.json'), { mnemonic: generateMnemonic(new Uint8Array(32).fill(7)), passphrase: 'one', kdf: FAST_KDF });
  t.not(other.meta.ownerAddress, a.meta.ownerAddress, 'another mnemonic, another owner');
});

t.test('readPassphrase: file (trailing newline dropped), then the environment; nothing on a non-TTY is PASSPHRASE_MISSING', async (t) => {
  const dir = tempDir(t);
  writeFileSync(join(dir, 'pp'), 'from file\n');
  t.equal(await readPassphrase({ passphraseFile: join(dir, 'pp'), env: { CARCHAIN_WALLET_PASSPHRASE: 'env' } }), 'from file');
  t.equal(await readPassphrase({ env: { CARCHAIN_WALLET_PASSPHRASE: 'from env' } }), 'from env');
  writeFileSync(join(dir, 'empty'), '\n');
  await rejectsWith(t, readPassphrase({ passphraseFile: join(dir, 'empty') }), 'PASSPHRASE_MISSING', 'empty file');
  await rejectsWith(t, readPassphrase({ passphraseFile: join(dir, 'none') }), 'PASSPHRASE_MISSING', 'missing file');
  if (!process.stdin.isTTY) await rejectsWith(t, readPassphrase({ env: {} }), 'PASSPHRASE_MISSING', 'no source and no terminal');
});
