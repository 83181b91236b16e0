// BlockStore state reads through its write-through cache: what get returns always matches the SQLite file, across saves, deletes, a refused save and a reopen.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { type Block, encodeBlock, blockIdOfHeader, ZERO_HASH } from '../../../../gateway/chain/block/block.js';
import { BlockStore, BlockStoreError } from '../../../../gateway/chain/store/block-store.js';
import { sha256 } from '../../../../protocol/hash.js';
import { utf8 } from '../../../../protocol/wire.js';
import { makeSet } from '../consensus/fixtures.js';

const GENESIS = sha256(utf8('block-store test genesis'));
const { set } = makeSet([1, 1, 1, 1]);
const key = (s: string): Uint8Array => utf8(s);

function blockAt(height: number): { block: Block; value: Uint8Array; id: Uint8Array } {
  const block: Block = {
    header: {
      chainId: 'carchain-test', height, time: 1_700_000_000_000 + height, proposer: set.validators[0]!.address,
      lastBlockId: ZERO_HASH.slice(), lastCommitHash: ZERO_HASH.slice(), txRoot: ZERO_HASH.slice(), txCount: 0,
      validatorsHash: set.setHash(), nextValidatorsHash: set.setHash(), appHash: sha256(utf8(`app ${height}`)),
    },
    txs: [],
    lastCommit: null,
  };
  return { block, value: encodeBlock(block), id: blockIdOfHeader(block.header) };
}

function save(store: BlockStore, height: number, writes: { key: Uint8Array; value: Uint8Array | null }[]): void {
  const { block, value, id } = blockAt(height);
  store.save({ block, blockBytes: value, blockId: id, commit: { height, round: 0, valueId: id, precommits: [] }, writes, nextValidators: set, txIds: [] });
}

t.test('state reads follow saves, deletes and refused saves, and match a reopened store', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'carchain-block-store-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'chain.db');
  const store = BlockStore.open(path, GENESIS);
  store.initialise([{ key: key('a'), value: utf8('genesis a') }], sha256(utf8('app 0')), set);
  t.same(store.get(key('a')), utf8('genesis a'));
  t.equal(store.get(key('b')), undefined, 'absent, and now cached as absent');

  save(store, 1, [{ key: key('b'), value: utf8('b at 1') }, { key: key('a'), value: utf8('a at 1') }]);
  t.same(store.get(key('b')), utf8('b at 1'), 'a cached absence is replaced by the committed value');
  t.same(store.get(key('a')), utf8('a at 1'));

  const copy = store.get(key('a'))!;
  copy.fill(0);
  t.same(store.get(key('a')), utf8('a at 1'), 'callers get copies: changing one does not change the store');

  t.throws(() => save(store, 3, [{ key: key('a'), value: utf8('never') }]), BlockStoreError, 'a height out of order is refused');
  t.same(store.get(key('a')), utf8('a at 1'), 'and the refused writes are not seen');

  save(store, 2, [{ key: key('a'), value: null }]);
  t.equal(store.get(key('a')), undefined, 'a delete is seen');
  store.close();

  const reopened = BlockStore.open(path, GENESIS);
  t.equal(reopened.get(key('a')), undefined);
  t.same(reopened.get(key('b')), utf8('b at 1'));
  reopened.close();
  t.end();
});
