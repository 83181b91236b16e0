// One authenticated link to a peer inside the peer network: envelope framing, a bounded send queue and traffic counters.
//
// Back-pressure: frames are sealed and written only while the socket's own buffer is below a
// high-water mark; the rest wait in a FIFO. Gossip beyond `maxQueuedGossip` is dropped oldest
// first (and counted) because a newer vote or block part supersedes an older one far more often
// than not; requests and responses are never dropped, since someone is waiting for them.
import { decodeEnvelope, encodeEnvelope, type Envelope } from './envelope.js';
import { NetError } from './errors.js';
import { FRAME_PREFIX_LENGTH, GCM_TAG_LENGTH } from './frame-cipher.js';
import type { SecretConnection } from './secret-connection.js';

export interface SendQueueLimits {
  /** Gossip frames waiting for the socket before the oldest is dropped. */
  maxQueuedGossip: number;
  /** Bytes the socket may buffer before frames wait in the queue instead. */
  highWaterBytes: number;
}

export const DEFAULT_SEND_QUEUE_LIMITS: SendQueueLimits = { maxQueuedGossip: 1024, highWaterBytes: 1024 * 1024 };

/** Traffic of one peer, kept across its reconnections. */
export interface PeerStats {
  framesIn: number;
  framesOut: number;
  /** Wire bytes, length prefix and AEAD tag included. */
  bytesIn: number;
  bytesOut: number;
  droppedQueueFull: number;
  droppedByFaultsOnSend: number;
  droppedByFaultsOnReceive: number;
  delayedByFaults: number;
  /** send()/broadcast() while no link was up. */
  droppedNotConnected: number;
  connects: number;
}

export function emptyPeerStats(): PeerStats {
  return {
    framesIn: 0, framesOut: 0, bytesIn: 0, bytesOut: 0, droppedQueueFull: 0, droppedByFaultsOnSend: 0,
    droppedByFaultsOnReceive: 0, delayedByFaults: 0, droppedNotConnected: 0, connects: 0,
  };
}

const FRAME_OVERHEAD = FRAME_PREFIX_LENGTH + GCM_TAG_LENGTH;

interface Queued {
  plaintext: Uint8Array;
  droppable: boolean;
}

export class PeerLink {
  readonly address: string;
  private queue: Queued[] = [];
  private queuedGossip = 0;
  private closed = false;

  constructor(
    readonly connection: SecretConnection,
    /** P2PKH address of the side that dialled this TCP connection (the tie-break key). */
    readonly dialledBy: string,
    /** Increases with every link the network adopts: "newer" in tie-breaks. */
    readonly sequence: number,
    private readonly stats: PeerStats,
    private readonly limits: SendQueueLimits,
  ) {
    this.address = connection.remoteAddress;
    connection.socket.on('drain', () => this.flush());
    connection.onClose(() => {
      this.closed = true;
      this.queue = [];
      this.queuedGossip = 0;
    });
  }

  /**
   * Starts delivering envelopes. A frame whose envelope is malformed closes the link (BAD_FRAME):
   * the peer is authenticated, so garbage is a bug or hostility, not line noise.
   */
  onEnvelope(handler: (envelope: Envelope) => void): void {
    this.connection.onFrame((plaintext) => {
      this.stats.framesIn++;
      this.stats.bytesIn += plaintext.length + FRAME_OVERHEAD;
      let envelope: Envelope;
      try {
        envelope = decodeEnvelope(plaintext);
      } catch (err) {
        this.close(err instanceof NetError ? err : new NetError('BAD_FRAME', String(err)));
        return;
      }
      handler(envelope);
    });
  }

  onClose(handler: (error: NetError) => void): void {
    this.connection.onClose(handler);
  }

  get queuedFrames(): number {
    return this.queue.length;
  }

  /** Queues an envelope; never blocks. Gossip may be dropped later under back-pressure. */
  enqueue(envelope: Envelope): void {
    if (this.closed) return;
    const droppable = envelope.type === 'message';
    this.queue.push({ plaintext: encodeEnvelope(envelope), droppable });
    if (droppable) this.queuedGossip++;
    while (this.queuedGossip > this.limits.maxQueuedGossip) {
      const oldest = this.queue.findIndex((q) => q.droppable);
      this.queue.splice(oldest, 1);
      this.queuedGossip--;
      this.stats.droppedQueueFull++;
    }
    this.flush();
  }

  close(reason: NetError): void {
    this.connection.close(reason);
  }

  /**
   * Closes a link that lost a duplicate tie-break and hands back what it had not yet written, so
   * the winning link sends it. Already-written frames are flushed before the FIN (graceful close).
   */
  retire(reason: NetError): Envelope[] {
    const unsent = this.queue.map((q) => decodeEnvelope(q.plaintext));
    this.queue = [];
    this.queuedGossip = 0;
    this.connection.close(reason, { graceful: true });
    return unsent;
  }

  private flush(): void {
    let sent = 0;
    while (!this.closed && sent < this.queue.length && this.connection.writableLength < this.limits.highWaterBytes) {
      const next = this.queue[sent++]!;
      try {
        this.connection.send(next.plaintext);
      } catch {
        // CLOSED or NONCE_EXHAUSTED: the connection has closed itself and its close handler runs.
        return;
      }
      if (next.droppable) this.queuedGossip--;
      this.stats.framesOut++;
      this.stats.bytesOut += next.plaintext.length + FRAME_OVERHEAD;
    }
    if (sent > 0) this.queue.splice(0, sent);
  }
}
