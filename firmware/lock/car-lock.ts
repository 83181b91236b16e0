// The lock as it runs on the dongle: key set with persisted epoch, trusted time floor, sessions, rate limits, audit, actuator.
//
// Transports hand each connection's frames to a LockConnection and send back what it returns;
// everything that decides is in protocol/lock (pure), everything that remembers is here.
import { join } from 'node:path';
import type { LockCommand } from '../../protocol/lock/commands.js';
import { isLockError, LockError } from '../../protocol/lock/errors.js';
import { acceptKeySet, decodeKeySet, resolvePrincipal, type KeySetFinality, type KeySetUpdateOutcome, type Principal, type SignedKeySet } from '../../protocol/lock/key-set.js';
import { LockSession } from '../../protocol/lock/lock-session.js';
import { decodeHello, decodeKeySetUpdate, encodeError, encodeKeySetOk, frameType, KEYSET_OUTCOME } from '../../protocol/lock/messages.js';
import { publicKeyFromPrivate } from '../../protocol/signature.js';
import { encodeActuatorState, type LockActuator } from '../../hardware/lock/lock-actuator.js';
import { AuditLogFile } from './audit-log-file.js';
import { LockStateFile, type PersistedLockState } from './lock-state-file.js';
import { DEFAULT_RATE_LIMIT, RateLimiter, type RateLimitConfig } from './rate-limiter.js';

/** Delegates are refused once the cached proof is older than this (a week without the chain). */
export const DEFAULT_STALENESS_MS = 7 * 24 * 3600_000;
/** A local clock this far below the floor counts as rolled back. */
export const CLOCK_TOLERANCE_MS = 5 * 60_000;
/** Recently seen HELLO nonces, to refuse a replayed HELLO outright. */
const HELLO_NONCE_CACHE = 4096;

export interface CarLockOptions {
  /** Directory for state.json and audit.log. */
  dir: string;
  vidHash: Uint8Array;
  lockPrivateKey: Uint8Array;
  finality: KeySetFinality;
  actuator: LockActuator;
  clock?: () => number;
  stalenessMs?: number;
  rateLimit?: RateLimitConfig;
  randomBytes?: (n: number) => Uint8Array;
  /** Test hook: runs after a new key set is persisted and before it is applied (power-loss tests). */
  afterPersist?: () => void;
  /** Sees every audited decision once it is on disk (`carchain lock serve` prints them). */
  onAudit?: (entry: { time: number; epoch: number; event: string; publicKey: Uint8Array | null; detail: string }) => void;
}

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

export class CarLock {
  readonly lockPublicKey: Uint8Array;
  private state: PersistedLockState;
  private signed: SignedKeySet | null;
  private readonly sessions = new Set<LockSession>();
  private readonly helloNonces = new Set<string>();
  private readonly limiter: RateLimiter;
  private floor: number;
  private readonly clock: () => number;

  private constructor(
    private readonly options: CarLockOptions,
    private readonly stateFile: LockStateFile,
    readonly audit: AuditLogFile,
  ) {
    this.lockPublicKey = publicKeyFromPrivate(options.lockPrivateKey);
    this.clock = options.clock ?? Date.now;
    this.state = stateFile.load();
    this.signed = this.state.keySet === null ? null : decodeKeySet(this.state.keySet);
    this.limiter = new RateLimiter(options.rateLimit ?? DEFAULT_RATE_LIMIT);
    this.floor = Math.max(this.state.timeFloor, this.state.proofBlockTime, audit.lastTime);
  }

  static open(options: CarLockOptions): CarLock {
    const lockPublicKey = publicKeyFromPrivate(options.lockPrivateKey);
    const audit = AuditLogFile.open(join(options.dir, 'audit.log'), options.vidHash, options.lockPrivateKey, lockPublicKey);
    return new CarLock(options, new LockStateFile(join(options.dir, 'state.json')), audit);
  }

  close(): void {
    for (const s of this.sessions) s.close('lock closed');
    this.sessions.clear();
    this.audit.close();
  }

  get epoch(): number {
    return this.signed?.keySet.epoch ?? 0;
  }

  get blocked(): boolean {
    return this.state.blocked;
  }

  get keySet(): SignedKeySet | null {
    return this.signed;
  }

  /** Trusted time = max(local clock, floor); the floor only rises. */
  trustedTime(): { now: number; clockBelowFloor: boolean } {
    const local = this.clock();
    const clockBelowFloor = local < this.floor - CLOCK_TOLERANCE_MS;
    this.floor = Math.max(this.floor, local);
    return { now: this.floor, clockBelowFloor };
  }

