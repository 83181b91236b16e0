// An authenticated, encrypted link to one validator over a TCP socket (CometBFT SecretConnection-like).
//
// Both sides run the same steps at once (no initiator/responder roles):
//   1. send hello = version ‖ ephemeral key ‖ random; read the peer's hello;
//   2. derive per-direction AES-GCM keys and a challenge (handshake.ts);
//   3. send an encrypted auth frame = chain id ‖ long-term key ‖ signature over challenge ‖ chain id;
//      read and check the peer's (chain, signature, not ourselves, `authorise`).
// After that every frame is sealed by frame-cipher.ts. Any violation closes the socket with a
// NetError; nothing is retried here (the peer network decides about reconnecting).
import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import { publicKeyFromPrivate } from '../../../protocol/signature.js';
import { p2pkhAddress } from '../../../protocol/address.js';
import { NetError } from './errors.js';
import { DEFAULT_FRAME_LIMITS, FRAME_PREFIX_LENGTH, FrameOpener, FrameSealer, type FrameLimits, StreamBuffer } from './frame-cipher.js';
import {
  decodeAuth,
  decodeHello,
  deriveSessionKeys,
  encodeAuth,
  encodeHello,
  generateEphemeral,
  HANDSHAKE_RANDOM_LENGTH,
  HELLO_LENGTH,
  signChallenge,
  verifyAuth,
} from './handshake.js';

export const DEFAULT_HANDSHAKE_TIMEOUT_MS = 5000;
/** How long a gracefully closed socket may take to flush before it is destroyed. */
const GRACEFUL_CLOSE_MS = 2000;
/** An auth frame is ≈ 170 bytes (chain id ≤ 64); anything much larger before authentication is refused. */
const MAX_AUTH_CIPHERTEXT = 512;
/** TCP keep-alive probes find a peer that vanished without a FIN (power loss, cable) within about a minute. */
const KEEPALIVE_DELAY_MS = 15_000;

export interface SecretConnectionOptions {
  chainId: string;
  /** Our long-term (validator or observer) private key. */
  privateKey: Uint8Array;
  /** Called with the authenticated peer key; false closes the link with UNAUTHORISED. */
  authorise(publicKey: Uint8Array): boolean;
  handshakeTimeoutMs?: number;
  /** Overrides for tests (a tiny frame counter limit); defaults are the protocol's. */
  limits?: Partial<FrameLimits>;
}

type State = 'hello' | 'auth' | 'open' | 'closed';

export class SecretConnection {
  /** The peer's authenticated 33-byte compressed key (empty until the handshake is done). */
  remotePublicKey: Uint8Array = new Uint8Array(0);
  /** P2PKH address of `remotePublicKey`. */
  remoteAddress = '';
  /** Bytes received and sent on the socket, prefixes and tags included. */
  bytesIn = 0;
  bytesOut = 0;

  private state: State = 'hello';
  private readonly buffer = new StreamBuffer();
  private readonly ephemeral = { ...generateEphemeral(), random: new Uint8Array(randomBytes(HANDSHAKE_RANDOM_LENGTH)) };
  private readonly ownPublicKey: Uint8Array;
  private readonly limits: FrameLimits;
  private sealer: FrameSealer | undefined;
  private opener: FrameOpener | undefined;
  private challenge: Uint8Array | undefined;
  private readonly timer: NodeJS.Timeout;
  private frameHandler: ((plaintext: Uint8Array) => void) | undefined;
  private readonly pendingFrames: Uint8Array[] = [];
  private closeHandlers: ((error: NetError) => void)[] = [];
  private closeError: NetError | undefined;

