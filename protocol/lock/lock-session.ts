// The lock's side of one session as a pure state machine: HELLO → CHALLENGE, AUTH → principal, CMD → command, RSP.
//
// Pure: time comes in as `now` (the lock's trusted time), randomness as a function, and who a key
// belongs to is asked of `resolve`; the caller (firmware/lock) does the I/O, rate limiting, actuation
// and audit. Any handshake failure closes the session; a command-phase frame that fails to
// authenticate is refused *without* touching the counter, so an injected frame cannot desync the
// real wallet, while an authenticated one always consumes its counter, even if then refused.
import { randomBytes as nodeRandomBytes } from 'node:crypto';
import { ProtocolError } from '../errors.js';
import { DOMAIN, sign, verify } from '../signature.js';
import { equalBytes } from '../wire.js';
import { commandFromCode, type LockCommand } from './commands.js';
import { LockError } from './errors.js';
import { checkPermission, type Principal } from './key-set.js';
import {
  deriveAuthKey,
  deriveSessionKeys,
  ecdhSharedSecret,
  ephemeralKeyPair,
  MAX_COUNTER,
  openFrame,
  sealFrame,
  type SessionKeys,
} from './key-schedule.js';
import {
  AUTH_HEADER,
  decodeAuth,
  decodeAuthBody,
  decodeCommandBody,
  decodeHello,
  decodeSealed,
  encodeChallenge,
  encodeChallengeBody,
  encodeResponseBody,
  encodeSealed,
  NONCE_LENGTH,
  sealedHeader,
  type CommandBody,
} from './messages.js';
import { authSignedMessage, challengeSignedMessage, transcriptAfterAuth, transcriptAfterChallenge } from './transcript.js';

export const CHALLENGE_LIFETIME_MS = 10_000;
export const SESSION_LIFETIME_MS = 5 * 60_000;
export const MAX_COMMAND_VALIDITY_MS = 30_000;
/** How far ahead of the lock's clock a command's issuedAt may be (the wallet's clock mapping drifts a little). */
export const MAX_ISSUE_SKEW_MS = 5_000;

export type LockSessionState = 'awaitHello' | 'awaitAuth' | 'open' | 'closed';

export interface LockSessionConfig {
  vidHash: Uint8Array;
  lockPrivateKey: Uint8Array;
  /** Epoch of the key set this session runs under; the session dies when the set rotates. */
  epoch: number;
  /** Maps an authenticated key to its principal under the current key set, or throws a LockError. */
  resolve: (publicKey: Uint8Array, now: number) => Principal;
  /**
   * Called with the key AUTH claims, before its signature is checked: the place for a per-key
   * back-off (throw RATE_LIMITED), so a throttled key costs the lock no signature verification.
   */
  admitKey?: (publicKey: Uint8Array, now: number) => void;
  randomBytes?: (n: number) => Uint8Array;
}

export interface ReceivedCommand {
  counter: number;
  body: CommandBody;
}

export class LockSession {
  private stateValue: LockSessionState = 'awaitHello';
  private closeReason = '';
  private shared: Uint8Array | null = null;
  private th1: Uint8Array | null = null;
  private challengeAt = 0;
  private openedAt = 0;
  private keys: SessionKeys | null = null;
  private lastCommandCounter = 0;
  private lastResponseCounter = 0;
  private principalValue: Principal | null = null;
  private claimedKeyValue: Uint8Array | null = null;
  private readonly random: (n: number) => Uint8Array;

  constructor(private readonly config: LockSessionConfig) {
    this.random = config.randomBytes ?? ((n) => new Uint8Array(nodeRandomBytes(n)));
  }

  get state(): LockSessionState {
    return this.stateValue;
  }

  get epoch(): number {
    return this.config.epoch;
  }

  get principal(): Principal | null {
    return this.principalValue;
  }

  /** The key the AUTH frame named (authenticated or not): for attributing failures. */
  get claimedKey(): Uint8Array | null {
    return this.claimedKeyValue;
  }

  /** Ends the session (rotation, transport closed, error); every later frame is SESSION_EXPIRED. */
  close(reason: string): void {
    if (this.stateValue === 'closed') return;
    this.stateValue = 'closed';
    this.closeReason = reason;
    this.shared?.fill(0);
    this.keys?.phoneToLock.fill(0);
    this.keys?.lockToPhone.fill(0);
  }

  private fail(err: unknown): never {
    this.close(err instanceof LockError ? err.code : 'internal error');
    throw err;
  }

  private expect(state: LockSessionState, what: string): void {
    if (this.stateValue === 'closed') throw new LockError('SESSION_EXPIRED', `session closed (${this.closeReason})`);
    if (this.stateValue !== state) this.fail(new LockError('UNEXPECTED_MESSAGE', `${what} in state ${this.stateValue}`));
  }

