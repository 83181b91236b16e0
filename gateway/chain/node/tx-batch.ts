// The byte form of a list of transactions: a gossip frame (WIRE.txs) and the body of POST /txs.
//
// count varint ‖ (tx bytes, varint length-prefixed)*. Each tx keeps its exact bytes; nothing else.
import { ProtocolError } from '../../../protocol/errors.js';
import { ByteReader, ByteWriter } from '../../../protocol/wire.js';

export const MAX_TXS_PER_BATCH = 20_000;

export function encodeTxBatch(txs: readonly Uint8Array[]): Uint8Array {
  const w = new ByteWriter().varint(txs.length);
  for (const tx of txs) w.bytes(tx);
  return w.finish();
}

/** Throws ProtocolError on a malformed batch, a tx over `maxTxBytes` or more than MAX_TXS_PER_BATCH txs. */
export function decodeTxBatch(payload: Uint8Array, maxTxBytes: number): Uint8Array[] {
  const r = new ByteReader(payload, 'tx batch');
  const count = r.varint();
  if (count > MAX_TXS_PER_BATCH) throw new ProtocolError('DECODE_TOO_LARGE', `tx batch of ${count} txs`);
  const out: Uint8Array[] = [];
  for (let i = 0; i < count; i++) out.push(r.bytes(maxTxBytes, 'tx').slice());
  r.end();
  return out;
}
