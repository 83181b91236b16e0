// Address pools: the setDup material, the date → pool index rule (randomFrom / deductFrom) and pool derivation.
//
// A record made on UTC date D is filed under pool address A_i with
//   i = int(HMAC-SHA256(userSeed, "YYYYMMDD")) mod N       (big-endian 256-bit integer)
// The dongle and the wallet share userSeed; nobody else can tell which addresses belong to one car.
import { HDKey } from '@scure/bip32';
import { ProtocolError } from './errors.js';
import { taggedHash, hmacSha256 } from './hash.js';
import { poolAddressFromAccount } from './hd-keys.js';
import { ByteReader, ByteWriter, expectVersion, utf8 } from './wire.js';

export const POOL_MATERIAL_VERSION = 1;
export const USER_SEED_BYTES = 32;
export const MAX_POOL_SIZE = 1024;
const MAX_XPUB_CHARS = 128;

/** What the wallet hands a dongle in setDup. */
export interface PoolMaterial {
  /** The pool account's extended public key (BIP32 xpub); address i is the P2PKH of child i. */
  accountXpub: string;
  /** Secret shared only by wallet and dongle; picks the day's address. */
  userSeed: Uint8Array;
  /** N: the number of addresses in the pool. */
  size: number;
}

export function validatePoolMaterial(material: PoolMaterial): PoolMaterial {
  if (!(material.userSeed instanceof Uint8Array) || material.userSeed.length !== USER_SEED_BYTES) {
    throw new ProtocolError('POOL_INVALID', `pool: userSeed must be ${USER_SEED_BYTES} bytes`);
  }
  if (!Number.isInteger(material.size) || material.size < 1 || material.size > MAX_POOL_SIZE) {
    throw new ProtocolError('POOL_INVALID', `pool: size must be 1..${MAX_POOL_SIZE}, got ${material.size}`);
  }
  const account = accountFromXpub(material.accountXpub);
  if (account.privateKey) throw new ProtocolError('POOL_INVALID', 'pool: an xprv must never leave the wallet; give the xpub');
  return material;
}

export function encodePoolMaterial(material: PoolMaterial): Uint8Array {
  validatePoolMaterial(material);
  return new ByteWriter()
    .u8(POOL_MATERIAL_VERSION)
    .string(material.accountXpub)
    .fixed(material.userSeed, USER_SEED_BYTES)
    .u16(material.size)
    .finish();
}

export function decodePoolMaterial(bytes: Uint8Array): PoolMaterial {
  const r = new ByteReader(bytes, 'pool material');
  expectVersion(r, POOL_MATERIAL_VERSION, 'pool material');
  const accountXpub = r.string(MAX_XPUB_CHARS, 'accountXpub');
  const userSeed = Uint8Array.from(r.take(USER_SEED_BYTES));
  const size = r.u16();
  r.end();
  try {
    return validatePoolMaterial({ accountXpub, userSeed, size });
  } catch (err) {
    if (err instanceof ProtocolError) throw new ProtocolError('DECODE_INVALID', err.message, { cause: err });
    throw err;
  }
}

/**
 * The wallet's userSeed for one pool account, derived from the account's private key so that
 * restoring the mnemonic restores it (the xpub alone does not reveal it).
 */
export function userSeedFromAccount(accountPrivateKey: Uint8Array): Uint8Array {
  if (!(accountPrivateKey instanceof Uint8Array) || accountPrivateKey.length !== 32) {
    throw new TypeError('accountPrivateKey must be 32 bytes');
  }
  return taggedHash('carchain/v1/pool-user-seed', accountPrivateKey);
}

/** All N pool addresses, index order. */
export function derivePoolAddresses(material: PoolMaterial): string[] {
  validatePoolMaterial(material);
  const account = accountFromXpub(material.accountXpub);
  return Array.from({ length: material.size }, (_, i) => poolAddressFromAccount(account, i));
}

/** The UTC calendar day of a moment (ms since epoch or Date) as YYYYMMDD; a YYYYMMDD string is checked. */
export function utcDay(at: number | Date | string): string {
  if (typeof at === 'string') {
    const m = /^(\d{4})(\d{2})(\d{2})$/.exec(at);
    if (!m) throw new ProtocolError('DATE_INVALID', `date ${JSON.stringify(at)} is not YYYYMMDD`);
    const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
    const check = new Date(Date.UTC(y, mo - 1, d));
    if (check.getUTCFullYear() !== y || check.getUTCMonth() !== mo - 1 || check.getUTCDate() !== d) {
      throw new ProtocolError('DATE_INVALID', `date ${at} is not a calendar day`);
    }
    return at;
  }
  const date = at instanceof Date ? at : new Date(at);
  const ms = date.getTime();
  if (!Number.isFinite(ms) || date.getUTCFullYear() < 1970 || date.getUTCFullYear() > 9999) {
    throw new ProtocolError('DATE_INVALID', `time ${String(at)} is outside 1970..9999`);
  }
  const pad = (n: number, w: number) => String(n).padStart(w, '0');
  return `${pad(date.getUTCFullYear(), 4)}${pad(date.getUTCMonth() + 1, 2)}${pad(date.getUTCDate(), 2)}`;
}

/** i = int(HMAC-SHA256(userSeed, "YYYYMMDD")) mod N. */
export function poolIndexForDate(userSeed: Uint8Array, date: number | Date | string, size: number): number {
  if (!(userSeed instanceof Uint8Array) || userSeed.length !== USER_SEED_BYTES) {
    throw new ProtocolError('POOL_INVALID', `pool: userSeed must be ${USER_SEED_BYTES} bytes`);
  }
  if (!Number.isInteger(size) || size < 1 || size > MAX_POOL_SIZE) {
    throw new ProtocolError('POOL_INVALID', `pool: size must be 1..${MAX_POOL_SIZE}`);
  }
  const mac = hmacSha256(userSeed, utf8(utcDay(date)));
  let n = 0n;
  for (const byte of mac) n = (n << 8n) | BigInt(byte);
  return Number(n % BigInt(size));
}

/** Device side: the address a record made on `date` is filed under. */
export function randomFrom(addresses: readonly string[], date: number | Date | string, userSeed: Uint8Array): string {
  if (addresses.length === 0) throw new ProtocolError('POOL_INVALID', 'pool: no addresses');
  return addresses[poolIndexForDate(userSeed, date, addresses.length)]!;
}

/** Wallet side: the same rule run by the owner to find a day's records (named after the API sketch). */
export function deductFrom(addresses: readonly string[], date: number | Date | string, userSeed: Uint8Array): string {
  return randomFrom(addresses, date, userSeed);
}

function accountFromXpub(xpub: string): HDKey {
  if (typeof xpub !== 'string' || xpub.length > MAX_XPUB_CHARS) {
    throw new ProtocolError('POOL_INVALID', 'pool: accountXpub must be a BIP32 extended key string');
  }
  try {
    return HDKey.fromExtendedKey(xpub);
  } catch (cause) {
    throw new ProtocolError('POOL_INVALID', `pool: accountXpub is not a valid extended key: ${(cause as Error).message}`, { cause });
  }
}
