// The owner's or a delegate's wallet talking to a car lock over any LockTransport: handshake, commands, key-set pushes.
import type { LockCommand } from '../../protocol/lock/commands.js';
import { isLockErrorCode, LockError } from '../../protocol/lock/errors.js';
import {
  decodeError,
  decodeKeySetOk,
  encodeKeySetUpdate,
  frameType,
  type KeySetOk,
} from '../../protocol/lock/messages.js';
import { PhoneSession, type CommandOptions, type LockResponse } from '../../protocol/lock/phone-session.js';
import type { LockTransport } from '../../protocol/lock/transport.js';

export interface LockClientOptions {
  vidHash: Uint8Array;
  lockPublicKey: Uint8Array;
  privateKey: Uint8Array;
  minEpoch?: number;
  clock?: () => number;
  randomBytes?: (n: number) => Uint8Array;
  timeoutMs?: number;
}

/** A frame from the lock that is an ERROR becomes the LockError it names. */
function refusal(frame: Uint8Array): LockError | null {
  if (frameType(frame) !== 'error') return null;
  const code = decodeError(frame);
  return new LockError(isLockErrorCode(code) ? code : 'BAD_FRAME', `lock refused: ${code}`);
}

export class LockClient {
  private constructor(
    private readonly transport: LockTransport,
    private readonly session: PhoneSession,
    private readonly clock: () => number,
    private readonly timeoutMs: number,
  ) {}

  /**
   * HELLO → CHALLENGE (verified) → AUTH, sent without waiting for an answer: the first command
   * follows AUTH at once, so a handshake plus one command is two round trips. If AUTH was refused,
   * the first `send` rejects with the lock's code.
   */
  static async connect(transport: LockTransport, options: LockClientOptions): Promise<LockClient> {
    const clock = options.clock ?? Date.now;
    const timeoutMs = options.timeoutMs ?? 10_000;
    const session = new PhoneSession(options);
    await transport.send(session.hello(clock()));
    const challenge = await transport.receive(timeoutMs);
    const refused = refusal(challenge);
    if (refused) throw refused;
    await transport.send(session.onChallenge(challenge, clock()));
    return new LockClient(transport, session, clock, timeoutMs);
  }

  get epoch(): number {
    return this.session.epoch;
  }

  /** Sends one command and returns the lock's answer (its `error` is '' when carried out). */
  async send(command: LockCommand, options: CommandOptions = {}): Promise<LockResponse> {
    const { frame } = this.session.command(command, this.clock(), options);
    await this.transport.send(frame);
    const reply = await this.transport.receive(this.timeoutMs);
    const refused = refusal(reply);
    if (refused) throw refused;
    return this.session.onResponse(reply);
  }

  /** Like `send`, but a refusal inside the RSP becomes a thrown LockError. */
  async run(command: LockCommand, options: CommandOptions = {}): Promise<LockResponse> {
    const r = await this.send(command, options);
    if (r.error !== '') throw new LockError(isLockErrorCode(r.error) ? r.error : 'BAD_FRAME', `${command}: ${r.error}`);
    return r;
  }

  async close(): Promise<void> {
    this.session.close();
    await this.transport.close();
  }
}

/** Hands a key set and its finality proof to the lock (no session needed: both are self-authenticating). */
export async function pushKeySet(transport: LockTransport, keySet: Uint8Array, proof: Uint8Array, timeoutMs = 10_000): Promise<KeySetOk> {
  await transport.send(encodeKeySetUpdate({ keySet, proof }));
  const reply = await transport.receive(timeoutMs);
  const refused = refusal(reply);
  if (refused) throw refused;
  return decodeKeySetOk(reply);
}

