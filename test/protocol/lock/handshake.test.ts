// The handshake and command phase as pure state machines: the happy path and every adversarial case of CARLOCK.md that lives in the protocol.
import t from 'tap';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { taggedHash } from '../../../protocol/hash.js';
import { LockError } from '../../../protocol/lock/errors.js';
import { LOCK_COMMAND_CODES } from '../../../protocol/lock/commands.js';
import { deriveAuthKey, ecdhSharedSecret, ephemeralKeyPair, MAX_COUNTER, sealFrame } from '../../../protocol/lock/key-schedule.js';
import { CHALLENGE_LIFETIME_MS, SESSION_LIFETIME_MS } from '../../../protocol/lock/lock-session.js';
import {
  AUTH_HEADER,
  decodeChallenge,
  encodeAuth,
  encodeAuthBody,
  encodeChallenge,
  encodeChallengeBody,
  encodeHello,
  encodeSealed,
  FRAME_TYPE,
} from '../../../protocol/lock/messages.js';
import { authSignedMessage, challengeSignedMessage, transcriptAfterChallenge } from '../../../protocol/lock/transcript.js';
import { CURVE_ORDER, DOMAIN, sign, signDigest } from '../../../protocol/signature.js';
import { utf8 } from '../../../protocol/wire.js';
import { handshake, newLock, newPhone, rawCommand, roundTrip } from './fixtures/sessions.js';
import { HOUR, KEYS, OTHER_VID_HASH, T0, VID_HASH } from './fixtures/world.js';

const flipBit = (b: Uint8Array, i: number): Uint8Array => {
  const c = b.slice();
  c[i]! ^= 1 << (i % 8);
  return c;
};

/** A hand-built phone so AUTH can carry a chosen key, signature or tag. */
function manualAuth(challengeFrame: Uint8Array, hello: { frame: Uint8Array; ephPriv: Uint8Array }, body: { publicKey: Uint8Array; signature: Uint8Array }): Uint8Array {
  const ch = decodeChallenge(challengeFrame);
  const th1 = transcriptAfterChallenge(hello.frame, encodeChallengeBody(ch));
  const shared = ecdhSharedSecret(hello.ephPriv, ch.ephemeralPublicKey);
  return encodeAuth(sealFrame(deriveAuthKey(shared, th1), 'phoneToLock', 0, encodeAuthBody(body), AUTH_HEADER));
}

function manualHello(vidHash = VID_HASH): { frame: Uint8Array; ephPriv: Uint8Array } {
  const eph = ephemeralKeyPair();
  return { frame: encodeHello({ vidHash, ephemeralPublicKey: eph.publicKey, nonce: new Uint8Array(32).fill(9) }), ephPriv: eph.privateKey };
}

function th1Of(challengeFrame: Uint8Array, helloFrame: Uint8Array): Uint8Array {
  return transcriptAfterChallenge(helloFrame, encodeChallengeBody(decodeChallenge(challengeFrame)));
}

function highS(sig: Uint8Array): Uint8Array {
  let s = 0n;
  for (const b of sig.subarray(32)) s = (s << 8n) | BigInt(b);
  let hs = CURVE_ORDER - s;
  const out = sig.slice();
  for (let i = 63; i >= 32; i--) {
    out[i] = Number(hs & 0xffn);
    hs >>= 8n;
  }
  return out;
}

t.test('happy path: the lock proves itself first, the owner unlocks, locks and starts', (t) => {
  const lock = newLock();
  const phone = newPhone();
  handshake(lock, phone);
  t.equal(lock.state, 'open');
  t.equal(lock.principal?.role, 'owner');
  t.equal(phone.epoch, 1);
  for (const c of ['unlock', 'lock', 'start'] as const) {
    const { response } = roundTrip(lock, phone, c);
    t.equal(response.command, c);
    t.equal(response.error, '');
  }
  t.end();
});

