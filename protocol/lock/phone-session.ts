// The wallet's (owner's or delegate's) side of one session as a pure state machine: HELLO, CHALLENGE → AUTH, CMD, RSP.
//
// The phone reveals its key only inside AUTH, encrypted, and only after the CHALLENGE signature
// verified under the lock key the phone already trusts — a fake lock learns nothing but an
// ephemeral point. Commands are stamped in the *lock's* clock (offset learnt from the signed
// CHALLENGE), so a phone whose own clock is an hour off still produces fresh commands.
import { randomBytes as nodeRandomBytes } from 'node:crypto';
import { ProtocolError } from '../errors.js';
import { DOMAIN, publicKeyFromPrivate, sign, verify } from '../signature.js';
import { LOCK_COMMAND_CODES, type LockCommand } from './commands.js';
import { isLockErrorCode, LockError } from './errors.js';
import {
  deriveAuthKey,
  deriveSessionKeys,
  ecdhSharedSecret,
  ephemeralKeyPair,
  MAX_COUNTER,
  openFrame,
  sealFrame,
  type EphemeralKeyPair,
  type SessionKeys,
} from './key-schedule.js';
import {
  AUTH_HEADER,
  decodeChallenge,
  decodeResponseBody,
  decodeSealed,
  encodeAuth,
  encodeAuthBody,
  encodeChallengeBody,
  encodeCommandBody,
  encodeHello,
  encodeSealed,
  NONCE_LENGTH,
  sealedHeader,
  type ResponseBody,
} from './messages.js';
import { CHALLENGE_LIFETIME_MS, MAX_COMMAND_VALIDITY_MS, SESSION_LIFETIME_MS } from './lock-session.js';
import { authSignedMessage, challengeSignedMessage, transcriptAfterAuth, transcriptAfterChallenge } from './transcript.js';

export type PhoneSessionState = 'new' | 'awaitChallenge' | 'open' | 'closed';

export interface PhoneSessionConfig {
  vidHash: Uint8Array;
  /** The lock key from the key set the wallet holds; the CHALLENGE must verify under it. */
  lockPublicKey: Uint8Array;
  /** The owner's or delegate's long-term private key. */
  privateKey: Uint8Array;
  /** Refuse a lock that runs an older key set than this (a rolled-back lock). */
  minEpoch?: number;
  randomBytes?: (n: number) => Uint8Array;
}

export interface CommandOptions {
  /** How long the command stays valid, ms (≤ 30 000). Default 10 000. */
  validityMs?: number;
  args?: Uint8Array;
}

export interface LockResponse extends ResponseBody {
  command: LockCommand;
}

export class PhoneSession {
  private stateValue: PhoneSessionState = 'new';
  private eph: EphemeralKeyPair | null = null;
  private helloFrame: Uint8Array | null = null;
  private helloAt = 0;
  private openedAt = 0;
  private keys: SessionKeys | null = null;
  private lockClockOffset = 0;
  private commandCounter = 0;
  private lastResponseCounter = 0;
  private epochValue = 0;
  private readonly pending = new Map<number, LockCommand>();
  private readonly random: (n: number) => Uint8Array;

  constructor(private readonly config: PhoneSessionConfig) {
    this.random = config.randomBytes ?? ((n) => new Uint8Array(nodeRandomBytes(n)));
  }

  get state(): PhoneSessionState {
    return this.stateValue;
  }

  /** Epoch of the key set the lock proved it runs. */
  get epoch(): number {
    return this.epochValue;
  }

  close(): void {
    this.stateValue = 'closed';
    this.eph?.privateKey.fill(0);
    this.keys?.phoneToLock.fill(0);
    this.keys?.lockToPhone.fill(0);
  }

  private fail(err: unknown): never {
    this.close();
    throw err;
  }

  private expect(state: PhoneSessionState, what: string): void {
    if (this.stateValue === 'closed') throw new LockError('SESSION_EXPIRED', 'session closed');
    if (this.stateValue !== state) this.fail(new LockError('UNEXPECTED_MESSAGE', `${what} in state ${this.stateValue}`));
  }

  hello(now: number): Uint8Array {
    this.expect('new', 'HELLO');
    this.eph = ephemeralKeyPair(this.random);
    this.helloFrame = encodeHello({ vidHash: this.config.vidHash, ephemeralPublicKey: this.eph.publicKey, nonce: this.random(NONCE_LENGTH) });
    this.helloAt = now;
    this.stateValue = 'awaitChallenge';
    return this.helloFrame;
  }

