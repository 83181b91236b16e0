// The validator's peer-to-peer transport: listens, dials, keeps one secret connection per peer, gossips and answers requests.
//
// The node hands over opaque (kind, payload) pairs; nothing here interprets them. Links are
// authenticated by long-term keys (secret-connection.ts), so a peer is named by the P2PKH address
// of its key. When two links to one peer exist (both dialled at once, or a restart), both ends
// keep the one dialled by the lower address, so they agree without talking about it.
import { createServer, type Server, type Socket } from 'node:net';
import { p2pkhAddress } from '../../../protocol/address.js';
import { publicKeyFromPrivate } from '../../../protocol/signature.js';
import type { LogFn } from '../../log.js';
import { DEFAULT_BACKOFF, Dialer, type BackoffOptions, type DialTarget } from './dialer.js';
import { MAX_PAYLOAD, type Envelope } from './envelope.js';
import { NetError } from './errors.js';
import { FaultPolicy, type FaultDirection } from './fault-policy.js';
import type { FrameLimits } from './frame-cipher.js';
import { DEFAULT_SEND_QUEUE_LIMITS, emptyPeerStats, PeerLink, type PeerStats, type SendQueueLimits } from './peer-link.js';
import { SecretConnection, type SecretConnectionOptions } from './secret-connection.js';

export interface PeerNetworkOptions {
  chainId: string;
  /** Long-term key; the network's address is its P2PKH address. */
  privateKey: Uint8Array;
  /** Where to accept connections; omit for a dial-only node (an observer). Port 0 picks a free port. */
  listen?: { host: string; port: number };
  /** Dialled, each kept reconnecting with capped, jittered back-off. */
  peers: DialTarget[];
  /** Which authenticated keys may connect (known validators, configured observers). */
  authorise(publicKey: Uint8Array): boolean;
  log?: LogFn;
  faults?: FaultPolicy;
  handshakeTimeoutMs?: number;
  backoff?: Partial<BackoffOptions>;
  sendQueue?: Partial<SendQueueLimits>;
  /** Incoming connections still in their handshake; more are refused at once. */
  maxPendingHandshakes?: number;
  /** Tests only: shrink frame limits. */
  frameLimits?: Partial<FrameLimits>;
}

export type MessageHandler = (from: string, kind: number, payload: Uint8Array) => void;
export type RequestHandler = (from: string, kind: number, payload: Uint8Array) => Promise<Uint8Array>;

export interface NetworkStats {
  peers: Record<string, PeerStats & { connected: boolean; queuedFrames: number; link?: LinkInfo }>;
  totals: PeerStats;
  handshakesFailed: number;
  duplicateLinksClosed: number;
  staleResponses: number;
}

/** Which TCP connection carries a peer's link: both ends of one link report mirrored ports. */
export interface LinkInfo {
  dialledBy: string;
  localPort: number;
  remotePort: number;
}

interface PendingRequest {
  peer: string;
  resolve(payload: Uint8Array): void;
  reject(err: NetError): void;
  timer: NodeJS.Timeout;
}

const noLog: LogFn = () => {};

export class PeerNetwork {
  /** P2PKH address of our key: how peers name us. */
  readonly address: string;
  readonly faults: FaultPolicy;

  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  private readonly links = new Map<string, PeerLink>();
  private readonly peerStats = new Map<string, PeerStats>();
  private readonly dialers: Dialer[] = [];
  private readonly disconnectWaiters = new Map<string, (() => void)[]>();
  private readonly pending = new Map<number, PendingRequest>();
  private readonly faultTimers = new Set<NodeJS.Timeout>();
  private readonly messageHandlers: MessageHandler[] = [];
  private readonly connectedHandlers: ((peer: string) => void)[] = [];
  private readonly disconnectedHandlers: ((peer: string) => void)[] = [];
  private requestHandler: RequestHandler | undefined;
  private readonly handshakeOptions: SecretConnectionOptions;
  private readonly log: LogFn;
  private readonly sendQueue: SendQueueLimits;
  private nextRequestId = 1;
  private linkSequence = 0;
  private pendingHandshakes = 0;
  private closed = false;
  private counters = { handshakesFailed: 0, duplicateLinksClosed: 0, staleResponses: 0 };