t.test('fake lock: a CHALLENGE signed by another key gets no AUTH, so the phone reveals nothing', (t) => {
  const fake = newLock();
  (fake as unknown as { config: { lockPrivateKey: Uint8Array } }).config.lockPrivateKey = KEYS.otherLock.privateKey;
  const phone = newPhone();
  const ch = fake.onHello(phone.hello(T0), T0);
  t.throws(() => phone.onChallenge(ch, T0), { code: 'BAD_SIGNATURE' });
  t.equal(phone.state, 'closed');
  t.end();
});

t.test('wrong vehicle id or lock key', (t) => {
  const lock = newLock();
  t.throws(() => lock.onHello(newPhone(KEYS.owner, KEYS.lock.publicKey, OTHER_VID_HASH).hello(T0), T0), { code: 'WRONG_VEHICLE' }, 'HELLO for another vehicle');
  t.equal(lock.state, 'closed');
  const phone = newPhone(KEYS.owner, KEYS.otherLock.publicKey);
  t.throws(() => phone.onChallenge(newLock().onHello(phone.hello(T0), T0), T0), { code: 'BAD_SIGNATURE' }, 'a phone expecting another lock key');
  t.end();
});

t.test('replayed HELLO: a second HELLO in a session is refused; replayed into a new session it gets a fresh challenge the old AUTH cannot answer', (t) => {
  const lock = newLock();
  const phone = newPhone();
  const { hello, auth } = handshake(lock, phone);
  t.throws(() => lock.onHello(hello, T0), { code: 'UNEXPECTED_MESSAGE' });
  const lock2 = newLock();
  lock2.onHello(hello, T0);
  t.throws(() => lock2.onAuth(auth, T0), { code: 'DECRYPT_FAILED' });
  t.equal(lock2.state, 'closed');
  t.end();
});

t.test('replayed AUTH: in the same session and into another session', (t) => {
  const lock = newLock();
  const phone = newPhone();
  const { auth } = handshake(lock, phone);
  t.throws(() => lock.onAuth(auth, T0), { code: 'UNEXPECTED_MESSAGE' }, 'same session');
  const lock2 = newLock();
  lock2.onHello(newPhone().hello(T0), T0);
  t.throws(() => lock2.onAuth(auth, T0), { code: 'DECRYPT_FAILED' }, 'other session');
  t.end();
});

t.test('replayed CMD: in the same session (REPLAY) and into another session (DECRYPT_FAILED)', (t) => {
  const lock = newLock();
  const phone = newPhone();
  handshake(lock, phone);
  const { cmd } = roundTrip(lock, phone, 'unlock');
  t.throws(() => lock.receiveCommand(cmd, T0), { code: 'REPLAY' });
  const lock2 = newLock();
  handshake(lock2, newPhone());
  t.throws(() => lock2.receiveCommand(cmd, T0), { code: 'DECRYPT_FAILED' });
  t.end();
});

t.test('replayed RSP: the phone refuses an answer it already took', (t) => {
  const lock = newLock();
  const phone = newPhone();
  handshake(lock, phone);
  const { rsp } = roundTrip(lock, phone, 'unlock');
  t.throws(() => phone.onResponse(rsp), { code: 'REPLAY' });
  t.end();
});

t.test('a challenge replayed from another session', (t) => {
  const lock = newLock();
  const old = lock.onHello(newPhone().hello(T0), T0);
  const phone = newPhone();
  phone.hello(T0);
  t.throws(() => phone.onChallenge(old, T0), { code: 'BAD_SIGNATURE' }, 'the signature covers the other HELLO');
  t.end();
});

