// Determinism of the state machine: random sequences of valid and invalid txs give identical writes and app hashes on independent states; failing txs write nothing.
import t from 'tap';
import fc from 'fast-check';
import { sha256 } from '../../../../protocol/hash.js';
import { utf8 } from '../../../../protocol/wire.js';
import { executeBlock } from '../../../../gateway/chain/app/state-machine.js';
import {
  anchorTx,
  deviceResetTx,
  deviceSetupTx,
  evidenceTx,
  formatRegisterTx,
  grantTx,
  hex,
  key,
  lockKeySetTx,
  stakeTx,
  TestChain,
  testFormat,
  transferTx,
  unstakeTx,
  vid,
  VID,
  VID2,
  vote,
  writeGrantTx,
} from './fixtures.js';

const seed = Number(process.env.CARCHAIN_FUZZ_SEED ?? 0x5eed);
const pick = <T>(list: readonly T[], i: number): T => list[i % list.length]!;
const owners = ['owner', 'buyer', 'stranger'].map(key);
const devices = ['d1', 'd2'].map(key);
const vids = [vid(VID), vid(VID2)];
const validators = [0, 1, 2, 3].map((i) => key(`val${i}`));

/** One random action: a kind and a few small integers that pick its actors and values. */
const action = fc.tuple(fc.integer({ min: 0, max: 13 }), fc.nat(50), fc.nat(50), fc.nat(50));


function build(chain: TestChain, built: Uint8Array[], [kind, a, b, c]: [number, number, number, number]): Uint8Array {
  switch (kind) {
    case 0:
      return anchorTx(chain, pick([key('gateway'), validators[0]!, key('stranger')], a), b % 4);
    case 1:
      return stakeTx(chain, pick([key('staker'), key('stranger'), validators[0]!], a), 1 + (b % 400));
    case 2:
      return unstakeTx(chain, pick(validators, a), 1 + (b % 120));
    case 3:
      return formatRegisterTx(chain, pick([key('m1'), key('m2')], a), testFormat(pick(['fa', 'fb', 'trip-gps'], b), 1 + (c % 3), c % 5 === 0 ? 'X' : 'K'));
    case 4:
      return deviceSetupTx(chain, pick(owners, a), pick(devices, b), pick(vids, c));
    case 5:
      return deviceResetTx(chain, pick(owners, a), pick(devices, b));
    case 6:
      return lockKeySetTx(chain, pick(owners, a), pick(vids, b), (c % 5) + 1); // key sets start at epoch 1
    case 7:
      return grantTx(chain, pick(owners, a), { formats: [pick(['trip-gps', 'dtc', 'nope'], b)], expiresAt: c % 3 === 0 ? chain.time : 0 });
    case 8:
      return transferTx(chain, pick(owners, a), pick(owners, b), pick(vids, c));
    case 9:
      return writeGrantTx(chain, pick(owners, a), { vidHash: pick(vids, b) });
    case 10: {
      const v = pick(validators, a);
      return evidenceTx(chain, key('stranger'), vote(v, 1 + (b % Math.max(1, chain.height)), 'x'), vote(v, 1 + (b % Math.max(1, chain.height)), c % 2 === 0 ? 'y' : 'x'));
    }
    case 11: {
      // A corrupted copy of an earlier tx (or garbage when there is none).
      const base = built.length === 0 ? sha256(utf8(`g${a}`)) : Uint8Array.from(pick(built, a));
      base[b % base.length]! ^= 1 << (c % 8);
      return base;
    }
    case 12:
      // An exact replay of an earlier tx.
      return built.length === 0 ? anchorTx(chain, key('gateway'), 9) : pick(built, a);
    default:
      return grantTx(chain, pick(owners, a), { kind: 'revoke', revokes: sha256(utf8(`grant-${b}`)) });
  }
}

t.test('the same blocks on two independent states give identical results, writes and app hashes', (t) => {
  let blocks = 0;
  let accepted = 0;
  let refused = 0;
  fc.assert(
    fc.property(fc.array(fc.array(action, { minLength: 0, maxLength: 5 }), { minLength: 1, maxLength: 12 }), (plan) => {
      const a = new TestChain();
      const b = new TestChain();
      const built: Uint8Array[] = [];
      for (const actions of plan) {
        const txs = actions.map((x) => {
          const bytes = build(a, built, x);
          built.push(bytes);
          return bytes;
        });
        // Failing txs leave no writes: the block's writes equal those of its ok txs alone.
        const trial = executeBlock(a.state, a.appHash, a.ctx(), txs);
        const okOnly = txs.filter((_, i) => trial.results[i]!.ok);
        const filtered = executeBlock(a.state, a.appHash, a.ctx(), okOnly);
        if (hex(filtered.appHash) !== hex(trial.appHash)) return false;
        const ea = a.block(txs);
        const eb = b.block(txs);
        blocks++;
        accepted += ea.results.filter((r) => r.ok).length;
        refused += ea.results.filter((r) => !r.ok).length;
        if (hex(ea.appHash) !== hex(eb.appHash)) return false;
        if (JSON.stringify(ea.results) !== JSON.stringify(eb.results)) return false;
        if (JSON.stringify(ea.nextValidators) !== JSON.stringify(eb.nextValidators)) return false;
        if (hex(ea.appHash) !== hex(trial.appHash)) return false;
      }
      return JSON.stringify(a.state.dump()) === JSON.stringify(b.state.dump());
    }),
    { numRuns: 60, seed },
  );
  t.ok(blocks > 200, `${blocks} blocks executed`);
  t.ok(accepted > 50 && refused > 50, `both accepted (${accepted}) and refused (${refused}) txs were exercised`);
  t.end();
});

t.test('the app hash chains: same writes at another height or after another prefix give another hash', (t) => {
  const a = new TestChain();
  const b = new TestChain();
  const tx = anchorTx(a, key('gateway'), 1);
  const first = a.block([tx]);
  b.block([]);
  const second = b.block([tx]);
  t.same(first.writes.length, second.writes.length);
  t.not(hex(first.appHash), hex(second.appHash), 'height and history are in the hash');
  const again = executeBlock(a.state, a.appHash, a.ctx(), []);
  t.same(again.writes, [], 'an empty block writes nothing');
  t.not(hex(again.appHash), hex(a.appHash), 'but still moves the hash chain');
  t.end();
});
