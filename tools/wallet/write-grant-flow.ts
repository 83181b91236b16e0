// Owner side of shop access: commit a WriteGrant (shop key + keyed plate hash) for a paired car, hand the shop its ticket, revoke it.
//
// The plateKey is protocol/plate-key.ts's ECDH-keyed hash, so the chain shows nothing a stranger can
// test plates against. The ticket carries what the chain cannot: the VIN (the chain has only its hash)
// and the owner's RSA public key, which the terminal checks against the car's dongle fingerprint.
import type { ChainClient } from '../../gateway/chain/client/chain-client.js';
import { encodeWriteGrantBody } from '../../protocol/chain/tx-bodies.js';
import { buildTx } from '../../protocol/chain/transactions.js';
import { vehicleIdHash } from '../../protocol/device-statements.js';
import { CarchainError } from '../../protocol/errors.js';
import type { HDKey } from '../../protocol/hd-keys.js';
import { ownerIdentity } from '../../protocol/owner-keys.js';
import { plateKey } from '../../protocol/plate-key.js';
import { rsaPublicKeyToPem } from '../../protocol/rsa.js';
import type { KeyObject } from 'node:crypto';

export class WriteGrantFlowError extends CarchainError<'BAD_WRITE_GRANT'> {}

/** Matches firmware/cait/write-grant-store.ts's WriteGrantTicket (tools/ must not import firmware types for the wire shape). */
export interface WriteGrantTicketJson {
  version: 1;
  writeGrantId: string;
  vid: string;
  ownerRsaPublicKey: string;
}

export interface IssueWriteGrant {
  root: HDKey;
  ownerRsaPublicKey: KeyObject;
  vid: string;
  plate: string;
  /** The shop's compressed secp256k1 key (the terminal prints it: `carchain shop identity`). */
  shopPublicKey: Uint8Array;
  formats?: string[];
  /** ms; 0 = never. */
  expiresAt?: number;
  chain: Pick<ChainClient, 'status' | 'submit'>;
  now?: number;
}

const TX_LIFETIME_MS = 20 * 60_000;

export async function issueWriteGrant(req: IssueWriteGrant): Promise<{ writeGrantId: string; height: number | null; ticket: WriteGrantTicketJson }> {
  const identity = ownerIdentity(req.root);
  const now = req.now ?? Date.now();
  let body: Uint8Array;
  try {
    body = encodeWriteGrantBody({
      kind: 'grant', vidHash: vehicleIdHash(req.vid), shopPubKey: req.shopPublicKey, plateKey: plateKey(identity.privateKey, req.shopPublicKey, req.plate),
      formats: req.formats ?? ['maintenance'], expiresAt: req.expiresAt ?? 0, revokes: null,
    });
  } catch (cause) {
    throw new WriteGrantFlowError('BAD_WRITE_GRANT', (cause as Error).message, { cause });
  }
  const { chainId } = await req.chain.status();
  const tx = buildTx({ type: 'WriteGrant', chainId, signerPriv: identity.privateKey, expiresAt: now + TX_LIFETIME_MS, body });
  const committed = await req.chain.submit(tx.bytes, { waitForCommit: true });
  const writeGrantId = Buffer.from(tx.txId).toString('hex');
  return {
    writeGrantId, height: committed.height ?? null,
    ticket: { version: 1, writeGrantId, vid: req.vid, ownerRsaPublicKey: rsaPublicKeyToPem(req.ownerRsaPublicKey) },
  };
}

export async function revokeWriteGrant(root: HDKey, writeGrantId: string, chain: Pick<ChainClient, 'status' | 'submit'>, now = Date.now()): Promise<{ txId: string }> {
  const { chainId } = await chain.status();
  const body = encodeWriteGrantBody({ kind: 'revoke', revokes: Uint8Array.from(Buffer.from(writeGrantId, 'hex')) });
  const tx = buildTx({ type: 'WriteGrant', chainId, signerPriv: ownerIdentity(root).privateKey, expiresAt: now + TX_LIFETIME_MS, body });
  await chain.submit(tx.bytes, { waitForCommit: true });
  return { txId: Buffer.from(tx.txId).toString('hex') };
}