t.test('AUTH after the challenge expired', (t) => {
  const ok = newLock();
  const p1 = newPhone();
  const a1 = p1.onChallenge(ok.onHello(p1.hello(T0), T0), T0);
  t.equal(ok.onAuth(a1, T0 + CHALLENGE_LIFETIME_MS).role, 'owner', 'exactly at the limit is accepted');
  const late = newLock();
  const p2 = newPhone();
  const a2 = p2.onChallenge(late.onHello(p2.hello(T0), T0), T0);
  t.throws(() => late.onAuth(a2, T0 + CHALLENGE_LIFETIME_MS + 1), { code: 'CHALLENGE_EXPIRED' });
  t.equal(late.state, 'closed');
  const p3 = newPhone();
  const ch3 = newLock().onHello(p3.hello(T0), T0);
  t.throws(() => p3.onChallenge(ch3, T0 + CHALLENGE_LIFETIME_MS + 1), { code: 'CHALLENGE_EXPIRED' }, 'the phone too');
  t.end();
});

t.test('a signature made under another tag (CHALLENGE and AUTH), and every bit of the tag flipped', (t) => {
  // CHALLENGE signed by the real lock key under DOMAIN.lockAudit.
  const lock = newLock();
  const phone = newPhone();
  const hello = phone.hello(T0);
  const real = decodeChallenge(lock.onHello(hello, T0));
  const th1 = th1Of(encodeChallenge(real), hello);
  const forged = encodeChallenge({ ...real, signature: sign(DOMAIN.lockAudit, challengeSignedMessage(th1), KEYS.lock.privateKey) });
  t.throws(() => phone.onChallenge(forged, T0), { code: 'BAD_SIGNATURE' }, 'CHALLENGE under lockAudit');
  // AUTH signed by the owner under chainTransaction, and under every one-bit variant of the handshake tag.
  const tag = DOMAIN.lockHandshake;
  const variants: { name: string; sig: (m: Uint8Array) => Uint8Array }[] = [
    { name: 'chainTransaction', sig: (m) => sign(DOMAIN.chainTransaction, m, KEYS.owner.privateKey) },
    { name: 'lockCommand', sig: (m) => sign(DOMAIN.lockCommand, m, KEYS.owner.privateKey) },
  ];
  const tagBytes = utf8(tag);
  for (let i = 0; i < tagBytes.length * 8; i += 7) {
    const flipped = tagBytes.slice();
    flipped[i >> 3]! ^= 1 << (i & 7);
    const name = Buffer.from(flipped).toString('latin1');
    variants.push({ name: `tag bit ${i}`, sig: (m) => signDigest(taggedHash(name, m), KEYS.owner.privateKey) });
  }
  for (const v of variants) {
    const l = newLock();
    const h = manualHello();
    const ch = l.onHello(h.frame, T0);
    const auth = manualAuth(ch, h, { publicKey: KEYS.owner.publicKey, signature: v.sig(authSignedMessage(th1Of(ch, h.frame))) });
    t.throws(() => l.onAuth(auth, T0), { code: 'BAD_SIGNATURE' }, `AUTH under ${v.name}`);
  }
  // Control: the same construction with the right tag is accepted, so the refusals are about the tag.
  const l = newLock();
  const h = manualHello();
  const ch = l.onHello(h.frame, T0);
  const good = manualAuth(ch, h, { publicKey: KEYS.owner.publicKey, signature: sign(DOMAIN.lockHandshake, authSignedMessage(th1Of(ch, h.frame)), KEYS.owner.privateKey) });
  t.equal(l.onAuth(good, T0).role, 'owner', 'control: right tag accepted');
  t.end();
});

t.test('a high-S or malformed signature (AUTH and CHALLENGE)', (t) => {
  const bodies: { name: string; make: (m: Uint8Array) => Uint8Array }[] = [
    { name: 'high-S', make: (m) => highS(sign(DOMAIN.lockHandshake, m, KEYS.owner.privateKey)) },
    { name: 'r = 0', make: () => new Uint8Array(64).fill(0, 0, 32).fill(1, 32) },
    { name: 's ≥ n', make: () => new Uint8Array(64).fill(1, 0, 32).fill(0xff, 32) },
    { name: 'all zero', make: () => new Uint8Array(64) },
  ];
  for (const b of bodies) {
    const l = newLock();
    const h = manualHello();
    const ch = l.onHello(h.frame, T0);
    const auth = manualAuth(ch, h, { publicKey: KEYS.owner.publicKey, signature: b.make(authSignedMessage(th1Of(ch, h.frame))) });
    t.throws(() => l.onAuth(auth, T0), { code: 'BAD_SIGNATURE' }, `AUTH ${b.name}`);
  }
  const lock = newLock();
  const phone = newPhone();
  const real = decodeChallenge(lock.onHello(phone.hello(T0), T0));
  t.throws(() => phone.onChallenge(encodeChallenge({ ...real, signature: highS(real.signature) }), T0), { code: 'BAD_SIGNATURE' }, 'CHALLENGE high-S');
  t.end();
});

