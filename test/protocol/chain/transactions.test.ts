// Chain transactions: golden vectors, envelope and body round trips, canonical-encoding rules, fuzzing (only ProtocolError escapes).
import t from 'tap';
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { p2pkhAddress } from '../../../protocol/address.js';
import {
  buildTx,
  decodeTx,
  encodeTx,
  expiryProblem,
  isTxSignatureValid,
  MAX_TX_LIFETIME_MS,
  TX_TYPES,
  txIdOf,
  txTypeCode,
} from '../../../protocol/chain/transactions.js';
import {
  decodeAmountBody,
  decodeBatchAnchorBody,
  decodeEvidenceBody,
  decodeGrantBody,
  decodeLockKeySetBody,
  decodeTxBody,
  decodeVehicleTransferBody,
  decodeWriteGrantBody,
  encodeAmountBody,
  encodeBatchAnchorBody,
  encodeEvidenceBody,
  encodeGrantBody,
  encodeLockKeySetBody,
  encodeVehicleTransferBody,
  encodeWriteGrantBody,
  isValidDay,
  isVehicleTransferAcceptanceValid,
  signVehicleTransferAcceptance,
  type GrantBody,
  type WriteGrantBody,
} from '../../../protocol/chain/tx-bodies.js';
import { ProtocolError } from '../../../protocol/errors.js';
import { sha256 } from '../../../protocol/hash.js';
import { publicKeyFromPrivate } from '../../../protocol/signature.js';
import { utf8 } from '../../../protocol/wire.js';
import { buildChainVectors, type ChainVectors } from '../../../tools/fixtures/chain-vectors.js';

const vectors = JSON.parse(readFileSync(new URL('../../fixtures/chain/transactions.json', import.meta.url), 'utf8')) as ChainVectors;
const hex = (h: string) => Uint8Array.from(Buffer.from(h, 'hex'));
const toHex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const priv = sha256(utf8('tx-test-key'));
const pub = publicKeyFromPrivate(priv);
const fuzzSeed = Number(process.env.CARCHAIN_FUZZ_SEED ?? 0x5eed);

function code(fn: () => unknown): string {
  try {
    fn();
    return 'no error';
  } catch (err) {
    return err instanceof ProtocolError ? err.code : `untyped: ${String(err)}`;
  }
}

t.test('golden vectors: one tx of each type, unchanged bytes', (t) => {
  t.same(buildChainVectors(), vectors, 'the generator still produces the committed file (regenerate only on purpose)');
  t.same(
    vectors.txs.map((v) => v.type),
    [...TX_TYPES],
    'every type has a vector, in code order',
  );
  for (const v of vectors.txs) {
    const bytes = hex(v.bytes);
    const tx = decodeTx(bytes);
    t.equal(tx.type, v.type, `${v.type}: type`);
    t.equal(bytes[1], txTypeCode(v.type), `${v.type}: type byte`);
    t.equal(tx.chainId, vectors.chainId);
    t.same(tx.signer, publicKeyFromPrivate(hex(v.signerPrivateKey)));
    t.equal(tx.nonce, BigInt(v.nonce));
    t.equal(tx.expiresAt, v.expiresAt);
    t.equal(toHex(tx.body), v.body);
    t.equal(toHex(tx.txId), v.txId, `${v.type}: txId`);
    t.ok(isTxSignatureValid(tx), `${v.type}: signature`);
    t.same(encodeTx(tx), bytes, `${v.type}: re-encodes to the same bytes`);
    t.doesNotThrow(() => decodeTxBody(tx.type, tx.body), `${v.type}: body decodes`);
  }
  t.end();
});

