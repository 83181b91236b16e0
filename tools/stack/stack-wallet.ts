// The embedded stack's owner wallet: created and paired with the simulated dongle on first start, reused afterwards.
//
// A demo wallet needs a passphrase nobody types: a random one is kept beside it (0600) and printed as
// a --passphrase-file path, so every `carchain wallet …` command works against the stack at once.
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DongleRuntimeHandle } from '../../firmware/runtime/dongle-runtime.js';
import { generateMnemonic } from '../../protocol/hd-keys.js';
import { OwnerWallet } from '../wallet/owner-wallet.js';
import { createWallet, readWalletMeta, saveWalletMeta } from '../wallet/wallet-keystore.js';

/** The simulated car's VIN (17 characters, no I/O/Q). */
export const STACK_VID = 'LSTACK00000000001';
const POOL_SIZE = 8;

export interface StackWallet {
  path: string;
  passphraseFile: string;
  ownerAddress: string;
  /** True when this start created and paired it. */
  created: boolean;
}

export interface StackWalletOptions {
  dataDir: string;
  dongle: DongleRuntimeHandle;
  gatewayUrl: string;
  chainRpcUrl: string;
  genesisFile: string;
}

export async function ensureStackWallet(o: StackWalletOptions): Promise<StackWallet> {
  const path = join(o.dataDir, 'wallet.json');
  const passphraseFile = join(o.dataDir, 'wallet-passphrase');
  if (!existsSync(passphraseFile)) writeFileSync(passphraseFile, `${randomBytes(18).toString('base64url')}\n`, { mode: 0o600 });
  const passphrase = readFileSync(passphraseFile, 'utf8').trim();
  const services = { gatewayUrl: o.gatewayUrl, chainRpcUrl: o.chainRpcUrl, genesisFile: o.genesisFile };
  const created = !existsSync(path);
  if (created) await createWallet(path, { mnemonic: generateMnemonic(), passphrase, meta: services });
  // The ports may differ from the last start (an ephemeral one when the preferred was taken).
  else saveWalletMeta(path, { ...readWalletMeta(path), ...services });
  // Pair when the dongle still shows a code: first start, or a start after the wallet file was
  // removed and the dongle reset. A dongle paired to someone else shows no code and is left alone.
  const code = o.dongle.pairingCode();
  if (code !== null) {
    const wallet = await OwnerWallet.open(path, passphrase);
    await wallet.pair({ url: o.dongle.pairingUrl, code, vid: STACK_VID, vehicleIndex: 0, poolSize: POOL_SIZE, chainRpcUrl: o.chainRpcUrl });
  }
  return { path, passphraseFile, ownerAddress: readWalletMeta(path).ownerAddress, created };
}
