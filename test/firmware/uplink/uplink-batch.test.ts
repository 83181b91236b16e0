// Tests for building an uplink message from outbox entries: signed and verifiable, or held back with a reason.
import t from 'tap';
import { encodeRecord } from '../../../protocol/record.js';
import { decodeUplinkMessage, verifyUplinkMessage } from '../../../protocol/uplink.js';
import type { OutboxEntry } from '../../../firmware/outbox/outbox.js';
import { buildUplinkBatch } from '../../../firmware/uplink/uplink-batch.js';
import { dtcRecord, idOf, keysFor, poolAddresses } from './fixtures/test-identity.js';

const A = poolAddresses[0]!;
const now = Date.now();
const entries: OutboxEntry[] = [1, 2, 3].map((n, i) => {
  const record = dtcRecord(A, 50, n);
  return { seq: i + 1, id: idOf(record), address: A, format: 'dtc', priority: 'high', createdAt: now, bytes: encodeRecord(record) };
});

t.test('a batch with keys becomes one signed message that verifies', (t) => {
  const batch = buildUplinkBatch(entries, () => keysFor(0), now);
  if (batch.kind !== 'message') throw new Error(batch.kind);
  t.same(batch.ids, entries.map((e) => e.id));
  const message = decodeUplinkMessage(batch.payload);
  t.equal(verifyUplinkMessage(message, { now }).address, A);
  t.same(message.records, entries.map((e) => e.bytes));
  t.end();
});

t.test('held back: no keys, the wrong address, an expired or future window, a failing provider', (t) => {
  t.match(buildUplinkBatch(entries, () => null, now), { kind: 'blocked', records: 3, reason: /no pool authorisation/ });
  t.match(buildUplinkBatch(entries, () => keysFor(1), now), { kind: 'blocked', reason: /another address/ });
  const week = 7 * 86_400_000;
  t.match(buildUplinkBatch(entries, () => keysFor(0, { notBefore: now - 2 * week, notAfter: now - week }), now), { kind: 'blocked', reason: /AUTH_EXPIRED/ });
  t.match(buildUplinkBatch(entries, () => keysFor(0, { notBefore: now + week, notAfter: now + 2 * week }), now), { kind: 'blocked', reason: /AUTH_NOT_YET_VALID/ });
  t.match(buildUplinkBatch(entries, () => ({ ...keysFor(0), privateKey: keysFor(1).privateKey }), now), { kind: 'blocked', reason: /AUTH_MISMATCH/ });
  t.match(buildUplinkBatch(entries, () => { throw new Error('keystore locked'); }, now), { kind: 'blocked', reason: /keystore locked/ });
  t.end();
});

t.test('rows that no longer decode are reported as corrupt, by id', (t) => {
  const damaged = [...entries];
  damaged[1] = { ...entries[1]!, bytes: entries[1]!.bytes.slice(0, 40) };
  t.match(buildUplinkBatch(damaged, () => keysFor(0), now), { kind: 'corrupt', ids: [entries[1]!.id] });
  t.end();
});
