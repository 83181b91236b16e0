// A secp256k1 key kept in a JSON file ({"privateKey": "<64 hex>"}, mode 0600): read, or created on first use.
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { CarchainError } from '../../../protocol/errors.js';
import { publicKeyFromPrivate } from '../../../protocol/signature.js';

export class KeyFileError extends CarchainError<'KEY_INVALID' | 'KEY_UNREADABLE'> {}

export function readKeyFile(path: string): Uint8Array {
  let parsed: { privateKey?: unknown };
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8')) as { privateKey?: unknown };
  } catch (cause) {
    throw new KeyFileError('KEY_UNREADABLE', `${path}: ${(cause as Error).message}`, { cause });
  }
  if (typeof parsed.privateKey !== 'string' || !/^[0-9a-f]{64}$/.test(parsed.privateKey)) throw new KeyFileError('KEY_INVALID', `${path}: privateKey must be 64 lowercase hex digits`);
  const key = Uint8Array.from(Buffer.from(parsed.privateKey, 'hex'));
  try {
    publicKeyFromPrivate(key);
  } catch (cause) {
    throw new KeyFileError('KEY_INVALID', `${path}: not a secp256k1 private key`, { cause });
  }
  return key;
}

export function writeKeyFile(path: string, key: Uint8Array): void {
  writeFileSync(path, `${JSON.stringify({ privateKey: Buffer.from(key).toString('hex') })}\n`, { mode: 0o600 });
  chmodSync(path, 0o600);
}

export function loadOrCreateKeyFile(path: string): Uint8Array {
  if (existsSync(path)) return readKeyFile(path);
  const key = Uint8Array.from(randomBytes(32));
  writeKeyFile(path, key);
  return key;
}
