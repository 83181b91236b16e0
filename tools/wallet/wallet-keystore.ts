// The owner wallet's file: the BIP39 mnemonic encrypted under a passphrase (scrypt + AES-256-GCM) beside plain, non-secret metadata.
//
// Only the mnemonic is secret and only it is needed to read old data (every key derives from it,
// protocol/owner-keys.ts); the metadata (paired devices, service URLs) is a convenience that a
// restore rebuilds by pairing again. Writes go to a 0600 temp file in the same directory, are
// fsynced and renamed over the old file, so a crash leaves either the old or the new wallet.
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { createCipheriv, createDecipheriv, createHash, randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import { homedir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { CarchainError } from '../../protocol/errors.js';
import { masterKeyFromSeed, mnemonicToSeed, validateMnemonic, type HDKey } from '../../protocol/hd-keys.js';
import { ownerIdentity } from '../../protocol/owner-keys.js';

export type KeystoreErrorCode = 'WRONG_PASSPHRASE' | 'KEYSTORE_CORRUPT' | 'KEYSTORE_EXISTS' | 'KEYSTORE_MISSING' | 'PASSPHRASE_MISSING' | 'MNEMONIC_INVALID';
export class KeystoreError extends CarchainError<KeystoreErrorCode> {}

export const KEYSTORE_FORMAT = 'carchain-wallet/1';
export const DEFAULT_WALLET_PATH = join(homedir(), '.carchain', 'wallet.json');
export const PASSPHRASE_ENV = 'CARCHAIN_WALLET_PASSPHRASE';

/** One dongle this wallet paired (non-secret: everything here is also on the chain or on the dongle). */
export interface PairedDevice {
  /** The dongle's P2PKH device address (from its pairing code). */
  deviceId: string;
  devicePublicKey: string;
  vid: string;
  /** Which of the wallet's vehicles: selects the pool account m/17219'/1'/v'. */
  vehicleIndex: number;
  poolSize: number;
  pairedAt: number;
  /** Set when the wallet reset the dongle; its old records stay readable under the same pool. */
  resetAt?: number;
  /** The DeviceSetup transaction, when it was submitted to a chain. */
  setupTxId?: string;
}

export interface WalletMeta {
  ownerAddress: string;
  createdAt: number;
  gatewayUrl?: string;
  chainRpcUrl?: string;
  /** A trusted genesis.json for `wallet verify`. */
  genesisFile?: string;
  devices: PairedDevice[];
}

export interface UnlockedWallet {
  root: HDKey;
  mnemonic: string;
  meta: WalletMeta;
}

interface KdfParams {
  N: number;
  r: number;
  p: number;
  salt: string;
  dklen: number;
}

interface KeystoreFile {
  format: typeof KEYSTORE_FORMAT;
  crypto: {
    kdf: 'scrypt';
    kdfparams: KdfParams;
    cipher: 'aes-256-gcm';
    iv: string;
    tag: string;
    ciphertext: string;
    /** SHA-256 of the second half of the derived key: tells a wrong passphrase from a damaged ciphertext. */
    passphraseCheck: string;
  };
  meta: WalletMeta;
}

/** 2^17 × 8 × 128 B = 128 MiB of scrypt memory: about half a second per unlock on a laptop core. */
export const DEFAULT_KDF = { N: 131_072, r: 8, p: 1 } as const;
const SCRYPT_MAXMEM = 512 * 1024 * 1024;

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

function deriveKey(passphrase: string, k: KdfParams): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(passphrase.normalize('NFKC'), Buffer.from(k.salt, 'hex'), k.dklen, { N: k.N, r: k.r, p: k.p, maxmem: SCRYPT_MAXMEM }, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

/** The ciphertext is bound to the file format and owner address, so swapping either is detected. */
function aad(ownerAddress: string): Buffer {
  return Buffer.from(`${KEYSTORE_FORMAT}\n${ownerAddress}`, 'utf8');
}

function rootOf(mnemonic: string): HDKey {
  return masterKeyFromSeed(mnemonicToSeed(mnemonic));
}

export interface CreateWalletOptions {
  mnemonic: string;
  passphrase: string;
  meta?: Partial<Omit<WalletMeta, 'ownerAddress'>>;
  /** Replace an existing file (restore over an old wallet); default refuses with KEYSTORE_EXISTS. */
  overwrite?: boolean;
  kdf?: { N: number; r: number; p: number };
  now?: number;
}

/** Writes a new wallet file for `mnemonic` (init or restore). */
export async function createWallet(path: string, o: CreateWalletOptions): Promise<UnlockedWallet> {
  const mnemonic = o.mnemonic.trim().split(/\s+/).join(' ');
  if (!validateMnemonic(mnemonic)) throw new KeystoreError('MNEMONIC_INVALID', 'not a valid BIP39 English mnemonic (wrong word or checksum)');
  if (o.passphrase.length === 0) throw new KeystoreError('PASSPHRASE_MISSING', 'the wallet passphrase must not be empty');
  if (!o.overwrite && exists(path)) throw new KeystoreError('KEYSTORE_EXISTS', `${path} already holds a wallet (restore with --force to replace it)`);
  const root = rootOf(mnemonic);
  const meta: WalletMeta = { devices: [], createdAt: o.now ?? Date.now(), ...o.meta, ownerAddress: ownerIdentity(root).address };
  const kdfparams: KdfParams = { ...(o.kdf ?? DEFAULT_KDF), salt: hex(randomBytes(32)), dklen: 64 };
  const key = await deriveKey(o.passphrase, kdfparams);
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key.subarray(0, 32), iv).setAAD(aad(meta.ownerAddress));
  const ciphertext = Buffer.concat([cipher.update(mnemonic, 'utf8'), cipher.final()]);
  const file: KeystoreFile = {
    format: KEYSTORE_FORMAT,
    crypto: {
      kdf: 'scrypt', kdfparams, cipher: 'aes-256-gcm', iv: hex(iv), tag: hex(cipher.getAuthTag()), ciphertext: hex(ciphertext),
      passphraseCheck: hex(createHash('sha256').update(key.subarray(32)).digest()),
    },
    meta,
  };
  writeFileAtomic(path, `${JSON.stringify(file, null, 2)}\n`);
  return { root, mnemonic, meta };
}

function exists(path: string): boolean {
  try {
    readFileSync(path);
    return true;
  } catch {
    return false;
  }
}

function readKeystore(path: string): KeystoreFile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (cause) {
    throw new KeystoreError('KEYSTORE_MISSING', `no wallet at ${path} (create one with \`carchain wallet init\`)`, { cause });
  }
  let file: KeystoreFile;
  try {
    file = JSON.parse(text) as KeystoreFile;
  } catch (cause) {
    throw new KeystoreError('KEYSTORE_CORRUPT', `${path} is not JSON: ${(cause as Error).message}`, { cause });
  }
  const c = file?.crypto;
  const k = c?.kdfparams;
  const isHex = (s: unknown, bytes?: number) => typeof s === 'string' && /^(?:[0-9a-f]{2})*$/.test(s) && (bytes === undefined ? s.length > 0 : s.length === 2 * bytes);
  const ok = file?.format === KEYSTORE_FORMAT && c?.kdf === 'scrypt' && c.cipher === 'aes-256-gcm'
    && Number.isInteger(k?.N) && k.N >= 2 && (k.N & (k.N - 1)) === 0 && Number.isInteger(k.r) && k.r >= 1 && Number.isInteger(k.p) && k.p >= 1 && k.dklen === 64 && isHex(k.salt)
    && isHex(c.iv, 12) && isHex(c.tag, 16) && isHex(c.ciphertext) && isHex(c.passphraseCheck, 32)
    && typeof file.meta?.ownerAddress === 'string' && Array.isArray(file.meta.devices);
  if (!ok) throw new KeystoreError('KEYSTORE_CORRUPT', `${path} is not a ${KEYSTORE_FORMAT} wallet file (a field is missing or malformed)`);
  return file;
}

/** Reads the metadata without the passphrase (`wallet devices`). */
export function readWalletMeta(path: string): WalletMeta {
  return readKeystore(path).meta;
}

/** Decrypts the wallet: WRONG_PASSPHRASE, or KEYSTORE_CORRUPT when the passphrase is right but the file was damaged. */
export async function unlockWallet(path: string, passphrase: string): Promise<UnlockedWallet> {
  const file = readKeystore(path);
  const c = file.crypto;
  let key: Buffer;
  try {
    key = await deriveKey(passphrase, c.kdfparams);
  } catch (cause) {
    throw new KeystoreError('KEYSTORE_CORRUPT', `${path}: scrypt parameters refused: ${(cause as Error).message}`, { cause });
  }
  const check = createHash('sha256').update(key.subarray(32)).digest();
  if (!timingSafeEqual(check, Buffer.from(c.passphraseCheck, 'hex'))) throw new KeystoreError('WRONG_PASSPHRASE', `wrong passphrase for ${path}`);
  let mnemonic: string;
  try {
    const decipher = createDecipheriv('aes-256-gcm', key.subarray(0, 32), Buffer.from(c.iv, 'hex')).setAAD(aad(file.meta.ownerAddress));
    decipher.setAuthTag(Buffer.from(c.tag, 'hex'));
    mnemonic = Buffer.concat([decipher.update(Buffer.from(c.ciphertext, 'hex')), decipher.final()]).toString('utf8');
  } catch (cause) {
    throw new KeystoreError('KEYSTORE_CORRUPT', `${path}: the passphrase is right but the encrypted mnemonic or owner address was altered`, { cause });
  }
  if (!validateMnemonic(mnemonic)) throw new KeystoreError('KEYSTORE_CORRUPT', `${path}: the decrypted mnemonic is not valid BIP39`);
  const root = rootOf(mnemonic);
  if (ownerIdentity(root).address !== file.meta.ownerAddress) throw new KeystoreError('KEYSTORE_CORRUPT', `${path}: the mnemonic does not belong to ${file.meta.ownerAddress}`);
  return { root, mnemonic, meta: file.meta };
}

/** Replaces the metadata, keeping the encrypted part byte for byte (no passphrase needed; ownerAddress cannot change). */
export function saveWalletMeta(path: string, meta: WalletMeta): void {
  const file = readKeystore(path);
  if (meta.ownerAddress !== file.meta.ownerAddress) throw new KeystoreError('KEYSTORE_CORRUPT', `${path}: metadata for ${meta.ownerAddress} cannot replace ${file.meta.ownerAddress}`);
  writeFileAtomic(path, `${JSON.stringify({ ...file, meta }, null, 2)}\n`);
}

function writeFileAtomic(path: string, text: string): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${hex(randomBytes(4))}.tmp`);
  const fd = openSync(tmp, 'wx', 0o600);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } catch (err) {
    closeSync(fd);
    rmSync(tmp, { force: true });
    throw err;
  }
  closeSync(fd);
  renameSync(tmp, path);
  try {
    const dir = openSync(dirname(path), 'r');
    fsyncSync(dir);
    closeSync(dir);
  } catch {
    // Some filesystems refuse fsync on a directory; the rename itself is still atomic.
  }
}

export interface PassphraseSource {
  passphraseFile?: string;
  /** Ask twice and compare (init/restore). */
  confirm?: boolean;
  env?: NodeJS.ProcessEnv;
}

/** The passphrase from --passphrase-file, then $CARCHAIN_WALLET_PASSPHRASE, then a no-echo TTY prompt. */
export async function readPassphrase(opts: PassphraseSource = {}): Promise<string> {
  if (opts.passphraseFile !== undefined) {
    let text: string;
    try {
      text = readFileSync(opts.passphraseFile, 'utf8');
    } catch (cause) {
      throw new KeystoreError('PASSPHRASE_MISSING', `cannot read passphrase file ${opts.passphraseFile}: ${(cause as Error).message}`, { cause });
    }
    const passphrase = text.replace(/\r?\n$/, '');
    if (passphrase.length === 0) throw new KeystoreError('PASSPHRASE_MISSING', `${opts.passphraseFile} is empty`);
    return passphrase;
  }
  const fromEnv = (opts.env ?? process.env)[PASSPHRASE_ENV];
  if (fromEnv !== undefined && fromEnv.length > 0) return fromEnv;
  if (!process.stdin.isTTY) throw new KeystoreError('PASSPHRASE_MISSING', `no passphrase: give --passphrase-file FILE, set ${PASSPHRASE_ENV}, or run on a terminal`);
  const first = await promptHidden('Wallet passphrase: ');
  if (first.length === 0) throw new KeystoreError('PASSPHRASE_MISSING', 'empty passphrase');
  if (opts.confirm && (await promptHidden('Repeat passphrase: ')) !== first) throw new KeystoreError('PASSPHRASE_MISSING', 'the passphrases differ');
  return first;
}

/** Reads one line from the TTY in raw mode so nothing is echoed. */
function promptHidden(question: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const stdin = process.stdin;
    process.stderr.write(question);
    stdin.setRawMode(true);
    stdin.resume();
    let line = '';
    const done = (err?: Error) => {
      stdin.setRawMode(false);
      stdin.pause();
      stdin.off('data', onData);
      process.stderr.write('\n');
      if (err) reject(err);
      else resolve(line);
    };
    const onData = (chunk: Buffer) => {
      for (const ch of chunk.toString('utf8')) {
        if (ch === '\r' || ch === '\n') return done();
        if (ch === '\u0003') return done(new KeystoreError('PASSPHRASE_MISSING', 'interrupted'));
        if (ch === '\u007f' || ch === '\b') line = line.slice(0, -1);
        else line += ch;
      }
    };
    stdin.on('data', onData);
  });
}
