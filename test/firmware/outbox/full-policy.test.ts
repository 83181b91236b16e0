// Tests for the outbox's full policy: evict the oldest low-priority records, never a high-priority one, refuse when only those remain.
import t from 'tap';
import fc from 'fast-check';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SealedRecord } from '../../../protocol/record.js';
import { OutboxError } from '../../../firmware/outbox/outbox.js';
import { SqliteOutbox } from '../../../firmware/outbox/sqlite-outbox.js';
import { dtcRecord, idOf, poolAddresses, snapshotRecord } from '../uplink/fixtures/test-identity.js';

const dir = mkdtempSync(join(tmpdir(), 'carchain-outbox-full-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
let fileNo = 0;
const freshPath = () => join(dir, `outbox-${fileNo++}.sqlite`);
const A = poolAddresses[0]!;
const B = poolAddresses[1]!;

t.test('record limit: the oldest low-priority records go first, counted, logged and persisted', (t) => {
  const path = freshPath();
  const logs: { level: string; message: string; fields?: Record<string, unknown> }[] = [];
  const outbox = SqliteOutbox.open({ path, maxRecords: 5, log: (level, message, fields) => logs.push({ level, message, fields }) });
  const lows = [1, 2, 3].map((n) => snapshotRecord(A, 10, n));
  const highs = [1, 2].map((n) => dtcRecord(A, 10, n));
  outbox.enqueue([lows[0]!, highs[0]!, lows[1]!, highs[1]!, lows[2]!]);
  const extra = dtcRecord(B, 10, 3);
  const result = outbox.enqueue([extra, dtcRecord(B, 10, 4)]);
  t.equal(result.inserted, 2);
  t.equal(result.evictedRecords, 2);
  const left = new Set(outbox.peekBatch({ maxRecords: 10, maxBytes: 1 << 22 }).map((e) => e.id));
  t.same([...left], [idOf(highs[0]!), idOf(highs[1]!), idOf(lows[2]!)], 'low 1 and 2 (the oldest lows) were evicted; every high stayed');
  const stats = outbox.stats();
  t.equal(stats.records, 5);
  t.equal(stats.evictedRecords, 2);
  t.ok(stats.evictedBytes > 0);
  t.match(logs, [{ level: 'warn', message: /evicted/, fields: { evictedRecords: 2 } }]);
  outbox.close();
  const reopened = SqliteOutbox.open({ path, maxRecords: 5 });
  t.teardown(() => reopened.close());
  t.equal(reopened.stats().evictedRecords, 2, 'eviction counters survive a restart');
  t.end();
});

t.test('when only high-priority records remain, a batch is refused whole with a temporary OUTBOX_FULL', (t) => {
  const outbox = SqliteOutbox.open({ path: freshPath(), maxRecords: 3 });
  t.teardown(() => outbox.close());
  outbox.enqueue([dtcRecord(A, 11, 1), snapshotRecord(A, 11, 1), dtcRecord(A, 11, 2)]);
  const before = outbox.stats();
  const err = t.throws(() => outbox.enqueue([dtcRecord(A, 11, 3), dtcRecord(A, 11, 4)]), { code: 'OUTBOX_FULL', temporary: true }) as unknown;
  t.ok(err instanceof OutboxError);
  const after = outbox.stats();
  t.same([after.records, after.lowRecords, after.evictedRecords], [before.records, before.lowRecords, 0], 'nothing was evicted for a batch that could not fit anyway');
  t.equal(after.rejectedBatches, 1);
  t.equal(outbox.enqueue([dtcRecord(A, 11, 3)]).evictedRecords, 1, 'one slot can still be made by evicting the low record');
  t.throws(() => outbox.enqueue([snapshotRecord(A, 11, 2)]), { code: 'OUTBOX_FULL' }, 'a low record cannot push out a high one either');
  // After the uplink drains, the producer's retry succeeds.
  outbox.remove(outbox.peekBatch({ maxRecords: 1, maxBytes: 1 << 20 }).map((e) => e.id));
  t.equal(outbox.enqueue([dtcRecord(A, 11, 4)]).inserted, 1);
  t.end();
});

t.test('byte limit works the same way, and a batch larger than the whole outbox is OUTBOX_BATCH_TOO_LARGE', (t) => {
  const small = dtcRecord(A, 12, 1);
  const padded = snapshotRecord(A, 12, 1, 2000);
  const probe = SqliteOutbox.open({ path: freshPath() });
  probe.enqueue([small, padded]);
  const [smallBytes, paddedBytes] = probe.peekBatch({ maxRecords: 2, maxBytes: 1 << 20 }).map((e) => e.bytes.length) as [number, number];
  probe.close();

  const outbox = SqliteOutbox.open({ path: freshPath(), maxBytes: paddedBytes + 2 * smallBytes + 10 });
  t.teardown(() => outbox.close());
  outbox.enqueue([padded, small]);
  const r = outbox.enqueue([dtcRecord(A, 12, 2), dtcRecord(A, 12, 3)]);
  t.same([r.evictedRecords, r.evictedBytes], [1, paddedBytes], 'the padded low record made room');
  let n = 4;
  const fill = () => {
    for (;;) outbox.enqueue([dtcRecord(A, 12, n++)]);
  };
  t.throws(fill, { code: 'OUTBOX_FULL', temporary: true }, 'high records fill it up, then the next one is refused');
  t.ok(outbox.stats().bytes <= paddedBytes + 2 * smallBytes + 10);
  t.equal(outbox.stats().lowRecords, 0);
  t.throws(() => outbox.enqueue([snapshotRecord(A, 12, 9, 4000)]), { code: 'OUTBOX_BATCH_TOO_LARGE', temporary: false });

  const tiny = SqliteOutbox.open({ path: freshPath(), maxRecords: 2 });
  t.teardown(() => tiny.close());
  t.throws(() => tiny.enqueue([1, 2, 3].map((n) => snapshotRecord(A, 13, n))), { code: 'OUTBOX_BATCH_TOO_LARGE' });
  t.end();
});

t.test('a batch never evicts its own records (a low-priority duplicate in it stays)', (t) => {
  const outbox = SqliteOutbox.open({ path: freshPath(), maxRecords: 3 });
  t.teardown(() => outbox.close());
  const low = snapshotRecord(A, 15, 1);
  outbox.enqueue([dtcRecord(A, 15, 1), low, dtcRecord(A, 15, 2)]);
  // Full; the only low record is repeated in the batch that needs room, so there is nothing to evict.
  t.throws(() => outbox.enqueue([dtcRecord(A, 15, 3), low]), { code: 'OUTBOX_FULL' });
  // Make one slot's worth of other low-priority data, newer than `low`: that is what must go.
  outbox.remove([idOf(dtcRecord(A, 15, 1))]);
  const otherLow = snapshotRecord(B, 15, 2);
  outbox.enqueue([otherLow]);
  const r = outbox.enqueue([low, dtcRecord(A, 15, 4)]);
  t.same([r.duplicates, r.inserted, r.evictedRecords], [1, 1, 1]);
  t.same(outbox.stats().byAddress.map((a) => a.address), [A], "B's newer low record was evicted, not the repeated older one");
  t.same(outbox.peekBatch({ maxRecords: 9, maxBytes: 1 << 22 }).map((e) => e.id), [idOf(low), idOf(dtcRecord(A, 15, 2)), idOf(dtcRecord(A, 15, 4))]);
  t.end();
});

t.test('model check: limits always hold, high-priority records are never lost, evictions take the oldest low first', (t) => {
  // A pool of sealed records to draw from (sealing is the slow part).
  const pool: { record: SealedRecord; low: boolean }[] = [];
  for (let n = 0; n < 40; n++) pool.push({ record: dtcRecord(n % 2 ? A : B, 14, n), low: false });
  for (let n = 0; n < 40; n++) pool.push({ record: snapshotRecord(n % 2 ? A : B, 14, n, (n * 37) % 700), low: true });
  const command = fc.oneof(
    fc.record({ kind: fc.constant('enqueue' as const), picks: fc.array(fc.nat(pool.length - 1), { minLength: 1, maxLength: 4 }) }),
    fc.record({ kind: fc.constant('ack' as const), count: fc.integer({ min: 1, max: 5 }) }),
  );
  fc.assert(
    fc.property(fc.integer({ min: 2, max: 8 }), fc.integer({ min: 2500, max: 9000 }), fc.array(command, { minLength: 1, maxLength: 25 }), (maxRecords, maxBytes, commands) => {
      const outbox = SqliteOutbox.open({ path: freshPath(), maxRecords, maxBytes });
      try {
        // The model: queued ids in seq order, with their priority. Highs leave it only when acknowledged.
        let queued: { id: string; low: boolean }[] = [];
        for (const cmd of commands) {
          if (cmd.kind === 'ack') {
            const batch = outbox.peekBatch({ maxRecords: cmd.count, maxBytes: 1 << 20 });
            outbox.remove(batch.map((e) => e.id));
            const gone = new Set(batch.map((e) => e.id));
            queued = queued.filter((q) => !gone.has(q.id));
            continue;
          }
          const items = cmd.picks.map((i) => pool[i]!);
          let result;
          try {
            result = outbox.enqueue(items.map((p) => p.record));
          } catch (err) {
            if (!(err instanceof OutboxError) || !['OUTBOX_FULL', 'OUTBOX_BATCH_TOO_LARGE'].includes(err.code)) throw err;
            continue;
          }
          // Evictions are exactly the oldest low-priority records of the model that this batch does not repeat.
          const inBatch = new Set(items.map((p) => idOf(p.record)));
          const lows = queued.filter((q) => q.low && !inBatch.has(q.id)).slice(0, result.evictedRecords);
          const evicted = new Set(lows.map((q) => q.id));
          queued = queued.filter((q) => !evicted.has(q.id));
          for (const p of items) {
            const id = idOf(p.record);
            if (!queued.some((q) => q.id === id)) queued.push({ id, low: p.low });
          }
          const stats = outbox.stats();
          if (stats.records > maxRecords || stats.bytes > maxBytes) throw new Error(`limits broken: ${stats.records} records, ${stats.bytes} bytes`);
          const stored = [];
          for (let peeked = outbox.peekBatch({ maxRecords: 100, maxBytes: 1 << 22 }), seen = new Set<string>(); peeked.length > 0; peeked = outbox.peekBatch({ maxRecords: 100, maxBytes: 1 << 22, excludeIds: seen })) {
            for (const e of peeked) {
              seen.add(e.id);
              stored.push(e);
            }
          }
          const storedIds = new Set(stored.map((e) => e.id));
          const modelIds = new Set(queued.map((q) => q.id));
          if (storedIds.size !== modelIds.size || [...modelIds].some((id) => !storedIds.has(id))) {
            throw new Error(`outbox and model differ: ${[...storedIds].length} vs ${[...modelIds].length}`);
          }
        }
      } finally {
        outbox.close();
      }
    }),
    { numRuns: Number(process.env.CARCHAIN_MODEL_RUNS ?? 40) },
  );
  t.pass('40 random command sequences against the model');
  t.end();
});
