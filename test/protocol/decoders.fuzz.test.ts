// Fuzz: every decoder gets ≥ 10,000 random and mutated inputs and may only ever throw a ProtocolError.
//
// Inputs come from a seeded PRNG (CARCHAIN_FUZZ_SEED to vary it; the seed is printed) and from
// mutations of the committed valid vectors, so most inputs get past the version byte.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { ProtocolError } from '../../protocol/errors.js';
import { decodeUplinkMessage } from '../../protocol/uplink.js';
import { decodeOriginProof } from '../../protocol/origin-proof.js';
import { decodeRecord } from '../../protocol/record.js';
import { decodeEnvelope } from '../../protocol/envelope.js';
import { decodePoolAuthorisation } from '../../protocol/pool-authorisation.js';
import { decodePoolMaterial } from '../../protocol/pools.js';
import { decodeFormatDefinition } from '../../protocol/formats.js';
import { decodeRecordValue } from '../../protocol/record-value.js';
import { decodeRecordKey, readKeyFormat } from '../../protocol/key-encoding.js';
import { decodeInclusionProof } from '../../protocol/merkle.js';
import { decodeDerSignature, encodeDerSignature } from '../../protocol/signature.js';
import { base58checkDecode } from '../../protocol/base58check.js';
import { decodeAddress } from '../../protocol/address.js';
import { mnemonicToSeed } from '../../protocol/hd-keys.js';
import { decodeRsaPublicKey } from '../../protocol/rsa.js';
import { builtinFormatDictionary } from '../../protocol/builtin-formats.js';

const RUNS = 10_000;
const seed = Number(process.env.CARCHAIN_FUZZ_SEED ?? 0x5eed);
const v = JSON.parse(readFileSync(new URL('../fixtures/protocol/vectors.json', import.meta.url), 'utf8'));
const hex = (h: string) => Uint8Array.from(Buffer.from(h, 'hex'));
const trip = builtinFormatDictionary().get('trip-gps');

/** xorshift32: small, seedable, good enough to drive mutations. */
function prng(s: number) {
  let x = s >>> 0 || 1;
  return () => {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    return x / 0x1_0000_0000;
  };
}

function mutate(rand: () => number, input: Uint8Array): Uint8Array {
  const bytes = Array.from(input);
  const edits = 1 + Math.floor(rand() * 4);
  for (let e = 0; e < edits; e++) {
    const at = Math.floor(rand() * (bytes.length + 1));
    switch (Math.floor(rand() * 7)) {
      case 0: if (bytes.length) bytes[at % bytes.length] = bytes[at % bytes.length]! ^ (1 << Math.floor(rand() * 8)); break; // bit flip
      case 1: if (bytes.length) bytes[at % bytes.length] = Math.floor(rand() * 256); break; // byte set
      case 2: bytes.splice(at, 0, Math.floor(rand() * 256)); break; // insert
      case 3: bytes.splice(at, 1 + Math.floor(rand() * 8)); break; // delete
      case 4: bytes.length = Math.floor(rand() * bytes.length); break; // truncate
      case 5: bytes.push(...Array.from({ length: 1 + Math.floor(rand() * 8) }, () => Math.floor(rand() * 256))); break; // extend
      default: if (bytes.length) bytes[at % bytes.length] = [0x00, 0x7f, 0x80, 0xff][Math.floor(rand() * 4)]!; // boundary values
    }
  }
  return Uint8Array.from(bytes);
}

function randomBytes(rand: () => number): Uint8Array {
  return Uint8Array.from({ length: Math.floor(rand() * 200) }, () => Math.floor(rand() * 256));
}

interface Target {
  name: string;
  decode: (input: Uint8Array) => unknown;
  seeds: Uint8Array[];
  text?: boolean;
}

const targets: Target[] = [
  { name: 'uplink message', decode: decodeUplinkMessage, seeds: [hex(v.uplink.bytes)] },
  { name: 'origin proof', decode: decodeOriginProof, seeds: v.uplink.originProofs.map(hex) },
  { name: 'record', decode: decodeRecord, seeds: v.records.map((r: { bytes: string }) => hex(r.bytes)) },
  { name: 'envelope', decode: decodeEnvelope, seeds: [hex(v.envelope.bytes)] },
  { name: 'pool authorisation', decode: decodePoolAuthorisation, seeds: [hex(v.authorisation.bytes)] },
  { name: 'pool material', decode: decodePoolMaterial, seeds: [hex(v.pool.material)] },
  { name: 'format definition', decode: decodeFormatDefinition, seeds: [hex(v.formats['trip-gps'])] },
  { name: 'record value', decode: (b) => decodeRecordValue(trip, b), seeds: [hex(v.value.trip)] },
  { name: 'record key', decode: (b) => decodeRecordKey(trip.key, b), seeds: [hex(v.keys.trip), hex(v.keys.tripRangeEnd)] },
  { name: 'key format prefix', decode: readKeyFormat, seeds: [hex(v.keys.trip)] },
  { name: 'inclusion proof', decode: decodeInclusionProof, seeds: [hex(v.uplink.inclusionProof1)] },
  { name: 'DER signature', decode: decodeDerSignature, seeds: [encodeDerSignature(hex(v.signature.signature))] },
  { name: 'RSA public key (SPKI)', decode: decodeRsaPublicKey, seeds: [hex(v.wallet.rsaPublicKeySpki)] },
  { name: 'base58check', decode: (b) => base58checkDecode(Buffer.from(b).toString('latin1')), seeds: [Buffer.from(v.pool.address, 'latin1')], text: true },
  { name: 'address', decode: (b) => decodeAddress(Buffer.from(b).toString('latin1')), seeds: [Buffer.from(v.wallet.identityAddress, 'latin1')], text: true },
  { name: 'mnemonic', decode: (b) => mnemonicToSeed(Buffer.from(b).toString('latin1')), seeds: [Buffer.from(v.wallet.mnemonic, 'latin1')], text: true },
];

t.comment(`fuzz seed ${seed} (set CARCHAIN_FUZZ_SEED to vary)`);

for (const [n, target] of targets.entries()) {
  t.test(`${target.name}: ${RUNS} inputs, only ProtocolError escapes`, (t) => {
    const rand = prng(seed + n * 7919);
    const codes = new Map<string, number>();
    let accepted = 0;
    for (let i = 0; i < RUNS; i++) {
      const base = target.seeds[i % target.seeds.length]!;
      const input = rand() < 0.2 ? randomBytes(rand) : mutate(rand, base);
      try {
        target.decode(input);
        accepted++;
      } catch (err) {
        if (!(err instanceof ProtocolError)) {
          t.fail(`input ${Buffer.from(input).toString('hex').slice(0, 400)} threw ${String(err)}`);
          t.end();
          return;
        }
        codes.set(err.code, (codes.get(err.code) ?? 0) + 1);
      }
    }
    t.comment(`accepted ${accepted}; rejected by code: ${[...codes].map(([c, k]) => `${c}=${k}`).join(' ')}`);
    t.equal(accepted + [...codes.values()].reduce((a, b) => a + b, 0), RUNS, `all ${RUNS} inputs ran`);
    t.ok(accepted < RUNS, 'mutations are rejected');
    t.end();
  });
}