t.test('envelope', (t) => {
  const body = encodeBatchAnchorBody({ batchId: 1, root: sha256(utf8('r')), leafCount: 3 });
  const built = buildTx({ type: 'BatchAnchor', chainId: 'c', signerPriv: priv, nonce: 2n ** 64n - 1n, expiresAt: 2 ** 53 - 1, body });
  const tx = decodeTx(built.bytes);
  t.equal(tx.nonce, 2n ** 64n - 1n, 'full u64 nonce');
  t.equal(tx.expiresAt, 2 ** 53 - 1);
  t.same(tx.signer, pub);
  t.same(built.txId, tx.txId);
  t.same(txIdOf(built.bytes), tx.txId);
  t.same(txIdOf(built.tx), tx.txId);
  t.same(tx.txId, sha256(built.bytes.subarray(0, built.bytes.length - 64)), 'txId = sha256(signBytes)');

  const otherSig = Uint8Array.from(built.bytes);
  otherSig[otherSig.length - 1]! ^= 0xff;
  t.same(decodeTx(otherSig).txId, tx.txId, 'txId does not depend on the signature bytes');
  t.notOk(isTxSignatureValid(decodeTx(otherSig)), 'but the signature no longer verifies');

  const random = buildTx({ type: 'BatchAnchor', chainId: 'c', signerPriv: priv, expiresAt: 5, body });
  const random2 = buildTx({ type: 'BatchAnchor', chainId: 'c', signerPriv: priv, expiresAt: 5, body });
  t.not(toHex(random.txId), toHex(random2.txId), 'default nonces are random');

  t.equal(code(() => decodeTx(Uint8Array.of(2, ...built.bytes.subarray(1)))), 'UNSUPPORTED_VERSION');
  const badType = Uint8Array.from(built.bytes);
  badType[1] = 0;
  t.equal(code(() => decodeTx(badType)), 'DECODE_INVALID', 'type 0');
  badType[1] = TX_TYPES.length + 1;
  t.equal(code(() => decodeTx(badType)), 'DECODE_INVALID', 'type past the last');
  t.equal(code(() => decodeTx(Uint8Array.of(...built.bytes, 0))), 'DECODE_TRAILING_BYTES');
  t.equal(code(() => decodeTx(built.bytes.subarray(0, built.bytes.length - 1))), 'DECODE_TRUNCATED');
  const badKey = Uint8Array.from(built.bytes);
  badKey[4] = 0x05; // signer prefix byte (after version, type, chainId "c")
  t.equal(code(() => decodeTx(badKey)), 'DECODE_INVALID', 'signer not a compressed key');
  t.equal(code(() => decodeTx(new Uint8Array(20_000))), 'DECODE_TOO_LARGE');
  t.throws(() => buildTx({ type: 'Stake', chainId: '', signerPriv: priv, expiresAt: 1, body }), RangeError, 'empty chain id');
  t.throws(() => buildTx({ type: 'Stake', chainId: 'c', signerPriv: priv, expiresAt: 1, body: new Uint8Array(20_000) }), RangeError, 'body too large');
  t.end();
});

t.test('expiry window', (t) => {
  t.equal(expiryProblem(999, 1000), 'EXPIRED');
  t.equal(expiryProblem(1000, 1000), null);
  t.equal(expiryProblem(1000 + MAX_TX_LIFETIME_MS, 1000), null);
  t.equal(expiryProblem(1001 + MAX_TX_LIFETIME_MS, 1000), 'TOO_FAR_IN_FUTURE');
  t.end();
});

t.test('days', (t) => {
  t.ok(isValidDay(20240229));
  t.notOk(isValidDay(20230229), 'not a leap year');
  t.notOk(isValidDay(20241301));
  t.notOk(isValidDay(20240100));
  t.notOk(isValidDay(2024011));
  t.end();
});

const bytes32 = fc.uint8Array({ minLength: 32, maxLength: 32 });
const formatName = fc.stringMatching(/^[A-Za-z][A-Za-z0-9_-]{0,10}$/);
const day = fc.date({ min: new Date('1970-01-01T00:00:00Z'), max: new Date('9999-12-31T00:00:00Z'), noInvalidDate: true }).map((d) => Number(d.toISOString().slice(0, 10).replaceAll('-', '')));
const safe = fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER });

