// Secret connection over real loopback TCP: handshake, framing, and the attacks it must refuse.
import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import t from 'tap';
import { NetError } from '../../../../gateway/chain/net/errors.js';
import { FrameOpener, FrameSealer, MAX_FRAME_PLAINTEXT } from '../../../../gateway/chain/net/frame-cipher.js';
import { decodeHello, deriveSessionKeys, encodeHello, generateEphemeral, HELLO_LENGTH } from '../../../../gateway/chain/net/handshake.js';
import { SecretConnection } from '../../../../gateway/chain/net/secret-connection.js';
import { utf8 } from '../../../../protocol/wire.js';
import {
  allowKeys,
  CHAIN_ID,
  connectionOptions,
  dial,
  listen,
  manualHandshake,
  secretPair,
  settle,
  SocketReader,
  testKey,
  waitFor,
  type Settled,
  type Teardown,
} from './helpers.js';

const A = testKey(1);
const B = testKey(2);
const C = testKey(3);

function collect(conn: SecretConnection): { frames: Uint8Array[]; closed: NetError[] } {
  const out = { frames: [] as Uint8Array[], closed: [] as NetError[] };
  conn.onFrame((f) => out.frames.push(f));
  conn.onClose((e) => out.closed.push(e));
  return out;
}

function codeOf(side: Settled<SecretConnection>): string {
  return side.ok ? 'ok' : side.error.code;
}

/** A server running the real SecretConnection; each accepted handshake's outcome is recorded. */
async function realServer(tt: Teardown, options = connectionOptions(A, B)) {
  const outcomes: Promise<Settled<SecretConnection>>[] = [];
  const { port } = await listen(tt, (socket) => {
    const outcome = settle(SecretConnection.handshake(socket, options));
    outcomes.push(outcome);
    void outcome.then((o) => {
      if (o.ok) tt.teardown(() => o.value.close());
    });
  });
  return {
    port,
    async outcome(i = 0): Promise<Settled<SecretConnection>> {
      await waitFor('an accepted connection', () => outcomes.length > i);
      return outcomes[i]!;
    },
  };
}

t.test('handshake: both sides learn the peer address; frames both ways; a frame at the size limit', async (t) => {
  const { server, client } = await secretPair(t, connectionOptions(A, B), connectionOptions(B, A));
  if (!server.ok || !client.ok) throw new Error(`handshake failed: ${codeOf(server)} / ${codeOf(client)}`);
  t.equal(server.value.remoteAddress, B.address, 'server knows the client address');
  t.equal(client.value.remoteAddress, A.address, 'client knows the server address');
  t.same([...server.value.remotePublicKey], [...B.publicKey]);
  const atServer = collect(server.value);
  const atClient = collect(client.value);
  client.value.send(utf8('ping'));
  server.value.send(utf8('pong'));
  const big = new Uint8Array(randomBytes(MAX_FRAME_PLAINTEXT));
  client.value.send(big);
  let tooLarge: unknown;
  try {
    client.value.send(new Uint8Array(MAX_FRAME_PLAINTEXT + 1));
  } catch (err) {
    tooLarge = err;
  }
  t.ok(tooLarge instanceof NetError && tooLarge.code === 'FRAME_TOO_LARGE', 'an oversized send is refused locally');
  client.value.send(utf8('after'));
  await waitFor('frames at the server', () => atServer.frames.length === 3);
  await waitFor('frame at the client', () => atClient.frames.length === 1);
  t.equal(Buffer.from(atServer.frames[0]!).toString(), 'ping');
  t.equal(Buffer.from(atClient.frames[0]!).toString(), 'pong');
  t.ok(Buffer.from(atServer.frames[1]!).equals(big), 'the 4 MiB frame arrives intact');
  t.equal(Buffer.from(atServer.frames[2]!).toString(), 'after', 'the link survived the refused send');
  t.same(atServer.closed, [], 'no close');
  client.value.close();
  await waitFor('server sees the close', () => atServer.closed.length === 1);
  t.equal(atServer.closed[0]!.code, 'CLOSED');
});

t.test('a key that authorise() does not know is refused', async (t) => {
  const { server, client } = await secretPair(t, connectionOptions(A, C), connectionOptions(B, A));
  t.equal(codeOf(server), 'UNAUTHORISED');
  if (client.ok) {
    const seen = collect(client.value);
    await waitFor('the refused client to be disconnected', () => seen.closed.length === 1);
    t.pass('the client was disconnected');
  } else {
    t.equal(client.error.code, 'HANDSHAKE_FAILED', 'the client saw the socket closed mid-handshake');
  }
});

t.test('a peer on another chain id is refused by both sides', async (t) => {
  const { server, client } = await secretPair(t, connectionOptions(A, B), { ...connectionOptions(B, A), chainId: 'other-chain' });
  t.equal(codeOf(server), 'WRONG_CHAIN');
  t.equal(codeOf(client), 'WRONG_CHAIN');
});