  private constructor(private readonly options: PeerNetworkOptions) {
    this.address = p2pkhAddress(publicKeyFromPrivate(options.privateKey));
    this.faults = options.faults ?? new FaultPolicy();
    this.log = options.log ?? noLog;
    this.sendQueue = { ...DEFAULT_SEND_QUEUE_LIMITS, ...options.sendQueue };
    this.handshakeOptions = {
      chainId: options.chainId,
      privateKey: options.privateKey,
      authorise: (publicKey) => options.authorise(publicKey),
      ...(options.handshakeTimeoutMs === undefined ? {} : { handshakeTimeoutMs: options.handshakeTimeoutMs }),
      ...(options.frameLimits === undefined ? {} : { limits: options.frameLimits }),
    };
  }

  /** Listens (if asked) and starts dialling every configured peer. Resolves once listening. */
  static async start(options: PeerNetworkOptions): Promise<PeerNetwork> {
    const network = new PeerNetwork(options);
    if (options.listen !== undefined) await network.listen(options.listen);
    const backoff = { ...DEFAULT_BACKOFF, ...options.backoff };
    for (const target of options.peers) {
      network.dialers.push(
        new Dialer(target, {
          handshakeOptions: network.handshakeOptions,
          backoff,
          log: network.log,
          adopt: (connection) => network.adopt(connection, true),
          isConnected: (address) => network.links.has(address),
          disconnected: (address) => network.whenDisconnected(address),
        }),
      );
    }
    return network;
  }

  /** The port actually listened on (0 for a dial-only network). */
  get port(): number {
    const address = this.server?.address();
    return address !== null && typeof address === 'object' ? address.port : 0;
  }

  /** Queues a gossip frame to every connected peer (subject to faults and back-pressure). */
  broadcast(kind: number, payload: Uint8Array): void {
    checkOutgoing(kind, payload);
    for (const peer of this.links.keys()) this.transmit(peer, { type: 'message', kind, payload });
  }

  /** Queues a gossip frame to one peer; false (and counted) if it is not connected right now. */
  send(peer: string, kind: number, payload: Uint8Array): boolean {
    checkOutgoing(kind, payload);
    if (!this.links.has(peer)) {
      this.statsOf(peer).droppedNotConnected++;
      return false;
    }
    this.transmit(peer, { type: 'message', kind, payload });
    return true;
  }

  onMessage(handler: MessageHandler): void {
    this.messageHandlers.push(handler);
  }

  onPeerConnected(handler: (peer: string) => void): void {
    this.connectedHandlers.push(handler);
  }

  onPeerDisconnected(handler: (peer: string) => void): void {
    this.disconnectedHandlers.push(handler);
  }

