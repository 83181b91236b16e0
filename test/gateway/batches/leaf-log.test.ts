// The durable batch log: idempotent appends, ordered atomic sealing, anchors recorded once, proofs, kill -9 safety.
import t from 'tap';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { LeafLog } from '../../../gateway/batches/leaf-log.js';
import { MerkleTree, verifyInclusion } from '../../../protocol/merkle.js';

const dir = mkdtempSync(join(tmpdir(), 'carchain-leaf-log-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const h = (s: string) => new Uint8Array(createHash('sha256').update(s).digest());
const leaf = (i: number) => ({ recordId: h(`id-${i}`), leafHash: h(`leaf-${i}`) });

t.test('append is idempotent per record id; batches seal in order; proofs verify; anchors are recorded once', (t) => {
  const log = new LeafLog(join(dir, 'a.db'));
  t.equal(log.append([0, 1, 2, 3, 4].map(leaf)), 5);
  t.equal(log.append([3, 4, 5].map(leaf)), 1, 'a redelivered message adds only the missing leaf');
  t.equal(log.pendingLeaves(), 6);
  const first = log.sealBatch(4)!;
  t.same([first.batchId, first.size], [1, 4]);
  t.same(first.root, new MerkleTree([0, 1, 2, 3].map((i) => leaf(i).leafHash)).root);
  const second = log.sealBatch(100)!;
  t.same([second.batchId, second.size], [2, 2]);
  t.equal(log.sealBatch(100), null, 'nothing left');
  const where = log.locate(leaf(5).recordId)!;
  t.same([where.batchId, where.leafIndex], [2, 1]);
  verifyInclusion(leaf(5).leafHash, where.leafIndex, where.size, where.path, where.root);
  t.equal(log.unanchoredBatches().length, 2);
  t.equal(log.markAnchored(1, h('tx1'), 10), true);
  t.equal(log.markAnchored(1, h('tx1-again'), 11), false, 'never anchored twice');
  t.same(log.batch(1)!.anchor, { txHash: h('tx1'), height: 10 });
  t.same(log.unanchoredBatches().map((b) => b.batchId), [2]);
  t.throws(() => log.markAnchored(99, h('x'), 1), { code: 'LEAF_LOG_UNKNOWN_BATCH' });
  t.same(log.stats(), { pendingLeaves: 0, batches: 2, anchoredBatches: 1 });
  log.close();
  t.end();
});

t.test('kill -9 at random points: no leaf lost, none in two batches, every root matches its leaves', async (t) => {
  const path = join(dir, 'crash.db');
  const script = fileURLToPath(new URL('./fixtures/leaf-writer.ts', import.meta.url));
  let appendedUpTo = 0;
  for (let run = 0; run < 10; run++) {
    const child = spawn(process.execPath, ['--import', 'tsx', script, path, String(appendedUpTo)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let started: () => void = () => undefined;
    const writing = new Promise<void>((resolve) => (started = resolve));
    createInterface({ input: child.stdout }).on('line', (line) => {
      const m = /^appended (\d+)$/.exec(line);
      if (m) appendedUpTo = Math.max(appendedUpTo, Number(m[1]));
      started();
    });
    // Count the run time from the first commit: on a loaded machine starting tsx alone can take longer than the run.
    await writing;
    await new Promise((r) => setTimeout(r, 200 + run * 37));
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
  }
  // Not readonly: after a kill -9 the WAL may need recovery, which a readonly connection cannot do
  // ("attempt to write a readonly database" / "unable to open database file", depending on timing).
  const db = new Database(path);
  t.equal((db.pragma('integrity_check') as { integrity_check: string }[])[0]!.integrity_check, 'ok');
  const leaves = db.prepare('SELECT record_id, leaf_hash, batch_id, leaf_index FROM leaves').all() as { record_id: Buffer; leaf_hash: Buffer; batch_id: number | null; leaf_index: number | null }[];
  const ids = new Set(leaves.map((l) => l.record_id.toString('hex')));
  let missing = 0;
  for (let i = 0; i < appendedUpTo; i++) if (!ids.has(Buffer.from(h(`id-${i}`)).toString('hex'))) missing++;
  t.equal(missing, 0, `all ${appendedUpTo} acknowledged appends are in the log`);
  const batches = db.prepare('SELECT batch_id, root, size FROM batches ORDER BY batch_id').all() as { batch_id: number; root: Buffer; size: number }[];
  t.ok(batches.length > 5, `${batches.length} batches sealed across the crashes`);
  for (const b of batches) {
    const members = leaves.filter((l) => l.batch_id === b.batch_id).sort((x, y) => x.leaf_index! - y.leaf_index!);
    if (members.length !== b.size || members.some((m, i) => m.leaf_index !== i)) t.fail(`batch ${b.batch_id} has a hole`);
    if (!Buffer.from(new MerkleTree(members.map((m) => new Uint8Array(m.leaf_hash))).root).equals(b.root)) t.fail(`batch ${b.batch_id} root mismatch`);
  }
  t.pass('every batch is complete and its root matches');
  db.close();
});
