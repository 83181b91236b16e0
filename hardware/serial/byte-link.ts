// The byte-stream seam under every serial device: a real serial port, a simulator in-process, or a pty.
//
// Cancellation rules: `close()` is idempotent and resolves once no more data will be delivered;
// after the link closes (by `close()` or because the device went away) `onClose` listeners fire
// exactly once and `write()` rejects with LINK_CLOSED. A link is never reopened: reconnecting means
// asking the `ByteLinkOpener` for a new one.
import { CarchainError } from '../../protocol/errors.js';

export type LinkErrorCode = 'LINK_CLOSED' | 'LINK_OPEN_FAILED' | 'LINK_WRITE_FAILED';

export class LinkError extends CarchainError<LinkErrorCode> {}

export interface ByteLink {
  readonly isOpen: boolean;
  /** Resolves when the bytes are handed to the OS (drained), rejects with LinkError. */
  write(data: Uint8Array): Promise<void>;
  /** Subscribes to incoming bytes; returns the unsubscribe function. */
  onData(listener: (chunk: Uint8Array) => void): () => void;
  /** Fires once when the link closes; `error` is set when it closed because the device failed. */
  onClose(listener: (error?: Error) => void): () => void;
  close(): Promise<void>;
}

/** Opens a fresh link to the same device (by path, e.g. /dev/serial/by-id/…): used for reconnects. */
export interface ByteLinkOpener {
  /** A human-readable name for logs, e.g. the port path. */
  readonly description: string;
  open(): Promise<ByteLink>;
}

/** Small shared implementation of listener bookkeeping for ByteLink implementations. */
export class LinkListeners {
  private readonly dataListeners = new Set<(chunk: Uint8Array) => void>();
  private readonly closeListeners = new Set<(error?: Error) => void>();
  private closed = false;

  onData(listener: (chunk: Uint8Array) => void): () => void {
    this.dataListeners.add(listener);
    return () => this.dataListeners.delete(listener);
  }

  onClose(listener: (error?: Error) => void): () => void {
    if (this.closed) {
      queueMicrotask(() => listener());
      return () => undefined;
    }
    this.closeListeners.add(listener);
    return () => this.closeListeners.delete(listener);
  }

  emitData(chunk: Uint8Array): void {
    if (this.closed) return;
    for (const listener of [...this.dataListeners]) listener(chunk);
  }

  emitClose(error?: Error): void {
    if (this.closed) return;
    this.closed = true;
    for (const listener of [...this.closeListeners]) listener(error);
    this.closeListeners.clear();
    this.dataListeners.clear();
  }

  get isClosed(): boolean {
    return this.closed;
  }
}