  /**
   * Asks one peer and waits for its answer. Rejects with NOT_CONNECTED, REQUEST_TIMEOUT (also when
   * faults ate the request or the answer), REQUEST_FAILED (the peer's handler failed, its message
   * included) or CLOSED (the peer disconnected, or we closed).
   */
  request(peer: string, kind: number, payload: Uint8Array, timeoutMs: number): Promise<Uint8Array> {
    checkOutgoing(kind, payload);
    if (this.closed) return Promise.reject(new NetError('CLOSED', 'network closed'));
    if (!this.links.has(peer)) return Promise.reject(new NetError('NOT_CONNECTED', `no link to ${peer}`, { temporary: true }));
    const id = this.allocateRequestId();
    return new Promise<Uint8Array>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new NetError('REQUEST_TIMEOUT', `no response from ${peer} within ${timeoutMs} ms`, { temporary: true, mayHaveSucceeded: true }));
      }, timeoutMs);
      this.pending.set(id, { peer, resolve, reject, timer });
      this.transmit(peer, { type: 'request', kind, id, payload });
    });
  }

  /** The single handler that answers requests; without one, requests fail with "no request handler". */
  onRequest(handler: RequestHandler): void {
    this.requestHandler = handler;
  }

  connectedPeers(): string[] {
    return [...this.links.keys()].sort();
  }

  stats(): NetworkStats {
    const totals = emptyPeerStats();
    const peers: NetworkStats['peers'] = {};
    for (const [address, s] of this.peerStats) {
      const link = this.links.get(address);
      peers[address] = { ...s, connected: link !== undefined, queuedFrames: link?.queuedFrames ?? 0 };
      if (link !== undefined) {
        const { localPort = 0, remotePort = 0 } = link.connection.socket;
        peers[address].link = { dialledBy: link.dialledBy, localPort, remotePort };
      }
      for (const key of Object.keys(totals) as (keyof PeerStats)[]) totals[key] += s[key];
    }
    return { peers, totals, ...this.counters };
  }

  /** Stops dialling and listening, closes every link, fails pending requests with CLOSED. No callbacks afterwards. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const dialer of this.dialers) dialer.stop();
    const serverClosed = new Promise<void>((resolve) => {
      if (this.server === undefined) resolve();
      else this.server.close(() => resolve());
    });
    for (const link of this.links.values()) link.close(new NetError('CLOSED', 'network closed'));
    this.links.clear();
    for (const socket of this.sockets) socket.destroy();
    for (const timer of this.faultTimers) clearTimeout(timer);
    this.faultTimers.clear();
    for (const [id, request] of this.pending) {
      clearTimeout(request.timer);
      request.reject(new NetError('CLOSED', 'network closed'));
      this.pending.delete(id);
    }
    for (const waiters of this.disconnectWaiters.values()) for (const wake of waiters) wake();
    this.disconnectWaiters.clear();
    await Promise.all([serverClosed, ...this.dialers.map((d) => d.done)]);
  }

  private async listen(at: { host: string; port: number }): Promise<void> {
    const server = createServer((socket) => this.accept(socket));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(at.port, at.host, () => {
        server.removeListener('error', reject);
        resolve();
      });
    });
    server.on('error', (err) => this.log('error', 'listener error', { error: err.message }));
  }

  private accept(socket: Socket): void {
    if (this.closed || this.pendingHandshakes >= (this.options.maxPendingHandshakes ?? 64)) {
      socket.destroy();
      return;
    }
    this.pendingHandshakes++;
    this.track(socket);
    SecretConnection.handshake(socket, this.handshakeOptions).then(
      (connection) => {
        this.pendingHandshakes--;
        void this.adopt(connection, false);
      },
      (err: NetError) => {
        this.pendingHandshakes--;
        this.counters.handshakesFailed++;
        this.log('debug', 'incoming handshake failed', { code: err.code, error: err.message, remote: `${socket.remoteAddress}:${socket.remotePort}` });
      },
    );
  }

  private track(socket: Socket): void {
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
  }

  /**
   * Makes an authenticated connection the peer's link, or closes it as a duplicate.
   * Resolves when this connection has closed (the dialer waits on it).
   */
  private adopt(connection: SecretConnection, dialledByUs: boolean): Promise<void> {
    const closed = new Promise<void>((resolve) => connection.onClose(() => resolve()));
    this.track(connection.socket);
    const peer = connection.remoteAddress;
    if (this.closed) {
      connection.close(new NetError('CLOSED', 'network closed'));
      return closed;
    }
    const stats = this.statsOf(peer);
    const link = new PeerLink(connection, dialledByUs ? this.address : peer, ++this.linkSequence, stats, this.sendQueue);
    const existing = this.links.get(peer);
    if (existing !== undefined) {
      const loser = this.preferred(link, existing) ? existing : link;
      this.counters.duplicateLinksClosed++;
      this.log('debug', 'duplicate link closed', { peer, keptDialledBy: (loser === link ? existing : link).dialledBy });
      if (loser === link) {
        link.close(new NetError('DUPLICATE_PEER', `already connected to ${peer}`));
        return closed;
      }
      this.links.set(peer, link);
      for (const envelope of existing.retire(new NetError('DUPLICATE_PEER', `replaced by a preferred link to ${peer}`))) link.enqueue(envelope);
    } else {
      this.links.set(peer, link);
      stats.connects++;
      this.log('info', 'peer connected', { peer, dialledByUs });
      for (const handler of this.connectedHandlers) this.safely(() => handler(peer));
    }
    link.onClose((error) => this.onLinkClosed(link, error));
    link.onEnvelope((envelope) => this.receive(peer, envelope));
    return closed;
  }

  /** Deterministic on both ends: the link dialled by the lower address wins; between equals, the newer one. */
  private preferred(candidate: PeerLink, existing: PeerLink): boolean {
    const lower = this.address < candidate.address ? this.address : candidate.address;
    const candidateLower = candidate.dialledBy === lower;
    const existingLower = existing.dialledBy === lower;
    if (candidateLower !== existingLower) return candidateLower;
    return candidate.sequence > existing.sequence;
  }

  private onLinkClosed(link: PeerLink, error: NetError): void {
    const peer = link.address;
    if (this.closed || this.links.get(peer) !== link) return;
    this.links.delete(peer);
    this.log('info', 'peer disconnected', { peer, code: error.code, error: error.message });
    for (const [id, request] of this.pending) {
      if (request.peer !== peer) continue;
      clearTimeout(request.timer);
      this.pending.delete(id);
      request.reject(new NetError('CLOSED', `link to ${peer} closed before the response`, { temporary: true, mayHaveSucceeded: true, cause: error }));
    }
    const waiters = this.disconnectWaiters.get(peer) ?? [];
    this.disconnectWaiters.delete(peer);
    for (const wake of waiters) wake();
    for (const handler of this.disconnectedHandlers) this.safely(() => handler(peer));
  }

  private whenDisconnected(peer: string): Promise<void> {
    if (this.closed || !this.links.has(peer)) return Promise.resolve();
    return new Promise((resolve) => {
      const list = this.disconnectWaiters.get(peer) ?? [];
      list.push(resolve);
      this.disconnectWaiters.set(peer, list);
    });
  }

  /** Applies send-side faults, then queues on the peer's current link. */
  private transmit(peer: string, envelope: Envelope): void {
    this.withFaults(peer, 'send', () => {
      const link = this.links.get(peer);
      if (link === undefined) this.statsOf(peer).droppedNotConnected++;
      else link.enqueue(envelope);
    });
  }

  private receive(from: string, envelope: Envelope): void {
    this.withFaults(from, 'receive', () => this.dispatch(from, envelope));
  }

  private withFaults(peer: string, direction: FaultDirection, action: () => void): void {
    const decision = this.faults.decide(peer, direction);
    const stats = this.statsOf(peer);
    if (decision.action === 'drop') {
      if (direction === 'send') stats.droppedByFaultsOnSend++;
      else stats.droppedByFaultsOnReceive++;
      return;
    }
    if (decision.delayMs === 0) {
      action();
      return;
    }
    stats.delayedByFaults++;
    const timer = setTimeout(() => {
      this.faultTimers.delete(timer);
      if (!this.closed) action();
    }, decision.delayMs);
    this.faultTimers.add(timer);
  }

  private dispatch(from: string, envelope: Envelope): void {
    if (this.closed) return;
    switch (envelope.type) {
      case 'message':
        for (const handler of this.messageHandlers) this.safely(() => handler(from, envelope.kind, envelope.payload));
        return;
      case 'request':
        this.answer(from, envelope.kind, envelope.id, envelope.payload);
        return;
      case 'response':
      case 'error': {
        const request = this.pending.get(envelope.id);
        if (request === undefined || request.peer !== from) {
          this.counters.staleResponses++;
          return;
        }
        this.pending.delete(envelope.id);
        clearTimeout(request.timer);
        if (envelope.type === 'response') request.resolve(envelope.payload);
        else request.reject(new NetError('REQUEST_FAILED', `${from} could not answer: ${envelope.message}`, { mayHaveSucceeded: true }));
        return;
      }
    }
  }

  private answer(from: string, kind: number, id: number, payload: Uint8Array): void {
    const handler = this.requestHandler;
    const reply = (envelope: Envelope): void => {
      if (!this.closed && this.links.has(from)) this.transmit(from, envelope);
    };
    if (handler === undefined) {
      reply({ type: 'error', kind, id, message: 'no request handler' });
      return;
    }
    let answer: Promise<Uint8Array>;
    try {
      answer = handler(from, kind, payload);
    } catch (err) {
      answer = Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
    answer.then(
      (response) => {
        if (!(response instanceof Uint8Array) || response.length > MAX_PAYLOAD) {
          reply({ type: 'error', kind, id, message: 'response is not a Uint8Array within the frame limit' });
        } else {
          reply({ type: 'response', kind, id, payload: response });
        }
      },
      (err: unknown) => reply({ type: 'error', kind, id, message: err instanceof Error ? err.message : String(err) }),
    );
  }

  private allocateRequestId(): number {
    // u32 ids wrap; an id still pending after 2^32 requests is skipped rather than reused.
    do {
      this.nextRequestId = this.nextRequestId >= 0xffffffff ? 1 : this.nextRequestId + 1;
    } while (this.pending.has(this.nextRequestId));
    return this.nextRequestId;
  }

  private statsOf(peer: string): PeerStats {
    let stats = this.peerStats.get(peer);
    if (stats === undefined) {
      stats = emptyPeerStats();
      this.peerStats.set(peer, stats);
    }
    return stats;
  }

  /** A node callback that throws must not take the transport down with it. */
  private safely(callback: () => void): void {
    try {
      callback();
    } catch (err) {
      this.log('error', 'handler threw', { error: err instanceof Error ? err.message : String(err) });
    }
  }
}

function checkOutgoing(kind: number, payload: Uint8Array): void {
  if (!Number.isInteger(kind) || kind < 0 || kind > 0xff) throw new RangeError(`kind must be a u8, got ${kind}`);
  if (!(payload instanceof Uint8Array)) throw new TypeError('payload must be a Uint8Array');
  if (payload.length > MAX_PAYLOAD) throw new NetError('FRAME_TOO_LARGE', `payload of ${payload.length} bytes exceeds ${MAX_PAYLOAD}`);
}