  /** HELLO → CHALLENGE frame. WRONG_VEHICLE / BAD_POINT / BAD_FRAME close the session. */
  onHello(frame: Uint8Array, now: number): Uint8Array {
    this.expect('awaitHello', 'HELLO');
    try {
      const hello = decodeHello(frame);
      if (!equalBytes(hello.vidHash, this.config.vidHash)) throw new LockError('WRONG_VEHICLE', 'HELLO is for another vehicle');
      const eph = ephemeralKeyPair(this.random);
      this.shared = ecdhSharedSecret(eph.privateKey, hello.ephemeralPublicKey);
      eph.privateKey.fill(0);
      const nonce = this.random(NONCE_LENGTH);
      const unsigned = { ephemeralPublicKey: eph.publicKey, nonce, epoch: this.config.epoch, lockTime: now };
      this.th1 = transcriptAfterChallenge(frame, encodeChallengeBody(unsigned));
      const signature = sign(DOMAIN.lockHandshake, challengeSignedMessage(this.th1), this.config.lockPrivateKey);
      this.challengeAt = now;
      this.stateValue = 'awaitAuth';
      return encodeChallenge({ ...unsigned, signature });
    } catch (err) {
      return this.fail(err);
    }
  }

  /** AUTH → the authenticated principal. Any failure closes the session. */
  onAuth(frame: Uint8Array, now: number): Principal {
    this.expect('awaitAuth', 'AUTH');
    try {
      if (now - this.challengeAt > CHALLENGE_LIFETIME_MS || now < this.challengeAt) {
        throw new LockError('CHALLENGE_EXPIRED', `AUTH ${now - this.challengeAt} ms after the challenge, limit ${CHALLENGE_LIFETIME_MS}`);
      }
      const sealed = decodeAuth(frame);
      const authKey = deriveAuthKey(this.shared!, this.th1!);
      const body = decodeAuthBody(openFrame(authKey, 'phoneToLock', 0, sealed, AUTH_HEADER));
      authKey.fill(0);
      this.claimedKeyValue = body.publicKey;
      this.config.admitKey?.(body.publicKey, now);
      try {
        verify(DOMAIN.lockHandshake, authSignedMessage(this.th1!), body.signature, body.publicKey);
      } catch (err) {
        if (err instanceof ProtocolError) {
          throw new LockError(err.code === 'KEY_INVALID' ? 'BAD_POINT' : 'BAD_SIGNATURE', `AUTH: ${err.message}`, { cause: err });
        }
        throw err;
      }
      const principal = this.config.resolve(body.publicKey, now);
      this.keys = deriveSessionKeys(this.shared!, transcriptAfterAuth(this.th1!, frame));
      this.principalValue = principal;
      this.openedAt = now;
      this.stateValue = 'open';
      return principal;
    } catch (err) {
      return this.fail(err);
    }
  }

  /**
   * An encrypted CMD → its counter and body, counter consumed. Refusals here (BAD_FRAME,
   * DECRYPT_FAILED, REPLAY, COUNTER_INVALID) leave the counter and the session as they were;
   * SESSION_EXPIRED closes the session.
   */
  receiveCommand(frame: Uint8Array, now: number): ReceivedCommand {
    this.expect('open', 'CMD');
    if (now - this.openedAt > SESSION_LIFETIME_MS) this.fail(new LockError('SESSION_EXPIRED', 'session lifetime is over'));
    const { counter, sealed } = decodeSealed('command', frame);
    if (counter === 0 || counter >= MAX_COUNTER) throw new LockError('COUNTER_INVALID', `command counter ${counter} is reserved`);
    if (counter <= this.lastCommandCounter) {
      throw new LockError('REPLAY', `command counter ${counter} is not above ${this.lastCommandCounter}`);
    }
    const plaintext = openFrame(this.keys!.phoneToLock, 'phoneToLock', counter, sealed, sealedHeader('command', counter));
    const body = decodeCommandBody(plaintext);
    this.lastCommandCounter = counter;
    return { counter, body };
  }

  /** Expiry, validity length and permission of an authenticated command. */
  checkCommand(body: CommandBody, now: number): LockCommand {
    const command = commandFromCode(body.command);
    if (body.expiresAt - body.issuedAt > MAX_COMMAND_VALIDITY_MS || body.expiresAt < body.issuedAt) {
      throw new LockError('COMMAND_EXPIRY_TOO_LONG', `command valid for ${body.expiresAt - body.issuedAt} ms, limit ${MAX_COMMAND_VALIDITY_MS}`);
    }
    if (now > body.expiresAt) throw new LockError('COMMAND_EXPIRED', `command expired ${now - body.expiresAt} ms ago`);
    if (body.issuedAt > now + MAX_ISSUE_SKEW_MS) {
      throw new LockError('COMMAND_EXPIRED', `command issued ${body.issuedAt - now} ms in the lock's future`);
    }
    checkPermission(this.principalValue!, command);
    return command;
  }

  /** The encrypted RSP to the command with counter `commandCounter`. */
  sealResponse(commandCounter: number, error: string, state: number, now: number): Uint8Array {
    this.expect('open', 'RSP');
    if (this.lastResponseCounter + 1 >= MAX_COUNTER) this.fail(new LockError('COUNTER_INVALID', 'response counter exhausted'));
    const counter = ++this.lastResponseCounter;
    const body = encodeResponseBody({ commandCounter, error, state, lockTime: now });
    return encodeSealed('response', {
      counter,
      sealed: sealFrame(this.keys!.lockToPhone, 'lockToPhone', counter, body, sealedHeader('response', counter)),
    });
  }
}
