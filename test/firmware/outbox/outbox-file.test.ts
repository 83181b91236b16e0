// Tests for opening outbox files: corrupt and foreign files, a damaged page, schema migration, one owner at a time.
import t from 'tap';
import Database from 'better-sqlite3';
import { randomBytes } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OUTBOX_APPLICATION_ID, OUTBOX_SCHEMA_VERSION, checkOutboxFile, openOutboxFile } from '../../../firmware/outbox/outbox-file.js';
import { SqliteOutbox } from '../../../firmware/outbox/sqlite-outbox.js';
import { dtcRecord, idOf, poolAddresses, snapshotRecord } from '../uplink/fixtures/test-identity.js';

const dir = mkdtempSync(join(tmpdir(), 'carchain-outbox-file-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
let fileNo = 0;
const freshPath = () => join(dir, `outbox-${fileNo++}.sqlite`);
const A = poolAddresses[0]!;

t.test('a new file gets the outbox identity, WAL and the current schema', (t) => {
  const path = freshPath();
  SqliteOutbox.open({ path }).close();
  const db = new Database(path, { readonly: true });
  t.teardown(() => db.close());
  t.equal(db.pragma('application_id', { simple: true }), OUTBOX_APPLICATION_ID);
  t.equal(db.pragma('user_version', { simple: true }), OUTBOX_SCHEMA_VERSION);
  t.equal(db.pragma('journal_mode', { simple: true }), 'wal');
  t.same(checkOutboxFile(path), { ok: true, problems: [], schemaVersion: OUTBOX_SCHEMA_VERSION });
  t.end();
});

t.test('random bytes, a truncated header and a foreign SQLite database are OUTBOX_CORRUPT', (t) => {
  const junk = freshPath();
  writeFileSync(junk, randomBytes(8192));
  t.throws(() => SqliteOutbox.open({ path: junk }), { code: 'OUTBOX_CORRUPT', temporary: false });
  t.equal(checkOutboxFile(junk).ok, false);

  const truncated = freshPath();
  const real = SqliteOutbox.open({ path: truncated });
  real.enqueue([dtcRecord(A, 19, 1)]);
  real.close();
  writeFileSync(truncated, readFileSync(truncated).subarray(0, 60));
  t.throws(() => SqliteOutbox.open({ path: truncated }), { code: 'OUTBOX_CORRUPT' }, 'truncated inside the header');

  const text = freshPath();
  writeFileSync(text, 'trip log\n'.repeat(1000));
  t.throws(() => SqliteOutbox.open({ path: text }), { code: 'OUTBOX_CORRUPT' });

  const foreign = freshPath();
  const other = new Database(foreign);
  other.exec('CREATE TABLE settings (k TEXT, v TEXT)');
  other.close();
  t.throws(() => SqliteOutbox.open({ path: foreign }), { code: 'OUTBOX_CORRUPT', message: /not an outbox/ });
  t.same(checkOutboxFile(foreign).problems, ['not an outbox (application_id)']);
  t.end();
});

t.test('a damaged page is caught by quick_check at open and by checkOutboxFile', (t) => {
  const path = freshPath();
  const outbox = SqliteOutbox.open({ path });
  for (let n = 0; n < 20; n++) outbox.enqueue([dtcRecord(A, 20, n), snapshotRecord(A, 20, n, 900)]);
  outbox.close(); // checkpoints the WAL into the main file
  const pageSize = readFileSync(path).readUInt16BE(16);
  const pages = statSync(path).size / pageSize;
  t.ok(pages > 6, `${pages} pages`);
  // Scribble over the middle of the file's b-tree pages (past page 1, the header SQLite needs to recognise the file).
  const fd = openSync(path, 'r+');
  for (let page = 2; page < pages; page += 2) writeSync(fd, Buffer.alloc(64, 0xa5), 0, 64, (page - 1) * pageSize + 8);
  closeSync(fd);
  t.throws(() => SqliteOutbox.open({ path }), { code: 'OUTBOX_CORRUPT' });
  const check = checkOutboxFile(path);
  t.equal(check.ok, false);
  t.ok(check.problems.length > 0, check.problems[0] ?? 'no findings');
  t.end();
});

t.test('a file from a newer firmware is refused, not downgraded', (t) => {
  const path = freshPath();
  SqliteOutbox.open({ path }).close();
  const db = new Database(path);
  db.pragma(`user_version = ${OUTBOX_SCHEMA_VERSION + 1}`);
  db.close();
  t.throws(() => SqliteOutbox.open({ path }), { code: 'OUTBOX_SCHEMA_TOO_NEW' });
  t.end();
});

t.test('migration: a schema-1 file with queued records opens as schema 2 with its records intact', (t) => {
  const path = freshPath();
  const v1 = openOutboxFile({ path, targetVersion: 1 });
  t.equal(v1.pragma('user_version', { simple: true }), 1);
  const record = dtcRecord(A, 21, 1);
  // Enqueue as the schema-1 firmware did: one row per record.
  v1.prepare('INSERT INTO records (id, address, format, priority, created_at, size, bytes) VALUES (?, ?, ?, 1, ?, ?, ?)').run(idOf(record), A, 'dtc', 123, 10, Buffer.from('0123456789'));
  t.throws(() => v1.prepare('SELECT * FROM counters').all(), /no such table/);
  v1.close();

  const outbox = SqliteOutbox.open({ path });
  const stats = outbox.stats();
  t.same([stats.records, stats.bytes, stats.evictedRecords], [1, 10, 0]);
  t.equal(outbox.peekBatch({ maxRecords: 1, maxBytes: 100 })[0]!.id, idOf(record));
  outbox.close();
  t.same(checkOutboxFile(path), { ok: true, problems: [], schemaVersion: 2 });
  t.end();
});

t.test('one owner at a time: a second open gets a temporary OUTBOX_LOCKED until the first closes', (t) => {
  const path = freshPath();
  const first = SqliteOutbox.open({ path });
  first.enqueue([dtcRecord(A, 22, 1)]);
  t.throws(() => SqliteOutbox.open({ path, busyTimeoutMs: 50 }), { code: 'OUTBOX_LOCKED', temporary: true });
  first.close();
  const second = SqliteOutbox.open({ path, busyTimeoutMs: 50 });
  t.teardown(() => second.close());
  t.equal(second.stats().records, 1);
  t.end();
});

t.test('an unusable path is OUTBOX_OPEN_FAILED', (t) => {
  t.throws(() => SqliteOutbox.open({ path: join(dir, 'no-such-dir', 'outbox.sqlite') }), { code: 'OUTBOX_OPEN_FAILED' });
  t.end();
});
