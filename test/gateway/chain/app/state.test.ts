// MemoryState and StateOverlay against a plain sorted-map model: get, prefix scans with limits, merged overlays, write sets.
import t from 'tap';
import fc from 'fast-check';
import { encodeWriteSet } from '../../../../gateway/chain/app/app-hash.js';
import { AppError } from '../../../../gateway/chain/app/errors.js';
import * as layout from '../../../../gateway/chain/app/state-layout.js';
import { keyHex, MemoryState, StateOverlay } from '../../../../gateway/chain/app/state.js';

const seed = Number(process.env.CARCHAIN_FUZZ_SEED ?? 0x5eed);
const smallKey = fc.uint8Array({ minLength: 0, maxLength: 3, max: 3 });
const op = fc.tuple(smallKey, fc.option(fc.uint8Array({ maxLength: 3 }), { freq: 3 }));

function modelScan(model: Map<string, Uint8Array>, prefix: Uint8Array, limit: number): string[] {
  const p = keyHex(prefix);
  return [...model.keys()].filter((k) => k.startsWith(p)).sort().slice(0, limit).map((k) => `${k}=${keyHex(model.get(k)!)}`);
}

const show = (it: Iterable<[Uint8Array, Uint8Array]>) => [...it].map(([k, v]) => `${keyHex(k)}=${keyHex(v)}`);

t.test('base + overlay + child overlay behave like one sorted map', (t) => {
  fc.assert(
    fc.property(fc.array(op, { maxLength: 30 }), fc.array(op, { maxLength: 30 }), fc.array(op, { maxLength: 10 }), smallKey, fc.integer({ min: 0, max: 40 }), (baseOps, overlayOps, childOps, prefix, limit) => {
      const model = new Map<string, Uint8Array>();
      const base = new MemoryState();
      const applyModel = (ops: typeof baseOps) => {
        for (const [k, v] of ops) {
          if (v === null) model.delete(keyHex(k));
          else model.set(keyHex(k), v);
        }
      };
      base.apply(baseOps.map(([key, value]) => ({ key, value })));
      applyModel(baseOps);
      const overlay = new StateOverlay(base);
      for (const [k, v] of overlayOps) {
        if (v === null) overlay.delete(k);
        else overlay.set(k, v);
      }
      applyModel(overlayOps);
      const child = new StateOverlay(overlay);
      for (const [k, v] of childOps) {
        if (v === null) child.delete(k);
        else child.set(k, v);
      }
      const afterChild = new Map(model);
      for (const [k, v] of childOps) {
        if (v === null) afterChild.delete(keyHex(k));
        else afterChild.set(keyHex(k), v);
      }
      if (JSON.stringify(show(overlay.scan(prefix, limit))) !== JSON.stringify(modelScan(model, prefix, limit))) return false;
      if (JSON.stringify(show(child.scan(prefix, limit))) !== JSON.stringify(modelScan(afterChild, prefix, limit))) return false;
      for (const [k] of [...baseOps, ...overlayOps]) {
        const got = overlay.get(k);
        const want = model.get(keyHex(k));
        if ((got === undefined) !== (want === undefined) || (got && keyHex(got) !== keyHex(want!))) return false;
      }
      child.mergeInto(overlay);
      // Applying the write set to the base gives the merged view.
      const applied = new MemoryState();
      applied.apply(baseOps.map(([key, value]) => ({ key, value })));
      applied.apply(overlay.writes());
      encodeWriteSet(overlay.writes()); // sorted, one write per key (throws otherwise)
      return JSON.stringify(show(applied.scan(new Uint8Array(0)))) === JSON.stringify(modelScan(afterChild, new Uint8Array(0), Infinity));
    }),
    { numRuns: 500, seed },
  );
  t.pass('model agrees');
  t.end();
});

t.test('an empty value is present; null deletes', (t) => {
  const s = new MemoryState();
  s.apply([{ key: Uint8Array.of(1), value: new Uint8Array(0) }]);
  t.same(s.get(Uint8Array.of(1)), new Uint8Array(0));
  s.apply([{ key: Uint8Array.of(1), value: null }]);
  t.equal(s.get(Uint8Array.of(1)), undefined);
  t.equal(s.size, 0);
  t.end();
});

