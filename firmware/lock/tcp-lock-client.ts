// The wallet's end of the TCP lock link: a LockTransport over u32-length-prefixed frames on 127.0.0.1.
import { connect, type Socket } from 'node:net';
import { FrameDecoder, encodeLengthPrefixed } from '../../protocol/lock/framing.js';
import { LockError } from '../../protocol/lock/errors.js';
import type { LockTransport } from '../../protocol/lock/transport.js';

export async function connectTcpLockTransport(port: number, host = '127.0.0.1'): Promise<LockTransport> {
  const socket: Socket = await new Promise((resolve, reject) => {
    const s = connect({ port, host, noDelay: true }, () => resolve(s));
    s.once('error', reject);
  });
  const decoder = new FrameDecoder();
  const frames: Uint8Array[] = [];
  const waiters: { resolve: (f: Uint8Array) => void; reject: (e: Error) => void }[] = [];
  let closed: LockError | null = null;
  const shut = (why: string) => {
    if (closed !== null) return;
    closed = new LockError('TRANSPORT_CLOSED', why);
    for (const w of waiters.splice(0)) w.reject(closed);
  };
  socket.on('data', (chunk: Buffer) => {
    try {
      for (const f of decoder.push(chunk)) {
        const w = waiters.shift();
        if (w) w.resolve(f);
        else frames.push(f);
      }
    } catch {
      socket.destroy();
      shut('lock sent a malformed frame');
    }
  });
  socket.on('close', () => shut('link closed'));
  socket.on('error', () => shut('link error'));
  return {
    send: (frame) =>
      new Promise<void>((resolve, reject) => {
        if (closed !== null) return reject(closed);
        socket.write(encodeLengthPrefixed(frame), (err) => (err ? reject(new LockError('TRANSPORT_CLOSED', err.message)) : resolve()));
      }),
    receive: (timeoutMs = 10_000) => {
      const ready = frames.shift();
      if (ready !== undefined) return Promise.resolve(ready);
      if (closed !== null) return Promise.reject(closed);
      return new Promise<Uint8Array>((resolve, reject) => {
        const waiter = {
          resolve: (f: Uint8Array) => {
            clearTimeout(timer);
            resolve(f);
          },
          reject: (e: Error) => {
            clearTimeout(timer);
            reject(e);
          },
        };
        const timer = setTimeout(() => {
          waiters.splice(waiters.indexOf(waiter), 1);
          reject(new LockError('TRANSPORT_CLOSED', `no frame within ${timeoutMs} ms`));
        }, timeoutMs);
        waiters.push(waiter);
      });
    },
    close: () =>
      new Promise<void>((resolve) => {
        if (socket.destroyed) return resolve();
        socket.once('close', () => resolve());
        socket.end();
      }),
  };
}