t.test('a peer presenting one key but signing the challenge with another is refused', async (t) => {
  const server = await realServer(t, connectionOptions(A, B, C));
  const socket = await dial(t, server.port);
  await manualHandshake(socket, { presentKey: B, signWith: C }).catch(() => undefined);
  t.equal(codeOf(await server.outcome()), 'HANDSHAKE_FAILED');
});

t.test('a relay in the middle that swaps the ephemerals cannot complete the handshake', async (t) => {
  const target = await realServer(t, connectionOptions(A, B));
  let relayedAuths = 0;
  const { port } = await listen(t, (clientSocket) => {
    void (async () => {
      const serverSocket = await dial(t, target.port);
      const fromClient = new SocketReader(clientSocket);
      const fromServer = new SocketReader(serverSocket);
      const towardClient = { ...generateEphemeral(), random: new Uint8Array(randomBytes(32)) };
      const towardServer = { ...generateEphemeral(), random: new Uint8Array(randomBytes(32)) };
      clientSocket.write(encodeHello({ ephemeralPublicKey: towardClient.publicKey, random: towardClient.random }));
      serverSocket.write(encodeHello({ ephemeralPublicKey: towardServer.publicKey, random: towardServer.random }));
      const keysClient = deriveSessionKeys(towardClient, decodeHello(await fromClient.read(HELLO_LENGTH)));
      const keysServer = deriveSessionKeys(towardServer, decodeHello(await fromServer.read(HELLO_LENGTH)));
      // The relay decrypts each side's auth frame and re-encrypts it for the other: all it cannot
      // do is make the two challenges (one per key exchange) equal.
      const relay = async (from: SocketReader, fromKeys: typeof keysClient, to: Socket, toKeys: typeof keysClient) => {
        const auth = new FrameOpener(fromKeys.receiveKey).open(await from.readFrame());
        relayedAuths++;
        to.write(new FrameSealer(toKeys.sendKey).seal(auth));
      };
      await Promise.all([relay(fromClient, keysClient, serverSocket, keysServer), relay(fromServer, keysServer, clientSocket, keysClient)]);
    })().catch(() => undefined);
  });
  const client = await settle(SecretConnection.handshake(await dial(t, port), connectionOptions(B, A)));
  t.equal(codeOf(await target.outcome()), 'HANDSHAKE_FAILED', 'the server refuses');
  t.equal(codeOf(client), 'HANDSHAKE_FAILED', 'the client refuses');
  t.equal(relayedAuths, 2, 'the relay did read and forward both auth messages');
});

async function establishedManual(tt: Teardown) {
  const server = await realServer(tt);
  const socket = await dial(tt, server.port);
  const session = await manualHandshake(socket, { presentKey: B });
  const outcome = await server.outcome();
  if (!outcome.ok) throw new Error(`handshake failed: ${outcome.error.code}`);
  return { socket, session, conn: outcome.value, seen: collect(outcome.value) };
}

t.test('a tampered ciphertext byte drops the connection with BAD_FRAME', async (t) => {
  const { socket, session, seen } = await establishedManual(t);
  socket.write(session.sealer.seal(utf8('first')));
  const frame = session.sealer.seal(utf8('second'));
  frame[6]! ^= 0x01;
  socket.write(frame);
  await waitFor('close', () => seen.closed.length === 1);
  t.equal(seen.closed[0]!.code, 'BAD_FRAME');
  t.same(seen.frames.map((f) => Buffer.from(f).toString()), ['first'], 'only the intact frame was delivered');
  await session.reader.closed();
  t.pass('the socket was closed');
});

t.test('a replayed frame drops the connection with BAD_FRAME', async (t) => {
  const { socket, session, seen } = await establishedManual(t);
  const frame = session.sealer.seal(utf8('pay once'));
  socket.write(frame);
  socket.write(frame);
  await waitFor('close', () => seen.closed.length === 1);
  t.equal(seen.closed[0]!.code, 'BAD_FRAME');
  t.equal(seen.frames.length, 1, 'delivered exactly once');
});

t.test('an oversized length prefix is refused before any body is read', async (t) => {
  const { socket, seen } = await establishedManual(t);
  socket.write(Uint8Array.of(0xff, 0xff, 0xff, 0xff));
  await waitFor('close', () => seen.closed.length === 1);
  t.equal(seen.closed[0]!.code, 'FRAME_TOO_LARGE');

  const server = await realServer(t);
  const raw = await dial(t, server.port);
  const eph = generateEphemeral();
  raw.write(encodeHello({ ephemeralPublicKey: eph.publicKey, random: new Uint8Array(32) }));
  raw.write(Uint8Array.of(0x00, 0x40, 0x00, 0x11)); // 4 MiB + 17: one byte over the limit, in place of the auth frame
  t.equal(codeOf(await server.outcome()), 'FRAME_TOO_LARGE', 'also during the handshake');
  const eager = await dial(t, server.port);
  eager.write(encodeHello({ ephemeralPublicKey: generateEphemeral().publicKey, random: new Uint8Array(32) }));
  eager.write(Uint8Array.of(0x00, 0x01, 0x00, 0x00)); // 64 KiB: allowed later, not for an auth frame
  t.equal(codeOf(await server.outcome(1)), 'FRAME_TOO_LARGE', 'an unauthenticated peer cannot make us buffer a big frame');
});

