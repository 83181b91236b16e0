// Two connected in-process ByteLinks: the seam a driver and a simulator meet on in unit tests.
//
// Bytes written on one end arrive on the other asynchronously (never inside `write()`), in order.
// Closing either end closes both; `close(error)` simulates a pulled adapter: both ends' `onClose`
// listeners receive the error. Bytes already written before the close are still delivered first, as
// a UART would have shifted them out; writes after the close reject with LINK_CLOSED.
import { LinkError, LinkListeners, type ByteLink } from './byte-link.js';

/** One end of an in-process link pair. */
export class MemoryLink implements ByteLink {
  private readonly listeners = new LinkListeners();
  private peer: MemoryLink | undefined;
  private closing: Promise<void> | undefined;

  /** @internal use createLinkPair() */
  constructor(readonly name: string) {}

  /** @internal */
  connect(peer: MemoryLink): void {
    this.peer = peer;
  }

  get isOpen(): boolean {
    return this.closing === undefined && !this.listeners.isClosed;
  }

  write(data: Uint8Array): Promise<void> {
    if (!this.isOpen) return Promise.reject(new LinkError('LINK_CLOSED', `${this.name} is closed`, { temporary: true }));
    const copy = data.slice();
    const peer = this.peer;
    return new Promise((resolve) => {
      setImmediate(() => {
        peer?.deliver(copy);
        resolve();
      });
    });
  }

  onData(listener: (chunk: Uint8Array) => void): () => void {
    return this.listeners.onData(listener);
  }

  onClose(listener: (error?: Error) => void): () => void {
    return this.listeners.onClose(listener);
  }

  /** Closes both ends; with `error`, both ends report it (as when a USB adapter is unplugged). */
  close(error?: Error): Promise<void> {
    if (this.closing) return this.closing;
    const peer = this.peer;
    this.closing = new Promise((resolve) => {
      // Queued behind any in-flight deliveries (setImmediate runs FIFO), so they land first.
      setImmediate(() => {
        this.listeners.emitClose(error);
        peer?.listeners.emitClose(error);
        resolve();
      });
    });
    if (peer && !peer.closing) peer.closing = this.closing;
    return this.closing;
  }

  private deliver(chunk: Uint8Array): void {
    this.listeners.emitData(chunk);
  }
}

/** Two connected links, e.g. `[driverSide, simulatorSide]`. */
export function createLinkPair(names: [string, string] = ['memory link A', 'memory link B']): [MemoryLink, MemoryLink] {
  const a = new MemoryLink(names[0]);
  const b = new MemoryLink(names[1]);
  a.connect(b);
  b.connect(a);
  return [a, b];
}
