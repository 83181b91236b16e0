// Every lock decoder on random and mutated bytes: a typed LockError or a value, never anything else.
import t from 'tap';
import fc from 'fast-check';
import { LockError } from '../../../protocol/lock/errors.js';
import { decodeAuditEntry } from '../../../protocol/lock/audit.js';
import { decodeKeySet } from '../../../protocol/lock/key-set.js';
import { FrameDecoder } from '../../../protocol/lock/framing.js';
import * as m from '../../../protocol/lock/messages.js';
import { handshake, newLock, newPhone, roundTrip } from './fixtures/sessions.js';
import { keySet, proofFor } from './fixtures/world.js';

const decoders: [string, (b: Uint8Array) => unknown][] = [
  ['hello', m.decodeHello],
  ['challenge', m.decodeChallenge],
  ['auth', m.decodeAuth],
  ['authBody', m.decodeAuthBody],
  ['command', (b) => m.decodeSealed('command', b)],
  ['response', (b) => m.decodeSealed('response', b)],
  ['commandBody', m.decodeCommandBody],
  ['responseBody', m.decodeResponseBody],
  ['keySetUpdate', m.decodeKeySetUpdate],
  ['keySetOk', m.decodeKeySetOk],
  ['error', m.decodeError],
  ['frameType', m.frameType],
  ['keySet', decodeKeySet],
  ['auditEntry', decodeAuditEntry],
  ['frameDecoder', (b) => new FrameDecoder().push(b)],
];

const onlyTyped = (f: (b: Uint8Array) => unknown) => (b: Uint8Array) => {
  try {
    f(b);
  } catch (err) {
    if (!(err instanceof LockError)) throw err;
  }
};

t.test('random bytes', (t) => {
  for (const [name, f] of decoders) {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), (b) => onlyTyped(f)(b)), { numRuns: 300 });
    t.pass(name);
  }
  t.end();
});

t.test('mutations of real frames (bytes changed, cut, extended)', (t) => {
  const lock = newLock();
  const phone = newPhone();
  const ex = handshake(lock, phone);
  const rt = roundTrip(lock, phone, 'unlock');
  const ks = keySet({ epoch: 1 });
  const real = [ex.hello, ex.challenge, ex.auth, rt.cmd, rt.rsp, m.encodeKeySetUpdate({ keySet: ks, proof: proofFor(ks) }), ks];
  const mutated = fc
    .tuple(fc.constantFrom(...real), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }), fc.integer({ min: -5, max: 5 }))
    .map(([frame, edits, cut]) => {
      const b = frame.slice();
      for (const [i, v] of edits) b[i % b.length] = v;
      return cut < 0 ? b.subarray(0, Math.max(0, b.length + cut)) : Uint8Array.of(...b, ...new Uint8Array(cut));
    });
  for (const [name, f] of decoders) {
    fc.assert(fc.property(mutated, (b) => onlyTyped(f)(b)), { numRuns: 150 });
    t.pass(name);
  }
  t.end();
});