  private constructor(
    readonly socket: Socket,
    private readonly options: SecretConnectionOptions,
    private readonly settle: { resolve(c: SecretConnection): void; reject(err: NetError): void },
  ) {
    this.ownPublicKey = publicKeyFromPrivate(options.privateKey);
    this.limits = { ...DEFAULT_FRAME_LIMITS, ...options.limits };
    this.timer = setTimeout(() => {
      this.fail(new NetError('HANDSHAKE_TIMEOUT', `handshake not finished within ${this.timeoutMs} ms`, { temporary: true }));
    }, this.timeoutMs);
    socket.setNoDelay(true);
    socket.setKeepAlive(true, KEEPALIVE_DELAY_MS);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (cause) => this.fail(new NetError(this.state === 'open' ? 'CLOSED' : 'HANDSHAKE_FAILED', `socket error: ${cause.message}`, { cause, temporary: true })));
    socket.on('close', () => {
      this.fail(new NetError(this.state === 'open' ? 'CLOSED' : 'HANDSHAKE_FAILED', this.state === 'open' ? 'peer closed the connection' : 'peer closed the connection during the handshake', { temporary: true }));
    });
    this.write(encodeHello({ ephemeralPublicKey: this.ephemeral.publicKey, random: this.ephemeral.random }));
  }

  /**
   * Runs the handshake on a connected socket (either side: dialled or accepted). Resolves once
   * both sides are authenticated; rejects with a NetError and destroys the socket otherwise.
   */
  static handshake(socket: Socket, options: SecretConnectionOptions): Promise<SecretConnection> {
    return new Promise((resolve, reject) => {
      new SecretConnection(socket, options, { resolve, reject });
    });
  }

  private get timeoutMs(): number {
    return this.options.handshakeTimeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS;
  }

  get isOpen(): boolean {
    return this.state === 'open';
  }

  /** Bytes accepted by the socket but not yet handed to the kernel: the link's back-pressure signal. */
  get writableLength(): number {
    return this.socket.writableLength;
  }

  /** Frames this side has sealed so far (the nonce counter). */
  get framesSent(): number {
    return this.sealer?.framesSealed ?? 0;
  }

  /**
   * Encrypts and writes one frame. Throws CLOSED on a closed link and FRAME_TOO_LARGE for an
   * oversized plaintext (the link stays up); NONCE_EXHAUSTED closes the link and is thrown too.
   */
  send(plaintext: Uint8Array): void {
    if (this.state !== 'open' || this.sealer === undefined) throw new NetError('CLOSED', 'the connection is closed', { temporary: true });
    let frame: Uint8Array;
    try {
      frame = this.sealer.seal(plaintext);
    } catch (err) {
      if (err instanceof NetError && err.code === 'NONCE_EXHAUSTED') this.fail(err);
      throw err;
    }
    this.write(frame);
  }

  /** Delivers decrypted frames in order; frames that arrived before a handler was set are replayed to it. */
  onFrame(handler: (plaintext: Uint8Array) => void): void {
    this.frameHandler = handler;
    while (this.pendingFrames.length > 0 && this.state === 'open') handler(this.pendingFrames.shift()!);
  }

  /** Called once with the reason the link closed (CLOSED for an orderly close by either side). */
  onClose(handler: (error: NetError) => void): void {
    if (this.closeError !== undefined) {
      const error = this.closeError;
      queueMicrotask(() => handler(error));
      return;
    }
    this.closeHandlers.push(handler);
  }

  /**
   * Closes the link; `reason` is what the close handlers receive. `graceful` lets frames already
   * written reach the peer before the FIN (used when a duplicate link is retired); the socket is
   * destroyed anyway after a grace period.
   */
  close(reason: NetError = new NetError('CLOSED', 'closed locally'), options: { graceful?: boolean } = {}): void {
    this.fail(reason, options.graceful === true);
  }

  private write(bytes: Uint8Array): void {
    this.bytesOut += bytes.length;
    this.socket.write(bytes);
  }

  private onData(chunk: Buffer): void {
    if (this.state === 'closed') return;
    this.bytesIn += chunk.length;
    this.buffer.push(chunk);
    try {
      this.drain();
    } catch (err) {
      if (err instanceof NetError) this.fail(err);
      else this.fail(new NetError(this.state === 'open' ? 'CLOSED' : 'HANDSHAKE_FAILED', `unexpected error: ${String(err)}`, { cause: err }));
    }
  }

  private drain(): void {
    for (;;) {
      if (this.state === 'closed') return;
      if (this.state === 'hello') {
        if (this.buffer.length < HELLO_LENGTH) return;
        this.onHello(this.buffer.take(HELLO_LENGTH));
        continue;
      }
      const length = this.buffer.peekU32();
      if (length === undefined) return;
      this.opener!.checkLength(length);
      if (this.state === 'auth' && length > MAX_AUTH_CIPHERTEXT) {
        // Not yet authenticated: do not buffer megabytes for a stranger.
        throw new NetError('FRAME_TOO_LARGE', `auth frame of ${length} bytes, limit ${MAX_AUTH_CIPHERTEXT}`);
      }
      if (this.buffer.length < FRAME_PREFIX_LENGTH + length) return;
      const plaintext = this.opener!.open(this.buffer.take(FRAME_PREFIX_LENGTH + length));
      if (this.state === 'auth') this.onAuth(plaintext);
      else this.deliver(plaintext);
    }
  }

  private onHello(bytes: Uint8Array): void {
    const theirs = decodeHello(bytes);
    const keys = deriveSessionKeys(this.ephemeral, theirs);
    this.sealer = new FrameSealer(keys.sendKey, this.limits);
    this.opener = new FrameOpener(keys.receiveKey, this.limits);
    this.challenge = keys.challenge;
    const signature = signChallenge(keys.challenge, this.options.chainId, this.options.privateKey);
    this.write(this.sealer.seal(encodeAuth({ chainId: this.options.chainId, publicKey: this.ownPublicKey, signature })));
    this.state = 'auth';
  }

  private onAuth(plaintext: Uint8Array): void {
    const auth = decodeAuth(plaintext);
    verifyAuth(auth, this.challenge!, this.options.chainId, this.ownPublicKey);
    const address = p2pkhAddress(auth.publicKey);
    if (!this.options.authorise(auth.publicKey)) throw new NetError('UNAUTHORISED', `peer ${address} is not authorised`);
    this.remotePublicKey = auth.publicKey;
    this.remoteAddress = address;
    this.state = 'open';
    clearTimeout(this.timer);
    this.settle.resolve(this);
  }

  private deliver(plaintext: Uint8Array): void {
    if (this.frameHandler === undefined) this.pendingFrames.push(plaintext);
    else this.frameHandler(plaintext);
  }

  private fail(error: NetError, graceful = false): void {
    if (this.state === 'closed') return;
    const wasOpen = this.state === 'open';
    this.state = 'closed';
    clearTimeout(this.timer);
    if (graceful && wasOpen) {
      this.socket.end();
      setTimeout(() => this.socket.destroy(), GRACEFUL_CLOSE_MS).unref();
    } else {
      this.socket.destroy();
    }
    this.closeError = error;
    if (!wasOpen) {
      this.settle.reject(error);
      return;
    }
    const handlers = this.closeHandlers;
    this.closeHandlers = [];
    for (const handler of handlers) handler(error);
  }
}