t.test('body round trips (property)', (t) => {
  fc.assert(
    fc.property(bytes32, bytes32, fc.tuple(day, day), fc.uniqueArray(formatName, { minLength: 1, maxLength: 5 }), fc.boolean(), safe, fc.option(bytes32), (grantee, fp, [a, b], formats, resell, expiresAt, revokes) => {
      const body: GrantBody = {
        kind: 'grant',
        grantee: p2pkhAddress(publicKeyFromPrivate(sha256(grantee))),
        granteeRsaFingerprint: fp,
        fromDay: Math.min(a, b),
        toDay: Math.max(a, b),
        formats: [...formats].sort(),
        resell,
        expiresAt,
        revokes,
      };
      return JSON.stringify(decodeGrantBody(encodeGrantBody(body))) === JSON.stringify(body);
    }),
    { numRuns: 200, seed: fuzzSeed },
  );
  fc.assert(
    fc.property(bytes32, bytes32, fc.uniqueArray(formatName, { minLength: 1, maxLength: 5 }), safe, fc.option(bytes32), (vid, plate, formats, expiresAt, revokes) => {
      const body: WriteGrantBody = { kind: 'grant', vidHash: vid, shopPubKey: pub, plateKey: plate, formats: [...formats].sort(), expiresAt, revokes };
      return JSON.stringify(decodeWriteGrantBody(encodeWriteGrantBody(body))) === JSON.stringify(body);
    }),
    { numRuns: 200, seed: fuzzSeed },
  );
  fc.assert(
    fc.property(safe, bytes32, fc.integer({ min: 1, max: 2 ** 24 }), (batchId, root, leafCount) => {
      const b = decodeBatchAnchorBody(encodeBatchAnchorBody({ batchId, root, leafCount }));
      return b.batchId === batchId && toHex(b.root) === toHex(root) && b.leafCount === leafCount;
    }),
    { seed: fuzzSeed },
  );
  fc.assert(
    fc.property(bytes32, safe, fc.uint8Array({ maxLength: 4096 }), (vidHash, epoch, keySet) => {
      const b = decodeLockKeySetBody(encodeLockKeySetBody({ vidHash, epoch, keySet }));
      return b.epoch === epoch && toHex(b.keySet) === toHex(keySet) && toHex(b.vidHash) === toHex(vidHash);
    }),
    { numRuns: 100, seed: fuzzSeed },
  );
  fc.assert(fc.property(fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }), (amount) => decodeAmountBody(encodeAmountBody({ amount })).amount === amount), { seed: fuzzSeed });
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 512 }), fc.uint8Array({ maxLength: 512 }), (voteA, voteB) => {
      const e = decodeEvidenceBody(encodeEvidenceBody({ voteA, voteB }));
      return toHex(e.voteA) === toHex(voteA) && toHex(e.voteB) === toHex(voteB);
    }),
    { numRuns: 100, seed: fuzzSeed },
  );
  t.pass('properties hold');
  t.end();
});

t.test('vehicle transfer acceptance is bound to chain, vehicle, both owners and the nonce', (t) => {
  const buyerPriv = sha256(utf8('buyer'));
  const acceptance = { chainId: 'c', vidHash: sha256(utf8('v')), currentOwnerPubKey: pub, newOwnerPubKey: publicKeyFromPrivate(buyerPriv), nonce: 9n };
  const sig = signVehicleTransferAcceptance(acceptance, buyerPriv);
  t.ok(isVehicleTransferAcceptanceValid(acceptance, sig));
  t.notOk(isVehicleTransferAcceptanceValid({ ...acceptance, nonce: 10n }, sig), 'other nonce');
  t.notOk(isVehicleTransferAcceptanceValid({ ...acceptance, chainId: 'd' }, sig), 'other chain');
  t.notOk(isVehicleTransferAcceptanceValid({ ...acceptance, vidHash: sha256(utf8('w')) }, sig), 'other vehicle');
  const body = { vidHash: acceptance.vidHash, newOwnerPubKey: acceptance.newOwnerPubKey, acceptanceSignature: sig };
  t.same(decodeVehicleTransferBody(encodeVehicleTransferBody(body)), body, 'body round trip');
  t.end();
});