t.test('an invalid, off-curve or infinity ephemeral point (HELLO to the lock, CHALLENGE to the phone)', (t) => {
  let offCurveX = 1;
  for (; offCurveX < 100; offCurveX++) {
    const p = Uint8Array.of(0x02, ...new Uint8Array(31), offCurveX);
    try {
      secp256k1.Point.fromBytes(p);
    } catch {
      break;
    }
  }
  const bad: [string, Uint8Array][] = [
    ['infinity (all zero)', new Uint8Array(33)],
    ['off curve', Uint8Array.of(0x02, ...new Uint8Array(31), offCurveX)],
    ['x ≥ p', Uint8Array.of(0x03, ...new Uint8Array(32).fill(0xff))],
    ['uncompressed prefix in a 33-byte field', Uint8Array.of(0x04, ...new Uint8Array(32).fill(1))],
  ];
  for (const [name, point] of bad) {
    const lock = newLock();
    t.throws(() => lock.onHello(encodeHello({ vidHash: VID_HASH, ephemeralPublicKey: point, nonce: new Uint8Array(32) }), T0), { code: 'BAD_POINT' }, `HELLO: ${name}`);
    // A lock that holds the real key but sends a bad point: the phone's ECDH refuses it.
    const phone = newPhone();
    const hello = phone.hello(T0);
    const unsigned = { ephemeralPublicKey: point, nonce: new Uint8Array(32).fill(3), epoch: 1, lockTime: T0 };
    const th1 = transcriptAfterChallenge(hello, encodeChallengeBody(unsigned));
    const ch = encodeChallenge({ ...unsigned, signature: sign(DOMAIN.lockHandshake, challengeSignedMessage(th1), KEYS.lock.privateKey) });
    t.throws(() => phone.onChallenge(ch, T0), { code: 'BAD_POINT' }, `CHALLENGE: ${name}`);
  }
  t.end();
});

t.test('a bit flip in every field of every message (HELLO, CHALLENGE, AUTH, CMD, RSP) breaks the exchange', (t) => {
  const messages = ['hello', 'challenge', 'auth', 'cmd', 'rsp'] as const;
  // Length of each message in an honest run.
  const honest = (() => {
    const lock = newLock();
    const phone = newPhone();
    const ex = handshake(lock, phone);
    const rt = roundTrip(lock, phone, 'unlock');
    return { hello: ex.hello.length, challenge: ex.challenge.length, auth: ex.auth.length, cmd: rt.cmd.length, rsp: rt.rsp.length };
  })();
  let cases = 0;
  for (const m of messages) {
    for (let i = 0; i < honest[m]; i++) {
      const tamper = (which: string, b: Uint8Array) => (which === m ? flipBit(b, i) : b);
      const lock = newLock();
      const phone = newPhone();
      let delivered = false;
      try {
        const challenge = lock.onHello(tamper('hello', phone.hello(T0)), T0);
        const auth = phone.onChallenge(tamper('challenge', challenge), T0);
        lock.onAuth(tamper('auth', auth), T0);
        const { frame } = phone.command('unlock', T0);
        const rc = lock.receiveCommand(tamper('cmd', frame), T0);
        lock.checkCommand(rc.body, T0);
        delivered = true;
        phone.onResponse(tamper('rsp', lock.sealResponse(rc.counter, '', 0, T0)));
        t.fail(`${m} byte ${i}: a flipped bit went unnoticed`);
      } catch (err) {
        if (!(err instanceof LockError)) throw err;
        if (m !== 'rsp' && delivered) t.fail(`${m} byte ${i}: command delivered despite the flip`);
      }
      cases++;
    }
  }
  t.equal(cases, Object.values(honest).reduce((a, b) => a + b, 0), `${cases} single-bit flips, each refused with a LockError`);
  t.end();
});

