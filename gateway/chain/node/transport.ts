// What a validator node needs from its network: typed frames to peers, gossip to all, request/response; and an in-memory hub for tests.
//
// The TCP implementation is gateway/chain/net/peer-network.ts (authenticated, encrypted links between
// processes). MemoryHub connects nodes inside one process, for deterministic unit tests of the node.
export interface ChainTransport {
  /** P2PKH address of this node's key. */
  readonly address: string;
  broadcast(kind: number, payload: Uint8Array): void;
  send(peer: string, kind: number, payload: Uint8Array): void;
  onMessage(handler: (from: string, kind: number, payload: Uint8Array) => void): void;
  onPeerConnected(handler: (peer: string) => void): void;
  request(peer: string, kind: number, payload: Uint8Array, timeoutMs: number): Promise<Uint8Array>;
  onRequest(handler: (from: string, kind: number, payload: Uint8Array) => Promise<Uint8Array>): void;
  connectedPeers(): string[];
  close(): Promise<void>;
}

/** Message kinds on the wire between validators. Never renumbered. */
export const WIRE = {
  proposal: 1,
  vote: 2,
  tx: 3,
  status: 4,
  /** A batch of transactions (tx-gossip.ts); nodes still accept single `tx` frames. */
  txs: 5,
  getBlock: 10,
} as const;

type Handler = (from: string, kind: number, payload: Uint8Array) => void;
type RequestHandler = (from: string, kind: number, payload: Uint8Array) => Promise<Uint8Array>;

/** In-process links between nodes; delivery is asynchronous (next macrotask) like a socket. */
export class MemoryHub {
  private readonly members = new Map<string, MemoryTransport>();
  /** Links (a→b) that drop everything: partitions in tests. */
  readonly blocked = new Set<string>();

  join(address: string): MemoryTransport {
    const t = new MemoryTransport(address, this);
    this.members.set(address, t);
    for (const other of this.members.values()) {
      if (other !== t) {
        other.connected(address);
        t.connected(other.address);
      }
    }
    return t;
  }

  leave(address: string): void {
    this.members.delete(address);
  }

  peersOf(address: string): string[] {
    return [...this.members.keys()].filter((a) => a !== address && this.reachable(address, a));
  }

  reachable(from: string, to: string): boolean {
    return this.members.has(to) && !this.blocked.has(`${from}>${to}`);
  }

  deliver(from: string, to: string, kind: number, payload: Uint8Array): void {
    if (!this.reachable(from, to)) return;
    const copy = payload.slice();
    setImmediate(() => this.members.get(to)?.receive(from, kind, copy));
  }

  async ask(from: string, to: string, kind: number, payload: Uint8Array): Promise<Uint8Array> {
    const target = this.members.get(to);
    if (target === undefined || !this.reachable(from, to)) throw new Error(`${to} unreachable`);
    await new Promise((resolve) => setImmediate(resolve));
    return target.answer(from, kind, payload.slice());
  }
}

export class MemoryTransport implements ChainTransport {
  private handlers: Handler[] = [];
  private connectHandlers: ((peer: string) => void)[] = [];
  private requestHandler: RequestHandler | undefined;

  constructor(readonly address: string, private readonly hub: MemoryHub) {}

  broadcast(kind: number, payload: Uint8Array): void {
    for (const peer of this.hub.peersOf(this.address)) this.hub.deliver(this.address, peer, kind, payload);
  }

  send(peer: string, kind: number, payload: Uint8Array): void {
    this.hub.deliver(this.address, peer, kind, payload);
  }

  onMessage(handler: Handler): void {
    this.handlers.push(handler);
  }

  onPeerConnected(handler: (peer: string) => void): void {
    this.connectHandlers.push(handler);
  }

  request(peer: string, kind: number, payload: Uint8Array, _timeoutMs: number): Promise<Uint8Array> {
    return this.hub.ask(this.address, peer, kind, payload);
  }

  onRequest(handler: RequestHandler): void {
    this.requestHandler = handler;
  }

  connectedPeers(): string[] {
    return this.hub.peersOf(this.address);
  }

  close(): Promise<void> {
    this.hub.leave(this.address);
    return Promise.resolve();
  }

  receive(from: string, kind: number, payload: Uint8Array): void {
    for (const h of this.handlers) h(from, kind, payload);
  }

  connected(peer: string): void {
    for (const h of this.connectHandlers) setImmediate(() => h(peer));
  }

  answer(from: string, kind: number, payload: Uint8Array): Promise<Uint8Array> {
    if (this.requestHandler === undefined) return Promise.reject(new Error('no request handler'));
    return this.requestHandler(from, kind, payload);
  }
}
