// `npm run bench:protocol`: protocol throughput with same-run baselines, printed as JSON (medians of rounds).
//
//   seal/open of a 1 KiB value — ours (node:crypto) vs node-forge doing the same RSA-OAEP + AES-GCM
//   sign/verify — ours (tiny-secp256k1 = libsecp256k1/WASM, with domain tag and low-S checks)
//                  vs @noble/curves and node:crypto (OpenSSL), and the native libsecp256k1 binding
//   uplink verification cost per record for messages of 1, 16, 64 records — vs signing every record
import { createSign, createVerify, generateKeyPairSync, randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import forge from 'node-forge';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import nativeSecp from 'secp256k1';
import { builtinFormatDictionary } from '../../protocol/builtin-formats.js';
import { openValue, sealValue } from '../../protocol/envelope.js';
import { masterKeyFromSeed } from '../../protocol/hd-keys.js';
import { devicePoolKey, deviceRoot } from '../../protocol/device-keys.js';
import { poolKeyPair, poolMaterialFor } from '../../protocol/owner-keys.js';
import { authorisePoolKey } from '../../protocol/pool-authorisation.js';
import { derivePoolAddresses } from '../../protocol/pools.js';
import { sealRecord } from '../../protocol/record.js';
import { DOMAIN, publicKeyFromPrivate, sign, signatureDigest, verify } from '../../protocol/signature.js';
import { createUplinkMessage, decodeUplinkMessage, encodeUplinkMessage, verifyUplinkMessage } from '../../protocol/uplink.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const ROUND_MS = Number(process.env.BENCH_ROUND_MS ?? 400);

/** ops/s for each round of ~ROUND_MS; returns the median and the rounds. */
function measure(fn: () => void): { median: number; rounds: number[] } {
  for (let i = 0; i < 20; i++) fn(); // warm up the JIT
  const rounds: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    let n = 0;
    const start = performance.now();
    let elapsed = 0;
    while (elapsed < ROUND_MS) {
      fn();
      n++;
      elapsed = performance.now() - start;
    }
    rounds.push((n / elapsed) * 1000);
  }
  const sorted = [...rounds].sort((a, b) => a - b);
  return { median: Math.round(sorted[Math.floor(sorted.length / 2)]!), rounds: rounds.map(Math.round) };
}

const ratio = (a: number, b: number) => Math.round((a / b) * 100) / 100;

function benchEnvelope() {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 3072, publicExponent: 65537 });
  const slot = { address: '1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2', format: 'trip-gps', encodedKey: new Uint8Array(40) };
  const value = randomBytes(1024);
  const sealed = sealValue(publicKey, slot, value);
  const seal = measure(() => sealValue(publicKey, slot, value));
  const open = measure(() => openValue(privateKey, slot, sealed));

  // Baseline: the same hybrid construction in node-forge (pure JS).
  const forgePub = forge.pki.publicKeyFromPem(publicKey.export({ type: 'spki', format: 'pem' }) as string);
  const forgePriv = forge.pki.privateKeyFromPem(privateKey.export({ type: 'pkcs8', format: 'pem' }) as string);
  const forgeValue = forge.util.binary.raw.encode(value);
  const forgeSeal = () => {
    const key = forge.random.getBytesSync(32);
    const iv = forge.random.getBytesSync(12);
    const cipher = forge.cipher.createCipher('AES-GCM', key);
    cipher.start({ iv, additionalData: 'aad' });
    cipher.update(forge.util.createBuffer(forgeValue));
    cipher.finish();
    const wrapped = forgePub.encrypt(key, 'RSA-OAEP', { md: forge.md.sha256.create(), mgf1: { md: forge.md.sha256.create() } });
    return { wrapped, iv, ct: cipher.output.getBytes(), tag: cipher.mode.tag.getBytes() };
  };
  const forgeSealed = forgeSeal();
  const forgeOpen = () => {
    const key = forgePriv.decrypt(forgeSealed.wrapped, 'RSA-OAEP', { md: forge.md.sha256.create(), mgf1: { md: forge.md.sha256.create() } });
    const decipher = forge.cipher.createDecipher('AES-GCM', key);
    decipher.start({ iv: forgeSealed.iv, additionalData: 'aad', tag: forge.util.createBuffer(forgeSealed.tag) });
    decipher.update(forge.util.createBuffer(forgeSealed.ct));
    if (!decipher.finish()) throw new Error('forge open failed');
  };
  const forgeSealRate = measure(forgeSeal);
  const forgeOpenRate = measure(forgeOpen);
  return {
    valueBytes: 1024,
    rsaBits: 3072,
    sealPerSec: { ours: seal.median, forge: forgeSealRate.median, ratio: ratio(seal.median, forgeSealRate.median) },
    openPerSec: { ours: open.median, forge: forgeOpenRate.median, ratio: ratio(open.median, forgeOpenRate.median) },
    rounds: { seal: seal.rounds, open: open.rounds, forgeSeal: forgeSealRate.rounds, forgeOpen: forgeOpenRate.rounds },
  };
}