  private record(event: string, publicKey: Uint8Array | null, detail: string): void {
    const entry = { time: this.trustedTime().now, epoch: this.epoch, event, publicKey, detail };
    this.audit.append(entry);
    this.options.onAudit?.(entry);
  }

  /**
   * Takes a key set with its finality proof: decide (pure), persist, *then* apply. A power loss
   * between the two leaves the new set on disk, so the restarted lock cannot go back.
   */
  updateKeySet(bytes: Uint8Array, proof: Uint8Array): { epoch: number; outcome: KeySetUpdateOutcome } {
    const { now } = this.trustedTime();
    let accepted;
    try {
      accepted = acceptKeySet({
        current: this.signed,
        bytes,
        proof,
        vidHash: this.options.vidHash,
        lockPublicKey: this.lockPublicKey,
        finality: this.options.finality,
        now,
      });
    } catch (err) {
      if (isLockError(err)) this.record('keyset-refused', null, err.code);
      throw err;
    }
    const next: PersistedLockState = {
      ...this.state,
      keySet: accepted.signed.bytes,
      proof,
      proofHeight: accepted.height,
      proofBlockTime: Math.max(accepted.blockTime, accepted.outcome === 'refreshed' ? this.state.proofBlockTime : 0),
      timeFloor: Math.max(this.floor, accepted.blockTime),
    };
    this.stateFile.save(next);
    this.options.afterPersist?.();
    this.state = next;
    this.signed = accepted.signed;
    this.floor = next.timeFloor;
    if (accepted.outcome === 'rotated') {
      for (const s of this.sessions) s.close(`key set rotated to epoch ${accepted.signed.keySet.epoch}`);
      this.sessions.clear();
    }
    this.record('keyset', null, `${accepted.outcome} epoch ${accepted.signed.keySet.epoch} height ${accepted.height}`);
    return { epoch: accepted.signed.keySet.epoch, outcome: accepted.outcome };
  }

  private setBlocked(blocked: boolean): void {
    const next = { ...this.state, blocked, timeFloor: this.floor };
    this.stateFile.save(next);
    this.state = next;
    if (!blocked) this.limiter.reset();
  }

  /** A new link from `source` (a BLE address, a TCP peer, a relay client id). */
  connect(source: string): LockConnection {
    return new LockConnection(this, source);
  }

  /** @internal used by LockConnection */
  newSession(source: string): LockSession {
    if (this.signed === null) throw new LockError('NO_KEYSET', 'the lock has no key set yet');
    const signed = this.signed;
    const session = new LockSession({
      vidHash: this.options.vidHash,
      lockPrivateKey: this.options.lockPrivateKey,
      epoch: signed.keySet.epoch,
      randomBytes: this.options.randomBytes,
      admitKey: (publicKey) => this.limiter.check(source, hex(publicKey), this.trustedTime().now),
      resolve: (publicKey) => {
        const t = this.trustedTime();
        const principal = resolvePrincipal(signed.keySet, publicKey, {
          trustedNow: t.now,
          clockBelowFloor: t.clockBelowFloor,
          proofBlockTime: this.state.proofBlockTime,
          stalenessMs: this.options.stalenessMs ?? DEFAULT_STALENESS_MS,
        });
        if (this.state.blocked && principal.role !== 'owner') throw new LockError('BLOCKED', 'lock is blocked; only the owner can unblock it');
        return principal;
      },
    });
    this.sessions.add(session);
    return session;
  }

  /** @internal */
  dropSession(session: LockSession): void {
    this.sessions.delete(session);
  }

  /** @internal HELLO bookkeeping: per-source back-off and the replay cache. */
  admitHello(frame: Uint8Array, source: string): void {
    this.limiter.check(source, null, this.trustedTime().now);
    const nonce = hex(decodeHello(frame).nonce);
    if (this.helloNonces.has(nonce)) throw new LockError('REPLAY', 'this HELLO was seen before');
    this.helloNonces.add(nonce);
    if (this.helloNonces.size > HELLO_NONCE_CACHE) this.helloNonces.delete(this.helloNonces.values().next().value!);
  }

  /** @internal a failed handshake: count it, maybe block, audit it. */
  handshakeFailed(source: string, key: string | null, err: LockError): void {
    // Refusals of an already throttled source are not audited: a flood must not turn into fsyncs.
    if (err.code === 'RATE_LIMITED' || err.code === 'NO_KEYSET') return;
    if (err.code === 'BLOCKED') {
      this.record('auth-refused', key === null ? null : Uint8Array.from(Buffer.from(key, 'hex')), err.code);
      return;
    }
    const block = this.limiter.fail(source, key, this.trustedTime().now);
    this.record('auth-failed', key === null ? null : Uint8Array.from(Buffer.from(key, 'hex')), err.code);
    if (block && !this.state.blocked) {
      this.setBlocked(true);
      this.record('blocked', null, 'too many failed attempts');
    }
  }