  /** CHALLENGE → AUTH frame. Verifies the lock first; on any failure nothing about our key is sent. */
  onChallenge(frame: Uint8Array, now: number): Uint8Array {
    this.expect('awaitChallenge', 'CHALLENGE');
    try {
      if (now - this.helloAt > CHALLENGE_LIFETIME_MS) throw new LockError('CHALLENGE_EXPIRED', 'CHALLENGE arrived too late');
      const ch = decodeChallenge(frame);
      const th1 = transcriptAfterChallenge(this.helloFrame!, encodeChallengeBody(ch));
      try {
        verify(DOMAIN.lockHandshake, challengeSignedMessage(th1), ch.signature, this.config.lockPublicKey);
      } catch (err) {
        if (err instanceof ProtocolError) throw new LockError('BAD_SIGNATURE', `CHALLENGE: ${err.message}`, { cause: err });
        throw err;
      }
      if (ch.epoch < (this.config.minEpoch ?? 0)) {
        throw new LockError('EPOCH_NOT_INCREASING', `lock runs epoch ${ch.epoch}, wallet expects ≥ ${this.config.minEpoch}`);
      }
      const shared = ecdhSharedSecret(this.eph!.privateKey, ch.ephemeralPublicKey);
      this.eph!.privateKey.fill(0);
      const body = encodeAuthBody({
        publicKey: publicKeyFromPrivate(this.config.privateKey),
        signature: sign(DOMAIN.lockHandshake, authSignedMessage(th1), this.config.privateKey),
      });
      const authKey = deriveAuthKey(shared, th1);
      const authFrame = encodeAuth(sealFrame(authKey, 'phoneToLock', 0, body, AUTH_HEADER));
      authKey.fill(0);
      this.keys = deriveSessionKeys(shared, transcriptAfterAuth(th1, authFrame));
      shared.fill(0);
      this.lockClockOffset = ch.lockTime - now;
      this.epochValue = ch.epoch;
      this.openedAt = now;
      this.stateValue = 'open';
      return authFrame;
    } catch (err) {
      return this.fail(err);
    }
  }

  /** The lock's clock as this phone estimates it. */
  lockTime(now: number): number {
    return now + this.lockClockOffset;
  }

  /** An encrypted CMD frame, stamped in the lock's clock. */
  command(command: LockCommand, now: number, options: CommandOptions = {}): { frame: Uint8Array; counter: number } {
    this.expect('open', 'CMD');
    if (now - this.openedAt > SESSION_LIFETIME_MS) this.fail(new LockError('SESSION_EXPIRED', 'session lifetime is over'));
    const validity = options.validityMs ?? 10_000;
    if (validity <= 0 || validity > MAX_COMMAND_VALIDITY_MS) throw new RangeError(`validityMs must be 1..${MAX_COMMAND_VALIDITY_MS}`);
    if (this.commandCounter + 1 >= MAX_COUNTER) this.fail(new LockError('COUNTER_INVALID', 'command counter exhausted'));
    const counter = ++this.commandCounter;
    const issuedAt = Math.max(0, this.lockTime(now));
    const body = encodeCommandBody({ command: LOCK_COMMAND_CODES[command], issuedAt, expiresAt: issuedAt + validity, args: options.args ?? new Uint8Array(0) });
    this.pending.set(counter, command);
    const frame = encodeSealed('command', {
      counter,
      sealed: sealFrame(this.keys!.phoneToLock, 'phoneToLock', counter, body, sealedHeader('command', counter)),
    });
    return { frame, counter };
  }

  /** An encrypted RSP → its body. REPLAY for a counter not above the last; DECRYPT_FAILED for forgeries. */
  onResponse(frame: Uint8Array): LockResponse {
    this.expect('open', 'RSP');
    const { counter, sealed } = decodeSealed('response', frame);
    if (counter === 0 || counter >= MAX_COUNTER) throw new LockError('COUNTER_INVALID', `response counter ${counter} is reserved`);
    if (counter <= this.lastResponseCounter) throw new LockError('REPLAY', `response counter ${counter} is not above ${this.lastResponseCounter}`);
    const body = decodeResponseBody(openFrame(this.keys!.lockToPhone, 'lockToPhone', counter, sealed, sealedHeader('response', counter)));
    const command = this.pending.get(body.commandCounter);
    if (command === undefined) throw new LockError('REPLAY', `response to command ${body.commandCounter}, which is not outstanding`);
    if (body.error !== '' && !isLockErrorCode(body.error)) throw new LockError('BAD_FRAME', `response error code ${body.error}`);
    this.lastResponseCounter = counter;
    this.pending.delete(body.commandCounter);
    return { ...body, command };
  }
}
