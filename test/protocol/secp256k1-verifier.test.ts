// The native and WASM libsecp256k1 verifiers (and their point checks) agree on every input: Wycheproof (Bitcoin variant), random valid/tampered signatures, keys with no point; the native one is what runs on this x64 box.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import t from 'tap';
import * as ecc from 'tiny-secp256k1';
import { sha256 } from '../../protocol/hash.js';
import { loadNativeVerifier, secp256k1Verifier, wasmVerifier, type Secp256k1Verifier } from '../../protocol/secp256k1-verifier.js';
import { CURVE_ORDER, decodeDerSignature } from '../../protocol/signature.js';

const unhex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'hex'));
const toBig = (b: Uint8Array): bigint => BigInt(`0x${Buffer.from(b).toString('hex') || '0'}`);
const HALF_ORDER = CURVE_ORDER >> 1n;

const native = loadNativeVerifier();
const onX64Linux = process.platform === 'linux' && process.arch === 'x64';

t.test('the native build loads on x64 Linux and is the default there', (t) => {
  if (!onX64Linux) {
    t.comment(`${process.platform}-${process.arch}: no prebuilt binary expected; default is ${secp256k1Verifier.name}`);
    t.end();
    return;
  }
  t.ok(native, 'secp256k1/bindings.js loads');
  t.equal(secp256k1Verifier.name, 'native');
  t.end();
});

t.test('CARCHAIN_SECP256K1=wasm selects the WASM build', (t) => {
  const script = "import('./protocol/secp256k1-verifier.ts').then((m) => process.stdout.write(m.secp256k1Verifier.name))";
  const run = (env: NodeJS.ProcessEnv): string =>
    execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: new URL('../../', import.meta.url), env: { ...process.env, ...env }, encoding: 'utf8' });
  t.equal(run({ CARCHAIN_SECP256K1: 'wasm' }), 'wasm');
  if (onX64Linux) t.equal(run({ CARCHAIN_SECP256K1: '' }), 'native');
  t.end();
});

/** Both verifiers, or just WASM where the native one does not load (nothing to compare then). */
const verifiers: Secp256k1Verifier[] = native === null ? [wasmVerifier] : [native, wasmVerifier];

interface WycheproofFile {
  testGroups: { publicKey: { uncompressed: string }; tests: { tcId: number; msg: string; sig: string; result: string }[] }[];
}

t.test('Wycheproof ecdsa_secp256k1_sha256_bitcoin: same outcome from both, and the expected one', (t) => {
  const file = JSON.parse(readFileSync(new URL('../fixtures/wycheproof/ecdsa_secp256k1_sha256_bitcoin_test.json', import.meta.url), 'utf8')) as WycheproofFile;
  let compared = 0;
  for (const group of file.testGroups) {
    const uncompressed = unhex(group.publicKey.uncompressed);
    for (const publicKey of [uncompressed, ecc.pointCompress(uncompressed, true)]) {
      for (const test of group.tests) {
        let compact: Uint8Array;
        try {
          compact = decodeDerSignature(unhex(test.sig));
        } catch {
          continue; // not strict DER: refused before any verifier is asked
        }
        const r = toBig(compact.subarray(0, 32));
        const s = toBig(compact.subarray(32));
        if (r === 0n || r >= CURVE_ORDER || s === 0n || s >= CURVE_ORDER) continue; // range: refused by signature.ts
        const outcomes = verifiers.map((v) => v.verify(sha256(unhex(test.msg)), publicKey, compact));
        t.equal(new Set(outcomes).size, 1, `tcId ${test.tcId}: ${outcomes.join(' / ')}`);
        // High s is refused by signature.ts before the library; the library refuses it too (strict).
        const expected = test.result === 'valid' && s <= HALF_ORDER ? 'valid' : 'invalid';
        t.equal(outcomes[0], expected, `tcId ${test.tcId}`);
        compared++;
      }
    }
  }
  t.ok(compared > 300, `${compared} signature/key pairs compared`);
  t.end();
});

t.test('random keys, digests and tampering: both agree; keys with no point are bad-key for both', (t) => {
  const scalar = fc.bigInt({ min: 1n, max: CURVE_ORDER - 1n }).map((v) => unhex(v.toString(16).padStart(64, '0')));
  const digest = fc.uint8Array({ minLength: 32, maxLength: 32 });
  fc.assert(
    fc.property(scalar, digest, fc.nat(511), fc.constantFrom('none', 'flip-signature', 'other-digest', 'flip-key-x'), (priv, d, bit, tamper) => {
      const publicKey = ecc.pointFromScalar(priv, true)!;
      let signature = ecc.sign(d, priv);
      let message: Uint8Array = d;
      let key = publicKey;
      if (tamper === 'flip-signature') {
        signature = signature.slice();
        signature[bit >> 3]! ^= 1 << (bit & 7);
      } else if (tamper === 'other-digest') {
        message = sha256(d);
      } else if (tamper === 'flip-key-x') {
        key = publicKey.slice();
        key[1 + ((bit >> 3) % 32)]! ^= 1 << (bit & 7);
      }
      const r = toBig(signature.subarray(0, 32));
      const s = toBig(signature.subarray(32));
      fc.pre(r > 0n && r < CURVE_ORDER && s > 0n && s < CURVE_ORDER);
      const outcomes = verifiers.map((v) => v.verify(message, key, signature));
      if (new Set(outcomes).size !== 1) return false;
      if (new Set(verifiers.map((v) => v.isPoint(key))).size !== 1) return false;
      if (tamper === 'none') return outcomes[0] === 'valid';
      if (tamper === 'flip-key-x' && !ecc.isPoint(key)) return outcomes[0] === 'bad-key';
      return outcomes[0] === 'invalid';
    }),
    { numRuns: 2000, seed: 20261122 },
  );
  t.end();
});
