// Test helpers for the peer-to-peer layer: deterministic keys, socket pairs, a hand-driven handshake and polling waits.
import { once } from 'node:events';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { p2pkhAddress } from '../../../../protocol/address.js';
import { sha256 } from '../../../../protocol/hash.js';
import { publicKeyFromPrivate } from '../../../../protocol/signature.js';
import { equalBytes, utf8 } from '../../../../protocol/wire.js';
import { NetError } from '../../../../gateway/chain/net/errors.js';
import { FRAME_PREFIX_LENGTH, FrameOpener, FrameSealer, StreamBuffer } from '../../../../gateway/chain/net/frame-cipher.js';
import {
  decodeAuth,
  decodeHello,
  deriveSessionKeys,
  encodeAuth,
  encodeHello,
  generateEphemeral,
  HELLO_LENGTH,
  signChallenge,
  type AuthMessage,
  type SessionKeys,
} from '../../../../gateway/chain/net/handshake.js';
import { PeerNetwork, type PeerNetworkOptions } from '../../../../gateway/chain/net/peer-network.js';
import { SecretConnection, type SecretConnectionOptions } from '../../../../gateway/chain/net/secret-connection.js';

export const CHAIN_ID = 'carchain-net-test';

export interface TestKey {
  privateKey: Uint8Array;
  publicKey: Uint8Array;
  address: string;
}

export function testKey(i: number): TestKey {
  const privateKey = sha256(utf8(`carchain-net-test-key-${i}`));
  const publicKey = publicKeyFromPrivate(privateKey);
  return { privateKey, publicKey, address: p2pkhAddress(publicKey) };
}

/** authorise() that accepts exactly these keys. */
export function allowKeys(...keys: TestKey[]): (publicKey: Uint8Array) => boolean {
  return (publicKey) => keys.some((k) => equalBytes(k.publicKey, publicKey));
}

export function connectionOptions(me: TestKey, ...allowed: TestKey[]): SecretConnectionOptions {
  return { chainId: CHAIN_ID, privateKey: me.privateKey, authorise: allowKeys(...allowed) };
}

export interface Teardown {
  teardown(fn: () => void | Promise<void>): void;
}

/** A TCP server on 127.0.0.1:0 that hands each accepted socket to `onSocket`; closed at teardown. */
export async function listen(t: Teardown, onSocket: (socket: Socket) => void): Promise<{ server: Server; port: number }> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    onSocket(socket);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.teardown(async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  const address = server.address();
  if (address === null || typeof address !== 'object') throw new Error('no port');
  return { server, port: address.port };
}

export async function dial(t: Teardown, port: number): Promise<Socket> {
  const socket = connect({ host: '127.0.0.1', port });
  socket.on('error', () => {});
  t.teardown(() => {
    socket.destroy();
  });
  await once(socket, 'connect');
  return socket;
}

export type Settled<T> = { ok: true; value: T } | { ok: false; error: NetError };

export async function settle<T>(promise: Promise<T>): Promise<Settled<T>> {
  try {
    return { ok: true, value: await promise };
  } catch (err) {
    if (err instanceof NetError) return { ok: false, error: err };
    throw err;
  }
}

/** Runs SecretConnection on both ends of a real loopback TCP connection. */
export async function secretPair(
  t: Teardown,
  server: SecretConnectionOptions,
  client: SecretConnectionOptions,
): Promise<{ server: Settled<SecretConnection>; client: Settled<SecretConnection> }> {
  let serverSide: Promise<SecretConnection> | undefined;
  const { port } = await listen(t, (socket) => {
    serverSide = SecretConnection.handshake(socket, server);
  });
  const clientSide = SecretConnection.handshake(await dial(t, port), client);
  await waitFor('the server to accept', () => serverSide !== undefined);
  const [s, c] = await Promise.all([settle(serverSide!), settle(clientSide)]);
  for (const side of [s, c]) if (side.ok) t.teardown(() => side.value.close());
  return { server: s, client: c };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `predicate` every 10 ms; fails with `what` after `timeoutMs`. */
export async function waitFor(what: string, predicate: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await sleep(10);
  }
}

/** Reads exact byte counts and whole frames from a socket, for hand-driven protocol steps. */
export class SocketReader {
  private readonly buffer = new StreamBuffer();
  private wake: (() => void) | undefined;
  ended = false;

