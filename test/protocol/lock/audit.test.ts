// Audit log entries: hash chain, lock signature, and every way to tamper with a log.
import t from 'tap';
import { createAuditEntry, verifyAuditLog } from '../../../protocol/lock/audit.js';
import { KEYS, OTHER_VID_HASH, T0, VID_HASH } from './fixtures/world.js';

function log(n: number) {
  const entries = [];
  let prev = null;
  for (let i = 0; i < n; i++) {
    const e = createAuditEntry(prev, VID_HASH, { time: T0 + i, epoch: 1, event: 'command', publicKey: i % 2 ? KEYS.owner.publicKey : null, detail: `unlock ok ${i}` }, KEYS.lock.privateKey);
    entries.push(e);
    prev = e;
  }
  return entries;
}

t.test('a chained, signed log verifies and yields its head', (t) => {
  const entries = log(5);
  const r = verifyAuditLog(entries.map((e) => e.bytes), KEYS.lock.publicKey, VID_HASH);
  t.equal(r.count, 5);
  t.same(r.head, entries[4]!.hash);
  t.same(verifyAuditLog([], KEYS.lock.publicKey, VID_HASH).count, 0);
  t.end();
});

t.test('tampered, dropped, reordered, foreign-vehicle and wrong-key logs are AUDIT_INVALID', (t) => {
  const bytes = log(4).map((e) => e.bytes);
  const flipped = bytes.map((b) => b.slice());
  flipped[2]![20]! ^= 1;
  const cases: [string, Uint8Array[], Uint8Array, Uint8Array][] = [
    ['a flipped bit', flipped, KEYS.lock.publicKey, VID_HASH],
    ['an entry dropped', [bytes[0]!, bytes[2]!, bytes[3]!], KEYS.lock.publicKey, VID_HASH],
    ['two entries swapped', [bytes[0]!, bytes[2]!, bytes[1]!, bytes[3]!], KEYS.lock.publicKey, VID_HASH],
    ['the first entry dropped', bytes.slice(1), KEYS.lock.publicKey, VID_HASH],
    ['another vehicle', bytes, KEYS.lock.publicKey, OTHER_VID_HASH],
    ['another lock key', bytes, KEYS.otherLock.publicKey, VID_HASH],
    ['garbage', [new Uint8Array(10)], KEYS.lock.publicKey, VID_HASH],
  ];
  for (const [name, entries, key, vid] of cases) t.throws(() => verifyAuditLog(entries, key, vid), { code: 'AUDIT_INVALID' }, name);
  t.end();
});