t.test('truncated, over-long and lying-length frames', (t) => {
  const lock = newLock();
  const phone = newPhone();
  const ex = handshake(lock, phone);
  const { frame } = phone.command('unlock', T0);
  const cases: [string, () => unknown][] = [
    ['HELLO truncated', () => newLock().onHello(ex.hello.subarray(0, ex.hello.length - 1), T0)],
    ['HELLO over-long', () => newLock().onHello(Uint8Array.of(...ex.hello, 0), T0)],
    ['CHALLENGE truncated', () => { const p = newPhone(); p.hello(T0); return p.onChallenge(ex.challenge.subarray(0, 50), T0); }],
    ['CHALLENGE over-long', () => { const p = newPhone(); p.hello(T0); return p.onChallenge(Uint8Array.of(...ex.challenge, 1), T0); }],
    ['AUTH truncated', () => { const l = newLock(); l.onHello(newPhone().hello(T0), T0); return l.onAuth(ex.auth.subarray(0, 114), T0); }],
    ['AUTH over-long', () => { const l = newLock(); l.onHello(newPhone().hello(T0), T0); return l.onAuth(Uint8Array.of(...ex.auth, 0), T0); }],
    ['CMD truncated', () => lock.receiveCommand(frame.subarray(0, frame.length - 1), T0)],
    ['CMD over-long', () => lock.receiveCommand(Uint8Array.of(...frame, 0), T0)],
    ['CMD lying length (says 127, has fewer)', () => lock.receiveCommand(Uint8Array.of(...frame.subarray(0, 6), 0x7f, ...frame.subarray(7)), T0)],
    ['CMD length 0', () => lock.receiveCommand(Uint8Array.of(...frame.subarray(0, 6), 0), T0)],
    ['empty frame', () => lock.receiveCommand(new Uint8Array(0), T0)],
  ];
  for (const [name, run] of cases) t.throws(run, { code: 'BAD_FRAME' }, name);
  t.equal(roundTrip(lock, phone, 'unlock').response.error, '', 'the session survives refused frames: counter untouched');
  t.end();
});

t.test('reordered or duplicated counters; gaps are allowed', (t) => {
  const lock = newLock();
  const phone = newPhone();
  handshake(lock, phone);
  const c1 = phone.command('unlock', T0).frame;
  const c2 = phone.command('lock', T0).frame;
  const c3 = phone.command('unlock', T0).frame;
  t.equal(lock.receiveCommand(c2, T0).counter, 2, 'counter 2 first (1 is lost or late)');
  t.throws(() => lock.receiveCommand(c1, T0), { code: 'REPLAY' }, 'reordered: 1 after 2');
  t.throws(() => lock.receiveCommand(c2, T0), { code: 'REPLAY' }, 'duplicated: 2 again');
  t.equal(lock.receiveCommand(c3, T0).counter, 3);
  t.end();
});

t.test('a counter at its maximum (and zero) is refused on both sides; no wrap', (t) => {
  const lock = newLock();
  const phone = newPhone();
  handshake(lock, phone);
  const body = { command: LOCK_COMMAND_CODES.unlock, issuedAt: T0, expiresAt: T0 + 5000, args: new Uint8Array(0) };
  t.throws(() => lock.receiveCommand(rawCommand(phone, MAX_COUNTER, body), T0), { code: 'COUNTER_INVALID' }, 'CMD counter 2^32-1');
  t.throws(() => lock.receiveCommand(rawCommand(phone, 0, body), T0), { code: 'COUNTER_INVALID' }, 'CMD counter 0');
  t.equal(lock.receiveCommand(rawCommand(phone, MAX_COUNTER - 1, body), T0).counter, MAX_COUNTER - 1, 'the last usable counter');
  t.throws(() => lock.receiveCommand(rawCommand(phone, MAX_COUNTER - 1, body), T0), { code: 'REPLAY' }, 'and nothing after it');
  (phone as unknown as { commandCounter: number }).commandCounter = MAX_COUNTER - 1;
  t.throws(() => phone.command('unlock', T0), { code: 'COUNTER_INVALID' }, 'the phone will not wrap either');
  t.end();
});