function benchSignatures() {
  const privateKey = randomBytes(32);
  const publicKey = publicKeyFromPrivate(privateKey);
  const message = randomBytes(100);
  const digest = signatureDigest(DOMAIN.uplinkRoot, message);
  const ours = sign(DOMAIN.uplinkRoot, message, privateKey);

  // node:crypto signs with its own key pair: it cannot take a raw scalar without building a JWK, and
  // key import is not what is being measured.
  const nodePriv = generateKeyPairSync('ec', { namedCurve: 'secp256k1' });
  const nodeSig = createSign('sha256').update(message).sign(nodePriv.privateKey);

  const results = {
    ours: { sign: measure(() => sign(DOMAIN.uplinkRoot, message, privateKey)), verify: measure(() => verify(DOMAIN.uplinkRoot, message, ours, publicKey)) },
    noble: {
      sign: measure(() => secp256k1.sign(digest, privateKey, { prehash: false })),
      verify: measure(() => secp256k1.verify(ours, digest, publicKey, { prehash: false })),
    },
    nodeCrypto: {
      sign: measure(() => createSign('sha256').update(message).sign(nodePriv.privateKey)),
      verify: measure(() => createVerify('sha256').update(message).verify(nodePriv.publicKey, nodeSig)),
    },
    nativeLibsecp256k1: {
      sign: measure(() => nativeSecp.ecdsaSign(digest, privateKey)),
      verify: measure(() => nativeSecp.ecdsaVerify(ours, digest, publicKey)),
    },
  };
  const table = Object.fromEntries(
    Object.entries(results).map(([name, r]) => [name, { signPerSec: r.sign.median, verifyPerSec: r.verify.median }]),
  );
  return {
    chosen: 'ours = tiny-secp256k1 (libsecp256k1 compiled to WASM) behind protocol/signature.ts: tagged digest, low-S and range checks included',
    perSec: table,
    oursVersus: {
      noble: { sign: ratio(results.ours.sign.median, results.noble.sign.median), verify: ratio(results.ours.verify.median, results.noble.verify.median) },
      nodeCrypto: { sign: ratio(results.ours.sign.median, results.nodeCrypto.sign.median), verify: ratio(results.ours.verify.median, results.nodeCrypto.verify.median) },
      nativeLibsecp256k1: { sign: ratio(results.ours.sign.median, results.nativeLibsecp256k1.sign.median), verify: ratio(results.ours.verify.median, results.nativeLibsecp256k1.verify.median) },
    },
  };
}

function benchUplink() {
  const formats = builtinFormatDictionary();
  const owner = masterKeyFromSeed(new Uint8Array(64).fill(9));
  const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 3072, publicExponent: 65537 });
  const address = derivePoolAddresses(poolMaterialFor(owner, 0, 4))[0]!;
  const k = devicePoolKey(deviceRoot(new Uint8Array(32).fill(1)), 0);
  const now = Date.now();
  const authorisation = authorisePoolKey(poolKeyPair(owner, 0, 0).privateKey, { devicePublicKey: k.publicKey, notBefore: now - 1e9, notAfter: now + 1e9 });
  const value = { VID: 'LBVNU79049SB81546', len: 20, GPS: Array.from({ length: 20 }, (_, i) => ({ lat: 31.2 + i / 1000, lng: 121.4 + i / 1000 })), SPEED: Array.from({ length: 20 }, (_, i) => i * 3) };
  const out: Record<string, unknown> = {};
  // Baseline: one signature per record (what a design without batch signatures would verify).
  const perRecordSig = sign(DOMAIN.uplinkRoot, new Uint8Array(32), k.privateKey);
  const perRecordVerify = measure(() => verify(DOMAIN.uplinkRoot, new Uint8Array(32), perRecordSig, k.publicKey));
  const perRecordUs = 1e6 / perRecordVerify.median;
  for (const n of [1, 16, 64]) {
    const records = Array.from({ length: n }, (_, i) => sealRecord(formats.get('trip-gps'), address, { SESSION_ID: i, START_TIME: 20261121070000, END_TIME: 20261121080000 }, value, publicKey));
    const wire = encodeUplinkMessage(createUplinkMessage(records, authorisation, k.privateKey));
    const full = measure(() => verifyUplinkMessage(decodeUplinkMessage(wire), { now }));
    const cached = measure(() => verifyUplinkMessage(decodeUplinkMessage(wire), { now, authorisationChecked: true }));
    const usPerRecordFull = 1e6 / full.median / n;
    const usPerRecordCached = 1e6 / cached.median / n;
    out[`records${n}`] = {
      messageBytes: wire.length,
      messagesPerSec: { authorisationVerified: full.median, authorisationCached: cached.median },
      usPerRecord: { authorisationVerified: Math.round(usPerRecordFull * 10) / 10, authorisationCached: Math.round(usPerRecordCached * 10) / 10 },
      recordsPerSecCached: Math.round(n * cached.median),
      speedupVsSignaturePerRecord: ratio(perRecordUs, usPerRecordCached),
    };
  }
  return { decodeAndVerify: out, baselineOneSignaturePerRecordUs: Math.round(perRecordUs * 10) / 10 };
}

const report = {
  bench: 'protocol',
  node: process.version,
  rounds: ROUNDS,
  roundMs: ROUND_MS,
  statistic: 'median ops/s over rounds',
  envelope: benchEnvelope(),
  signatures: benchSignatures(),
  uplink: benchUplink(),
};
process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