  /** @internal */
  authenticated(source: string, principal: Principal): void {
    this.limiter.succeed(source, hex(principal.publicKey));
  }

  /** @internal carries out an authenticated, permitted command. Returns the state byte. */
  async execute(principal: Principal, command: LockCommand): Promise<number> {
    if (this.state.blocked && command !== 'unblock') throw new LockError('BLOCKED', 'lock is blocked; only the owner can unblock it');
    if (command === 'unblock') {
      if (principal.role !== 'owner') throw new LockError('PERMISSION_DENIED', 'only the owner can unblock');
      if (this.state.blocked) this.setBlocked(false);
      return encodeActuatorState(this.options.actuator.state());
    }
    if (command === 'status') return encodeActuatorState(this.options.actuator.state());
    return encodeActuatorState(await this.options.actuator.execute(command));
  }

  /** @internal */
  actuatorState(): number {
    return encodeActuatorState(this.options.actuator.state());
  }

  /** @internal */
  audited(principal: Principal | null, command: string, result: string): void {
    this.record('command', principal?.publicKey ?? null, `${command} ${result}`);
  }
}

/** One link's worth of lock: frames in, frames out, one session at a time. */
export class LockConnection {
  private session: LockSession | null = null;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly lock: CarLock,
    readonly source: string,
  ) {}

  /** Handles frames strictly one after another, in arrival order. */
  handle(frame: Uint8Array): Promise<Uint8Array[]> {
    const result = this.queue.then(() => this.handleNow(frame));
    this.queue = result.catch(() => undefined);
    return result;
  }

  close(): void {
    if (this.session !== null) {
      this.session.close('link closed');
      this.lock.dropSession(this.session);
      this.session = null;
    }
  }

  private async handleNow(frame: Uint8Array): Promise<Uint8Array[]> {
    try {
      return await this.dispatch(frame);
    } catch (err) {
      if (isLockError(err)) return [encodeError(err.code)];
      throw err;
    }
  }

  private async dispatch(frame: Uint8Array): Promise<Uint8Array[]> {
    const type = frameType(frame);
    switch (type) {
      case 'keySet': {
        const update = decodeKeySetUpdate(frame);
        const r = this.lock.updateKeySet(update.keySet, update.proof);
        return [encodeKeySetOk({ epoch: r.epoch, outcome: KEYSET_OUTCOME[r.outcome] })];
      }
      case 'hello': {
        this.close();
        const session = this.lock.newSession(this.source);
        this.session = session;
        try {
          this.lock.admitHello(frame, this.source);
          return [session.onHello(frame, this.lock.trustedTime().now)];
        } catch (err) {
          session.close('hello refused');
          if (isLockError(err)) this.lock.handshakeFailed(this.source, null, err);
          throw err;
        }
      }
      case 'auth': {
        const session = this.current();
        try {
          const principal = session.onAuth(frame, this.lock.trustedTime().now);
          this.lock.authenticated(this.source, principal);
          return [];
        } catch (err) {
          const claimed = session.claimedKey;
          if (isLockError(err)) this.lock.handshakeFailed(this.source, claimed === null ? null : hex(claimed), err);
          throw err;
        }
      }
      case 'command': {
        const session = this.current();
        const received = session.receiveCommand(frame, this.lock.trustedTime().now);
        const principal = session.principal!;
        let name = `command-${received.body.command}`;
        try {
          const command = session.checkCommand(received.body, this.lock.trustedTime().now);
          name = command;
          const state = await this.lock.execute(principal, command);
          this.lock.audited(principal, name, 'ok');
          return [session.sealResponse(received.counter, '', state, this.lock.trustedTime().now)];
        } catch (err) {
          if (!isLockError(err)) throw err;
          this.lock.audited(principal, name, err.code);
          if (session.state !== 'open') throw err;
          return [session.sealResponse(received.counter, err.code, this.lock.actuatorState(), this.lock.trustedTime().now)];
        }
      }
      default:
        throw new LockError('UNEXPECTED_MESSAGE', `a lock does not accept ${type} frames`);
    }
  }

  private current(): LockSession {
    if (this.session === null) throw new LockError('UNEXPECTED_MESSAGE', 'no session: send HELLO first');
    return this.session;
  }
}