t.test('failed attempts change no counters: an injected CMD does not move the window', (t) => {
  const lock = newLock();
  const phone = newPhone();
  handshake(lock, phone);
  const forged = encodeSealed('command', { counter: 1000, sealed: new Uint8Array(60).fill(0xab) });
  t.throws(() => lock.receiveCommand(forged, T0), { code: 'DECRYPT_FAILED' });
  t.equal(roundTrip(lock, phone, 'unlock').response.error, '', 'counter 1 still accepted after the forgery with counter 1000');
  t.end();
});

t.test('±1 h skew: commands are stamped in the lock clock; a command in the phone\'s own skewed clock is refused', (t) => {
  for (const skew of [HOUR, -HOUR]) {
    const lock = newLock();
    const phone = newPhone();
    handshake(lock, phone, T0, T0 + skew);
    t.equal(roundTrip(lock, phone, 'unlock', T0 + 1000, T0 + skew + 1000).response.error, '', `phone ${skew > 0 ? '+' : '-'}1 h works`);
    // A naive phone stamping its own clock: issuedAt = T0 + skew.
    const naive = rawCommand(phone, 5, { command: LOCK_COMMAND_CODES.unlock, issuedAt: T0 + skew, expiresAt: T0 + skew + 10_000, args: new Uint8Array(0) });
    const rc = lock.receiveCommand(naive, T0 + 2000);
    t.throws(() => lock.checkCommand(rc.body, T0 + 2000), { code: 'COMMAND_EXPIRED' }, `naive ${skew > 0 ? '+' : '-'}1 h refused`);
  }
  t.end();
});

t.test('a command expiry beyond 30 s, and an expired command', (t) => {
  const lock = newLock();
  const phone = newPhone();
  handshake(lock, phone);
  t.throws(() => phone.command('unlock', T0, { validityMs: 30_001 }), RangeError, 'the phone will not make one');
  const long = lock.receiveCommand(rawCommand(phone, 1, { command: 1, issuedAt: T0, expiresAt: T0 + 30_001, args: new Uint8Array(0) }), T0);
  t.throws(() => lock.checkCommand(long.body, T0), { code: 'COMMAND_EXPIRY_TOO_LONG' });
  const exact = lock.receiveCommand(rawCommand(phone, 2, { command: 1, issuedAt: T0, expiresAt: T0 + 30_000, args: new Uint8Array(0) }), T0);
  t.equal(lock.checkCommand(exact.body, T0), 'unlock', '30 s exactly is allowed');
  const old = lock.receiveCommand(rawCommand(phone, 3, { command: 1, issuedAt: T0, expiresAt: T0 + 5_000, args: new Uint8Array(0) }), T0 + 5_001);
  t.throws(() => lock.checkCommand(old.body, T0 + 5_001), { code: 'COMMAND_EXPIRED' });
  t.end();
});

