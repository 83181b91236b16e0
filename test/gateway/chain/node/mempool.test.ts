// The mempool: admission through the application, copies recognised without a second check, limits, removal and expiry.
import t from 'tap';
import { buildTx } from '../../../../protocol/chain/transactions.js';
import { sha256 } from '../../../../protocol/hash.js';
import { utf8 } from '../../../../protocol/wire.js';
import type { ChainApplication, TxVerdict } from '../../../../gateway/chain/node/application.js';
import { Mempool, MempoolError } from '../../../../gateway/chain/node/mempool.js';
import { MemoryState } from '../../../../gateway/chain/app/index.js';
import { ValidatorSet } from '../../../../gateway/chain/consensus/validator-set.js';
import { publicKeyFromPrivate } from '../../../../protocol/signature.js';

const key = sha256(utf8('mempool-test'));
const validators = new ValidatorSet([{ publicKey: publicKeyFromPrivate(key), power: 1 }]);
const ctx = { chainId: 'c', height: 1, time: 1_000, validators, validatorsAt: () => validators };

function counting(verdict: (tx: Uint8Array) => Partial<TxVerdict>): { app: ChainApplication; checks: () => number } {
  let n = 0;
  const app: ChainApplication = {
    checkTx: (_s, _c, tx) => {
      n++;
      return { txId: sha256(tx), ok: true, ...verdict(tx) };
    },
    executeBlock: () => { throw new Error('not used'); },
  };
  return { app, checks: () => n };
}

const tx = (i: number, expiresAt: number): Uint8Array => buildTx({ type: 'Stake', chainId: 'c', signerPriv: key, nonce: i, expiresAt, body: Uint8Array.of(0, 0, 0, 0, 0, 0, 0, 1) }).bytes;

t.test('a gossiped copy is known without another check; refusals carry the verdict; limits are temporary', (t) => {
  const { app, checks } = counting(() => ({}));
  const pool = new Mempool(app, { maxTxs: 2, maxBytes: 1 << 20, maxTxBytes: 4096 });
  const state = new MemoryState();
  const a = tx(1, 5_000);
  t.equal(pool.add(a, state, ctx).added, true);
  t.equal(pool.add(Uint8Array.from(a), state, ctx).added, false, 'the same bytes again are known');
  t.equal(checks(), 1, 'and were not checked twice');
  pool.add(tx(2, 5_000), state, ctx);
  t.throws(() => pool.add(tx(3, 5_000), state, ctx), { code: 'MEMPOOL_FULL', temporary: true });
  t.throws(() => pool.add(new Uint8Array(5000), state, ctx), { code: 'TX_TOO_LARGE' });
  t.same(pool.reap(10, 1 << 20).map((x) => Buffer.from(x).toString('hex')), [a, tx(2, 5_000)].map((x) => Buffer.from(x).toString('hex')), 'oldest first');
  const refusing = new Mempool(counting(() => ({ ok: false, code: 'BAD_SIGNATURE', reason: 'no' })).app);
  let refused: unknown;
  try {
    refusing.add(a, state, ctx);
  } catch (err) {
    refused = err;
  }
  t.ok(refused instanceof MempoolError && refused.code === 'TX_REJECTED' && refused.verdict?.code === 'BAD_SIGNATURE', 'a refusal carries the application\'s verdict');
  t.end();
});

t.test('after a commit: included txs leave, expired ones leave, the rest stay; a removed tx can be checked again', (t) => {
  const { app, checks } = counting(() => ({}));
  const pool = new Mempool(app);
  const state = new MemoryState();
  const [a, b, c] = [tx(1, 5_000), tx(2, 1_500), tx(3, 9_000)];
  for (const x of [a, b, c]) pool.add(x, state, ctx);
  t.equal(pool.recheck([sha256(a)], 2_000), 1, 'one expired');
  t.equal(pool.size, 1);
  t.ok(pool.has(sha256(c)));
  pool.add(a, state, ctx);
  t.equal(checks(), 4, 'a tx that left the pool is checked again when it comes back');
  t.end();
});