t.test('canonical encodings only', (t) => {
  const grant: GrantBody = {
    kind: 'grant',
    grantee: p2pkhAddress(pub),
    granteeRsaFingerprint: new Uint8Array(32),
    fromDay: 20260101,
    toDay: 20260102,
    formats: ['b', 'a', 'a'],
    resell: true,
    expiresAt: 0,
    revokes: null,
  };
  const encoded = encodeGrantBody(grant);
  t.same((decodeGrantBody(encoded) as { formats: string[] }).formats, ['a', 'b'], 'encoder sorts and deduplicates');
  const swapped = Uint8Array.from(encoded);
  // formats start after 20 + 32 + 4 + 4 bytes: count, then "a" and "b" (len 1 each)
  swapped[62] = 0x62;
  swapped[64] = 0x61;
  t.equal(code(() => decodeGrantBody(swapped)), 'DECODE_NON_CANONICAL', 'unsorted format list');
  const revocation = encodeGrantBody({ kind: 'revoke', revokes: sha256(utf8('g')) });
  t.same(decodeGrantBody(revocation), { kind: 'revoke', revokes: sha256(utf8('g')) });
  const dirty = Uint8Array.from(revocation);
  dirty[3] = 1;
  t.equal(code(() => decodeGrantBody(dirty)), 'DECODE_NON_CANONICAL', 'revocation with a non-zero field');
  const noRevokes = Uint8Array.from(revocation.subarray(0, revocation.length - 33));
  t.equal(code(() => decodeGrantBody(Uint8Array.of(...noRevokes, 0))), 'DECODE_INVALID', 'empty formats without revokes');
  const badDays = Uint8Array.from(encoded);
  badDays.set([0x01, 0x35, 0x1d, 0xa5], 52); // fromDay 20258213
  t.equal(code(() => decodeGrantBody(badDays)), 'DECODE_INVALID', 'impossible date');
  t.throws(() => encodeGrantBody({ ...grant, fromDay: 20260103 }), RangeError, 'fromDay after toDay');
  t.throws(() => encodeGrantBody({ ...grant, formats: [] }), RangeError, 'empty format list is not a grant');
  const wRevocation = encodeWriteGrantBody({ kind: 'revoke', revokes: sha256(utf8('w')) });
  t.equal(decodeWriteGrantBody(wRevocation).kind, 'revoke');
  const wDirty = Uint8Array.from(wRevocation);
  wDirty[40] = 2;
  t.equal(code(() => decodeWriteGrantBody(wDirty)), 'DECODE_NON_CANONICAL');
  t.equal(code(() => decodeBatchAnchorBody(new Uint8Array(44))), 'DECODE_INVALID', 'leafCount 0');
  t.equal(code(() => decodeAmountBody(new Uint8Array(8))), 'DECODE_INVALID', 'amount 0');
  t.equal(code(() => decodeAmountBody(new Uint8Array(8).fill(0xff))), 'DECODE_INVALID', 'amount over 2^53');
  t.end();
});

// ---------------------------------------------------------------------------------------------
// Fuzz: random and mutated inputs; every decoder may only throw ProtocolError.

function onlyTyped(decode: (b: Uint8Array) => unknown): (b: Uint8Array) => boolean {
  return (b) => {
    try {
      decode(b);
    } catch (err) {
      if (!(err instanceof ProtocolError)) throw err;
    }
    return true;
  };
}

function mutated(seeds: Uint8Array[]): fc.Arbitrary<Uint8Array> {
  return fc
    .tuple(fc.constantFrom(...seeds), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 4 }), fc.nat(255)), { minLength: 1, maxLength: 4 }))
    .map(([seed, edits]) => {
      const out = Array.from(seed);
      for (const [pos, kind, value] of edits) {
        const at = out.length === 0 ? 0 : pos % out.length;
        if (kind === 0) out[at] = value;
        else if (kind === 1) out.splice(at, 0, value);
        else if (kind === 2) out.splice(at, 1 + (value % 8));
        else if (kind === 3) out.length = at;
        else out[at] = [0x00, 0x7f, 0x80, 0xff][value % 4]!;
      }
      return Uint8Array.from(out);
    });
}

t.test('fuzz: decodeTx and every body decoder throw only ProtocolError', (t) => {
  const txBytes = vectors.txs.map((v) => hex(v.bytes));
  const input = (seeds: Uint8Array[]) => fc.oneof(fc.uint8Array({ maxLength: 300 }), mutated(seeds));
  fc.assert(fc.property(input(txBytes), onlyTyped(decodeTx)), { numRuns: 5000, seed: fuzzSeed });
  let runs = 0;
  for (const type of TX_TYPES) {
    const seeds = vectors.txs.filter((v) => v.type === type).map((v) => hex(v.body));
    fc.assert(
      fc.property(input(seeds), (b) => {
        runs++;
        return onlyTyped((x) => decodeTxBody(type, x))(b);
      }),
      { numRuns: 2000, seed: fuzzSeed },
    );
  }
  t.equal(runs, 2000 * TX_TYPES.length, `${runs} body inputs`);
  t.end();
});