t.test('swapped direction keys: reflected RSPs and CMDs sealed with the other direction fail', (t) => {
  const lock = newLock();
  const phone = newPhone();
  handshake(lock, phone);
  // Fresh counters on both sides, so only the keys and the nonce direction can refuse.
  const rsp = lock.sealResponse(1, '', 0, T0);
  const { frame: cmd } = phone.command('unlock', T0);
  const reflected = rsp.slice();
  reflected[1] = FRAME_TYPE.command;
  t.throws(() => lock.receiveCommand(reflected, T0), { code: 'DECRYPT_FAILED' }, 'RSP reflected to the lock as a CMD');
  const asRsp = cmd.slice();
  asRsp[1] = FRAME_TYPE.response;
  t.throws(() => phone.onResponse(asRsp), { code: 'DECRYPT_FAILED' }, 'CMD reflected to the phone as a RSP');
  const body = { command: 1, issuedAt: T0, expiresAt: T0 + 5000, args: new Uint8Array(0) };
  t.throws(() => lock.receiveCommand(rawCommand(phone, 7, body, 'lockToPhone', 'phoneToLock'), T0), { code: 'DECRYPT_FAILED' }, 'lock→phone key');
  t.throws(() => lock.receiveCommand(rawCommand(phone, 8, body, 'phoneToLock', 'lockToPhone'), T0), { code: 'DECRYPT_FAILED' }, 'lock→phone nonce direction');
  t.end();
});

t.test('session lifetime: no command after 5 minutes', (t) => {
  const lock = newLock();
  const phone = newPhone();
  handshake(lock, phone);
  const { frame } = phone.command('unlock', T0 + SESSION_LIFETIME_MS);
  t.throws(() => lock.receiveCommand(frame, T0 + SESSION_LIFETIME_MS + 1), { code: 'SESSION_EXPIRED' });
  t.equal(lock.state, 'closed');
  t.throws(() => phone.command('lock', T0 + SESSION_LIFETIME_MS + 1), { code: 'SESSION_EXPIRED' }, 'the phone stops too');
  t.end();
});

t.test('a delegate: within its window and permissions, over its permissions, never unblock', (t) => {
  const lock = newLock();
  const phone = newPhone(KEYS.alice);
  handshake(lock, phone);
  t.equal(lock.principal?.role, 'delegate');
  t.equal(roundTrip(lock, phone, 'unlock').response.error, '');
  for (const c of ['start', 'trunk', 'unblock'] as const) {
    const rc = lock.receiveCommand(phone.command(c, T0).frame, T0);
    t.throws(() => lock.checkCommand(rc.body, T0), { code: 'PERMISSION_DENIED' }, `delegate may not ${c}`);
  }
  t.end();
});

t.test('a revoked key, an unknown key, a delegation expired or not yet valid, a stale proof — refused at AUTH', (t) => {
  const attempt = (key: { privateKey: Uint8Array }, now: number, proofBlockTime?: number) => {
    const lock = newLock(undefined, proofBlockTime);
    const phone = newPhone(key);
    return () => lock.onAuth(phone.onChallenge(lock.onHello(phone.hello(now), now), now), now);
  };
  t.throws(attempt(KEYS.bob, T0), { code: 'KEY_REVOKED' });
  t.throws(attempt(KEYS.mallory, T0), { code: 'UNKNOWN_KEY' });
  t.throws(attempt(KEYS.alice, T0 + 24 * HOUR), { code: 'DELEGATION_EXPIRED' });
  t.throws(attempt(KEYS.alice, T0 - HOUR - 1), { code: 'DELEGATION_NOT_YET_VALID' });
  t.throws(attempt(KEYS.alice, T0, T0 - 8 * 24 * HOUR), { code: 'STALE_PROOF' });
  t.doesNotThrow(attempt(KEYS.owner, T0, T0 - 800 * 24 * HOUR), 'the owner on a stale proof is accepted');
  t.end();
});

t.test('messages in the wrong state and of the wrong type', (t) => {
  const lock = newLock();
  const phone = newPhone();
  const hello = phone.hello(T0);
  t.throws(() => lock.onAuth(hello, T0), { code: 'UNEXPECTED_MESSAGE' }, 'AUTH before HELLO');
  const l2 = newLock();
  t.throws(() => l2.onHello(encodeSealed('command', { counter: 1, sealed: new Uint8Array(20) }), T0), { code: 'UNEXPECTED_MESSAGE' }, 'a CMD as HELLO');
  t.end();
});
