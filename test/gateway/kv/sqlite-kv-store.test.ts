// The KvStore contract on real SQLite files, plus SQLite specifics: durability pragmas, reopening, refusing foreign files.
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { KvError } from '../../../gateway/kv/kv-store.js';
import { KV_APPLICATION_ID, SqliteKvStore } from '../../../gateway/kv/sqlite-kv-store.js';
import { entry, freshAddress, runKvContract } from './kv-contract.js';

const dir = mkdtempSync(join(tmpdir(), 'carchain-kv-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const sharedPath = join(dir, 'contract.sqlite');

t.test('contract (synchronous=FULL)', (t) => {
  runKvContract(t, () => Promise.resolve(SqliteKvStore.open({ path: sharedPath })));
  t.end();
});

t.test('contract (synchronous=NORMAL)', (t) => {
  const path = join(dir, 'normal.sqlite');
  runKvContract(t, () => Promise.resolve(SqliteKvStore.open({ path, synchronous: 'NORMAL' })));
  t.end();
});

t.test('the file: WAL, the chosen synchronous level, application_id, data survives reopening', async (t) => {
  const path = join(dir, 'reopen.sqlite');
  const store = SqliteKvStore.open({ path });
  const A = freshAddress();
  t.same(await store.putIfAbsent([entry(A, [1, 2, 3], 'x')]), ['inserted']);
  const health = await store.health();
  t.match(health, { backend: 'sqlite', ok: true, detail: { synchronous: 'FULL', journalMode: 'wal', records: 1 } });
  await store.close();
  const raw = new Database(path, { readonly: true });
  t.equal(raw.pragma('journal_mode', { simple: true }), 'wal');
  t.equal(raw.pragma('application_id', { simple: true }), KV_APPLICATION_ID);
  raw.close();
  const again = SqliteKvStore.open({ path, synchronous: 'NORMAL' });
  t.same(await again.putIfAbsent([entry(A, [1, 2, 3], 'x'), entry(A, [1, 2, 3], 'y')]), ['duplicate', 'conflict']);
  t.match(await again.health(), { detail: { synchronous: 'NORMAL' } });
  await again.close();
});

t.test('open refuses other SQLite files and bad options with KV_OPEN_FAILED', (t) => {
  const foreign = join(dir, 'foreign.sqlite');
  const db = new Database(foreign);
  db.exec('CREATE TABLE something (x)');
  db.close();
  const openError = (open: () => unknown): unknown => {
    try {
      open();
    } catch (err) {
      return err;
    }
    return null;
  };
  for (const [what, open] of [
    ['a foreign SQLite file', () => SqliteKvStore.open({ path: foreign })],
    ['a missing directory', () => SqliteKvStore.open({ path: join(dir, 'missing-dir', 'x.sqlite') })],
    ['synchronous=OFF', () => SqliteKvStore.open({ path: join(dir, 'y.sqlite'), synchronous: 'OFF' as 'FULL' })],
  ] as const) {
    const err = openError(open);
    t.ok(err instanceof KvError, what);
    t.match(err, { code: 'KV_OPEN_FAILED', temporary: false }, what);
  }
  t.end();
});

t.test('a write lock held by another connection is KV_UNAVAILABLE (temporary) and the batch is not applied', async (t) => {
  const path = join(dir, 'locked.sqlite');
  const store = SqliteKvStore.open({ path, busyTimeoutMs: 50 });
  t.teardown(() => store.close());
  const other = new Database(path);
  other.exec('BEGIN IMMEDIATE');
  const A = freshAddress();
  try {
    await store.putIfAbsent([entry(A, [1], 'x')]);
    t.fail('expected KV_UNAVAILABLE');
  } catch (err) {
    t.match(err, { code: 'KV_UNAVAILABLE', temporary: true });
  }
  other.exec('ROLLBACK');
  other.close();
  t.equal(await store.get(A, Uint8Array.of(1)), null);
  t.same(await store.putIfAbsent([entry(A, [1], 'x')]), ['inserted'], 'a retry succeeds once the lock is gone');
});
