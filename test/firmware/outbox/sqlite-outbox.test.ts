// Tests for the SQLite outbox on real files: enqueue/peek/remove, per-address batches, duplicates and conflicts, reopening.
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeRecord } from '../../../protocol/record.js';
import { SqliteOutbox } from '../../../firmware/outbox/sqlite-outbox.js';
import { dtcRecord, idOf, poolAddresses, snapshotRecord } from '../uplink/fixtures/test-identity.js';

const dir = mkdtempSync(join(tmpdir(), 'carchain-outbox-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
let fileNo = 0;
const freshPath = () => join(dir, `outbox-${fileNo++}.sqlite`);
const [A, B, C] = [poolAddresses[0]!, poolAddresses[1]!, poolAddresses[2]!];

t.test('enqueue commits, peekBatch returns the oldest records of one address in order, remove after ack', (t) => {
  let clock = 1_000_000;
  const outbox = SqliteOutbox.open({ path: freshPath(), now: () => clock });
  t.teardown(() => outbox.close());
  const a = [dtcRecord(A, 1, 1), dtcRecord(A, 1, 2), dtcRecord(A, 1, 3)];
  const b = [dtcRecord(B, 1, 1), dtcRecord(B, 1, 2)];
  // Interleaved: A1 B1 A2 B2 A3.
  const first = outbox.enqueue([a[0]!, b[0]!]);
  t.same(first, { ids: [idOf(a[0]!), idOf(b[0]!)], inserted: 2, duplicates: 0, evictedRecords: 0, evictedBytes: 0 });
  clock += 500;
  outbox.enqueue([a[1]!, b[1]!, a[2]!]);

  const batch = outbox.peekBatch({ maxRecords: 64, maxBytes: 512 * 1024 });
  t.same(batch.map((e) => e.id), a.map(idOf), 'the oldest record is for A: all of A, in seq order, and nothing of B');
  t.same(batch[0]!.bytes, encodeRecord(a[0]!), 'stored bytes are encodeRecord() of the sealed record');
  t.equal(batch[0]!.format, 'dtc');
  t.equal(batch[0]!.priority, 'high');
  t.equal(batch[0]!.createdAt, 1_000_000);
  t.ok(batch[0]!.seq < batch[1]!.seq && batch[1]!.seq < batch[2]!.seq);
  t.same(outbox.peekBatch({ maxRecords: 2, maxBytes: 1 << 20 }).map((e) => e.id), a.slice(0, 2).map(idOf), 'maxRecords');
  const oneRecordBytes = batch[0]!.bytes.length;
  t.equal(outbox.peekBatch({ maxRecords: 64, maxBytes: oneRecordBytes * 2 + 1 }).length, 2, 'maxBytes');
  t.equal(outbox.peekBatch({ maxRecords: 64, maxBytes: 1 }).length, 1, 'the first record comes even when it alone exceeds maxBytes');
  const skipping = (ids: string[]) => outbox.peekBatch({ maxRecords: 64, maxBytes: 1 << 20, excludeIds: new Set(ids) }).map((e) => e.id);
  t.same(skipping([idOf(a[0]!), idOf(b[0]!)]), [idOf(a[1]!), idOf(a[2]!)], 'in-flight ids are skipped');
  t.same(skipping([idOf(a[0]!), idOf(a[1]!)]), b.map(idOf), 'the batch is for the address of the oldest record not in flight');
  t.same(outbox.peekBatch({ maxRecords: 64, maxBytes: 1 << 20, excludeAddresses: new Set([A]) }).map((e) => e.id), b.map(idOf), 'blocked address skipped');
  t.same(outbox.peekBatch({ maxRecords: 64, maxBytes: 1 << 20, excludeAddresses: new Set([A, B]) }), []);

  clock += 1500;
  const stats = outbox.stats();
  t.equal(stats.records, 5);
  t.equal(stats.highRecords, 5);
  t.equal(stats.oldestAgeMs, 2000);
  t.same(stats.byAddress.map((s) => [s.address, s.records]), [[A, 3], [B, 2]]);
  t.equal(stats.bytes, stats.byAddress.reduce((n, s) => n + s.bytes, 0));

  t.equal(outbox.remove(batch.map((e) => e.id)), 3);
  t.equal(outbox.remove(batch.map((e) => e.id)), 0, 'removing again is a no-op');
  t.same(outbox.peekBatch({ maxRecords: 64, maxBytes: 1 << 20 }).map((e) => e.id), b.map(idOf));
  t.equal(outbox.stats().records, 2);
  t.equal(outbox.remove([]), 0);
  t.end();
});

t.test('the same record twice is a no-op; the same id with other bytes is OUTBOX_CONFLICT and rolls the batch back', (t) => {
  const outbox = SqliteOutbox.open({ path: freshPath() });
  t.teardown(() => outbox.close());
  const record = dtcRecord(A, 2, 1);
  outbox.enqueue([record]);
  const again = outbox.enqueue([record, record]);
  t.equal(again.inserted, 0);
  t.equal(again.duplicates, 2);
  t.equal(outbox.stats().records, 1);

  const resealed = dtcRecord(A, 2, 1); // same address and key, fresh envelope: same id, different bytes
  t.equal(idOf(resealed), idOf(record));
  const innocent = dtcRecord(A, 2, 2);
  t.throws(() => outbox.enqueue([innocent, resealed]), { code: 'OUTBOX_CONFLICT', temporary: false });
  t.equal(outbox.stats().records, 1, 'the innocent record of the refused batch was not committed');
  t.same(outbox.peekBatch({ maxRecords: 9, maxBytes: 1 << 20 })[0]!.bytes, encodeRecord(record), 'the original bytes are kept');
  t.throws(() => outbox.enqueue([innocent, dtcRecord(A, 2, 2)]), { code: 'OUTBOX_CONFLICT' }, 'a conflict inside one batch');
  t.end();
});

t.test('priorities: by format by default, overridable per record and per outbox', (t) => {
  const outbox = SqliteOutbox.open({ path: freshPath() });
  t.teardown(() => outbox.close());
  outbox.enqueue([dtcRecord(A, 3, 1), snapshotRecord(A, 3, 1), { ...dtcRecord(A, 3, 2), priority: 'low' }]);
  t.same(outbox.peekBatch({ maxRecords: 9, maxBytes: 1 << 20 }).map((e) => e.priority), ['high', 'low', 'low']);
  t.same([outbox.stats().highRecords, outbox.stats().lowRecords], [1, 2]);
  t.throws(() => outbox.enqueue([{ ...dtcRecord(A, 3, 3), priority: 'urgent' as 'high' }]), TypeError);

  const allLow = SqliteOutbox.open({ path: freshPath(), priorityOf: () => 'low' });
  t.teardown(() => allLow.close());
  allLow.enqueue([dtcRecord(A, 3, 1)]);
  t.equal(allLow.stats().lowRecords, 1);
  t.end();
});

t.test('records survive close and reopen; totals are rebuilt from the file', (t) => {
  const path = freshPath();
  const outbox = SqliteOutbox.open({ path });
  const records = [dtcRecord(A, 4, 1), snapshotRecord(B, 4, 1, 300), dtcRecord(C, 4, 1)];
  outbox.enqueue(records);
  const before = outbox.stats();
  outbox.close();
  outbox.close();
  t.throws(() => outbox.stats(), { code: 'OUTBOX_CLOSED' });
  t.throws(() => outbox.enqueue(records), { code: 'OUTBOX_CLOSED' });

  const reopened = SqliteOutbox.open({ path });
  t.teardown(() => reopened.close());
  const after = reopened.stats();
  t.same([after.records, after.bytes, after.lowRecords], [before.records, before.bytes, before.lowRecords]);
  t.same(reopened.peekBatch({ maxRecords: 9, maxBytes: 1 << 20 }).map((e) => e.id), [idOf(records[0]!)]);
  t.same(reopened.integrityCheck(), []);
  t.end();
});

t.test('onEnqueue fires after a committed insert only', (t) => {
  const outbox = SqliteOutbox.open({ path: freshPath() });
  t.teardown(() => outbox.close());
  let calls = 0;
  const off = outbox.onEnqueue(() => calls++);
  const record = dtcRecord(A, 5, 1);
  outbox.enqueue([record]);
  outbox.enqueue([record]);
  t.throws(() => outbox.enqueue([dtcRecord(A, 5, 1)]));
  t.equal(calls, 1, 'not for duplicates, not for a refused batch');
  off();
  outbox.enqueue([dtcRecord(A, 5, 2)]);
  t.equal(calls, 1);
  t.end();
});

t.test('argument checks', (t) => {
  const outbox = SqliteOutbox.open({ path: freshPath() });
  t.teardown(() => outbox.close());
  t.throws(() => outbox.peekBatch({ maxRecords: 0, maxBytes: 10 }), RangeError);
  t.throws(() => outbox.peekBatch({ maxRecords: 1, maxBytes: 0.5 }), RangeError);
  t.throws(() => SqliteOutbox.open({ path: freshPath(), maxRecords: -1 }), RangeError);
  t.throws(() => outbox.enqueue([{ ...dtcRecord(A, 6, 1), address: 'not-an-address' }]), { code: 'ADDRESS_INVALID' });
  t.end();
});