  constructor(readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.buffer.push(chunk);
      this.wake?.();
    });
    socket.on('close', () => {
      this.ended = true;
      this.wake?.();
    });
  }

  async read(n: number): Promise<Uint8Array> {
    while (this.buffer.length < n) {
      if (this.ended) throw new Error(`socket closed with ${this.buffer.length}/${n} bytes`);
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
    return this.buffer.take(n);
  }

  /** One raw wire frame: prefix ‖ ciphertext ‖ tag. */
  async readFrame(): Promise<Uint8Array> {
    const prefix = await this.read(FRAME_PREFIX_LENGTH);
    const length = new DataView(prefix.buffer, prefix.byteOffset, 4).getUint32(0);
    const body = await this.read(length);
    const frame = new Uint8Array(FRAME_PREFIX_LENGTH + length);
    frame.set(prefix, 0);
    frame.set(body, FRAME_PREFIX_LENGTH);
    return frame;
  }

  /** Resolves when the peer closes the socket. */
  async closed(): Promise<void> {
    while (!this.ended) await new Promise<void>((resolve) => (this.wake = resolve));
  }
}

/** What the hand-driven side got out of the key exchange. */
export interface ManualSession {
  reader: SocketReader;
  keys: SessionKeys;
  sealer: FrameSealer;
  opener: FrameOpener;
  peerAuth: AuthMessage;
}

export interface ManualHandshakeOptions {
  chainId?: string;
  /** The key presented in the auth message. */
  presentKey: TestKey;
  /** The key that actually signs the challenge (defaults to presentKey). */
  signWith?: TestKey;
}

/**
 * Performs our side of the handshake by hand over `socket` (an attacker or misbehaving peer).
 * Returns the session, so the caller can then send forged, tampered or replayed frames.
 */
export async function manualHandshake(socket: Socket, o: ManualHandshakeOptions): Promise<ManualSession> {
  const reader = new SocketReader(socket);
  const ephemeral = { ...generateEphemeral(), random: sha256(utf8(`random-${Math.random()}`)) };
  socket.write(encodeHello({ ephemeralPublicKey: ephemeral.publicKey, random: ephemeral.random }));
  const theirs = decodeHello(await reader.read(HELLO_LENGTH));
  const keys = deriveSessionKeys(ephemeral, theirs);
  const sealer = new FrameSealer(keys.sendKey);
  const opener = new FrameOpener(keys.receiveKey);
  const chainId = o.chainId ?? CHAIN_ID;
  const signature = signChallenge(keys.challenge, chainId, (o.signWith ?? o.presentKey).privateKey);
  socket.write(sealer.seal(encodeAuth({ chainId, publicKey: o.presentKey.publicKey, signature })));
  const peerAuth = decodeAuth(opener.open(await reader.readFrame()));
  return { reader, keys, sealer, opener, peerAuth };
}

/** A port that was free a moment ago (bind to 0, read, close): for nodes that must know each other's ports up front. */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address !== 'object') throw new Error('no port');
  return address.port;
}

export interface Inbox {
  messages: { from: string; kind: number; text: string }[];
  connected: string[];
  disconnected: string[];
  texts(from?: string): string[];
}

/** Starts a PeerNetwork for test key `i` on 127.0.0.1 with fast back-off; closed at teardown. */
export async function startNet(
  t: Teardown,
  me: TestKey,
  o: Partial<PeerNetworkOptions> & { allowed: TestKey[]; port?: number; peerPorts?: number[] },
): Promise<{ net: PeerNetwork; inbox: Inbox }> {
  const { allowed, port, peerPorts, ...rest } = o;
  const net = await PeerNetwork.start({
    chainId: CHAIN_ID,
    privateKey: me.privateKey,
    listen: { host: '127.0.0.1', port: port ?? 0 },
    peers: (peerPorts ?? []).map((p) => ({ host: '127.0.0.1', port: p })),
    authorise: allowKeys(...allowed),
    backoff: { baseMs: 20, maxMs: 200 },
    ...rest,
  });
  t.teardown(() => net.close());
  const inbox: Inbox = {
    messages: [],
    connected: [],
    disconnected: [],
    texts(from) {
      return this.messages.filter((m) => from === undefined || m.from === from).map((m) => m.text);
    },
  };
  net.onMessage((from, kind, payload) => inbox.messages.push({ from, kind, text: Buffer.from(payload).toString() }));
  net.onPeerConnected((p) => inbox.connected.push(p));
  net.onPeerDisconnected((p) => inbox.disconnected.push(p));
  return { net, inbox };
}
