// ByteLink over a real serial port (serialport's native binding): USB ELM327 adapters, GPS receivers, ptys.
import { SerialPort } from 'serialport';
import { LinkError, LinkListeners, type ByteLink, type ByteLinkOpener } from './byte-link.js';

export interface SerialPortOptions {
  /** Prefer a stable /dev/serial/by-id/… path so a re-plugged adapter is found again. */
  path: string;
  baudRate: number;
}

export class SerialPortLink implements ByteLink {
  private readonly listeners = new LinkListeners();

  private constructor(private readonly port: SerialPort) {
    port.on('data', (chunk: Buffer) => this.listeners.emitData(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.length)));
    port.on('close', (err: Error | null) => this.listeners.emitClose(err ?? undefined));
    port.on('error', (err: Error) => {
      // An error on an open port (e.g. EIO when a USB adapter is pulled) ends the link.
      this.listeners.emitClose(err);
      if (port.isOpen) port.close(() => undefined);
    });
  }

  static open(options: SerialPortOptions): Promise<SerialPortLink> {
    return new Promise((resolve, reject) => {
      const port = new SerialPort({ path: options.path, baudRate: options.baudRate, autoOpen: false });
      port.open((err) => {
        if (err) {
          reject(new LinkError('LINK_OPEN_FAILED', `cannot open ${options.path}: ${err.message}`, { temporary: true, cause: err }));
          return;
        }
        resolve(new SerialPortLink(port));
      });
    });
  }

  get isOpen(): boolean {
    return this.port.isOpen && !this.listeners.isClosed;
  }

  write(data: Uint8Array): Promise<void> {
    if (!this.isOpen) return Promise.reject(new LinkError('LINK_CLOSED', 'serial port is closed', { temporary: true }));
    return new Promise((resolve, reject) => {
      this.port.write(Buffer.from(data.buffer, data.byteOffset, data.length), (err) => {
        if (err) {
          reject(new LinkError('LINK_WRITE_FAILED', `write failed: ${err.message}`, { temporary: true, cause: err }));
          return;
        }
        this.port.drain((drainErr) => {
          if (drainErr) reject(new LinkError('LINK_WRITE_FAILED', `drain failed: ${drainErr.message}`, { temporary: true, cause: drainErr }));
          else resolve();
        });
      });
    });
  }

  onData(listener: (chunk: Uint8Array) => void): () => void {
    return this.listeners.onData(listener);
  }

  onClose(listener: (error?: Error) => void): () => void {
    return this.listeners.onClose(listener);
  }

  close(): Promise<void> {
    if (!this.port.isOpen) {
      this.listeners.emitClose();
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      this.port.close(() => {
        this.listeners.emitClose();
        resolve();
      });
    });
  }
}

export function serialPortOpener(options: SerialPortOptions): ByteLinkOpener {
  return { description: options.path, open: () => SerialPortLink.open(options) };
}