t.test('garbage instead of a handshake is refused', async (t) => {
  const server = await realServer(t);
  const http = await dial(t, server.port);
  http.write(utf8(`GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: curl/8.5.0\r\nAccept: */*\r\n\r\n`));
  t.equal(codeOf(await server.outcome(0)), 'HANDSHAKE_FAILED', 'an HTTP request');
  const badPoint = await dial(t, server.port);
  const hello = new Uint8Array(HELLO_LENGTH).fill(0xff); // x = 2^256 - 1 ≥ p: no such point
  hello[0] = 1;
  hello[1] = 0x02;
  badPoint.write(hello);
  t.equal(codeOf(await server.outcome(1)), 'HANDSHAKE_FAILED', 'a hello whose ephemeral is not a curve point');
  const hangUp = await dial(t, server.port);
  hangUp.end(Uint8Array.of(1, 2, 3));
  t.equal(codeOf(await server.outcome(2)), 'HANDSHAKE_FAILED', 'a few bytes and a hang-up');
});

t.test('a silent client hits the handshake timeout', async (t) => {
  const server = await realServer(t, { ...connectionOptions(A, B), handshakeTimeoutMs: 200 });
  const silent = await dial(t, server.port);
  const reader = new SocketReader(silent);
  const outcome = await server.outcome();
  t.equal(codeOf(outcome), 'HANDSHAKE_TIMEOUT');
  t.ok(!outcome.ok && outcome.error.temporary, 'a timeout is temporary');
  await reader.closed();
  t.pass('the server closed the socket');
});

t.test('connecting to ourselves is refused', async (t) => {
  const self = { ...connectionOptions(A, A) };
  const { server, client } = await secretPair(t, self, self);
  t.equal(codeOf(server), 'SELF_CONNECTION', 'same long-term key, accepting side');
  t.equal(codeOf(client), 'SELF_CONNECTION', 'same long-term key, dialling side');

  const { port } = await listen(t, (socket) => socket.pipe(socket)); // a reflector
  const reflected = await settle(SecretConnection.handshake(await dial(t, port), connectionOptions(A, B)));
  t.equal(codeOf(reflected), 'SELF_CONNECTION', 'our own hello reflected back');
});

t.test('the link closes before a frame counter could be reused', async (t) => {
  const limits = { maxFrames: 3 };
  const { server, client } = await secretPair(t, { ...connectionOptions(A, B), limits }, { ...connectionOptions(B, A), limits });
  if (!server.ok || !client.ok) throw new Error('handshake failed');
  const atServer = collect(server.value);
  client.value.send(utf8('1'));
  client.value.send(utf8('2')); // frame 0 was the auth message: counters 1 and 2 are the last
  let error: unknown;
  try {
    client.value.send(utf8('3'));
  } catch (err) {
    error = err;
  }
  t.ok(error instanceof NetError && error.code === 'NONCE_EXHAUSTED', 'the fourth frame is refused');
  t.notOk(client.value.isOpen, 'and the link is closed');
  await waitFor('server close', () => atServer.closed.length === 1);
  t.equal(atServer.frames.length, 2);
});

t.test('frames that arrive before a handler is set are kept in order', async (t) => {
  const { server, client } = await secretPair(t, connectionOptions(A, B), connectionOptions(B, A));
  if (!server.ok || !client.ok) throw new Error('handshake failed');
  for (let i = 0; i < 5; i++) client.value.send(utf8(`m${i}`));
  await waitFor('bytes to arrive', () => server.value.bytesIn > 5 * 20);
  const seen = collect(server.value);
  await waitFor('all frames', () => seen.frames.length === 5);
  t.same(seen.frames.map((f) => Buffer.from(f).toString()), ['m0', 'm1', 'm2', 'm3', 'm4']);
});

t.test('authorise sees the authenticated key', async (t) => {
  const seenKeys: string[] = [];
  const authorise = allowKeys(B);
  const { server } = await secretPair(
    t,
    { chainId: CHAIN_ID, privateKey: A.privateKey, authorise: (k) => (seenKeys.push(Buffer.from(k).toString('hex')), authorise(k)) },
    connectionOptions(B, A),
  );
  t.ok(server.ok);
  t.same(seenKeys, [Buffer.from(B.publicKey).toString('hex')]);
});