t.test('write sets must be sorted and unique', (t) => {
  t.throws(() => encodeWriteSet([{ key: Uint8Array.of(2), value: null }, { key: Uint8Array.of(1), value: null }]), RangeError);
  t.throws(() => encodeWriteSet([{ key: Uint8Array.of(1), value: null }, { key: Uint8Array.of(1), value: null }]), RangeError);
  t.end();
});

t.test('record loaders: round trips, and garbage is only ever STATE_CORRUPT', (t) => {
  const pub = Uint8Array.of(2, ...new Uint8Array(32).fill(7));
  const h32 = new Uint8Array(32).fill(9);
  const h20 = new Uint8Array(20).fill(4);
  const samples: [string, Uint8Array, (b: Uint8Array) => unknown, unknown][] = [
    ['vehicle', layout.saveVehicle({ ownerPublicKey: pub, ownerSince: 3, device: { devicePublicKey: pub, rsaFingerprint: h32, since: 4 } }), layout.loadVehicle, { ownerPublicKey: pub, ownerSince: 3, device: { devicePublicKey: pub, rsaFingerprint: h32, since: 4 } }],
    ['vehicle without device', layout.saveVehicle({ ownerPublicKey: pub, ownerSince: 3, device: null }), layout.loadVehicle, { ownerPublicKey: pub, ownerSince: 3, device: null }],
    ['device', layout.saveDevice(h32), layout.loadDevice, h32],
    ['lock key set', layout.saveLockKeySet({ epoch: 5, keySet: h20, height: 9 }), layout.loadLockKeySet, { epoch: 5, keySet: h20, height: 9 }],
    ['grant', layout.saveGrant({ grantorHash160: h20, granteeHash160: h20, granteeRsaFingerprint: h32, fromDay: 20260101, toDay: 20260102, formats: ['a', 'b'], resell: true, expiresAt: 0, height: 2, revokedAt: 0 }), layout.loadGrant, { grantorHash160: h20, granteeHash160: h20, granteeRsaFingerprint: h32, fromDay: 20260101, toDay: 20260102, formats: ['a', 'b'], resell: true, expiresAt: 0, height: 2, revokedAt: 0 }],
    ['write grant', layout.saveWriteGrant({ grantorPublicKey: pub, vidHash: h32, shopPublicKey: pub, plateKey: h32, formats: ['m'], expiresAt: 1, height: 2, revokedAt: 3 }), layout.loadWriteGrant, { grantorPublicKey: pub, vidHash: h32, shopPublicKey: pub, plateKey: h32, formats: ['m'], expiresAt: 1, height: 2, revokedAt: 3 }],
    ['anchor', layout.saveAnchor({ height: 1, txId: h32, root: h32, leafCount: 7 }), layout.loadAnchor, { height: 1, txId: h32, root: h32, leafCount: 7 }],
    ['account', layout.saveAccount({ balance: 1, bonded: 2, unbonding: 0, unbondingUntil: 0 }), layout.loadAccount, { balance: 1, bonded: 2, unbonding: 0, unbondingUntil: 0 }],
    ['unbonding account', layout.saveAccount({ balance: 1, bonded: 2, unbonding: 3, unbondingUntil: 1004 }), layout.loadAccount, { balance: 1, bonded: 2, unbonding: 3, unbondingUntil: 1004 }],
    ['validator', layout.saveValidator({ publicKey: pub, power: 8 }), layout.loadValidator, { publicKey: pub, power: 8 }],
  ];
  for (const [name, bytes, load, expected] of samples) {
    t.same(load(bytes), expected, `${name} round trip`);
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 200 }), fc.tuple(fc.nat(), fc.nat(255)).map(([at, v]) => { const b = Uint8Array.from(bytes); b[at % b.length] = v; return b.subarray(0, Math.max(1, b.length - (v % 3))); })), (b) => {
        try {
          load(b);
        } catch (err) {
          if (!(err instanceof AppError) || err.code !== 'STATE_CORRUPT') throw err;
        }
        return true;
      }),
      { numRuns: 300, seed },
    );
  }
  t.end();
});
