// The lock's local link over TCP on 127.0.0.1 (the stand-in for BLE): u32-length-prefixed frames, one LockConnection per socket.
import { createServer, type Server, type Socket } from 'node:net';
import { FrameDecoder, encodeLengthPrefixed } from '../../protocol/lock/framing.js';
import { isLockError } from '../../protocol/lock/errors.js';
import { encodeError } from '../../protocol/lock/messages.js';
import type { CarLock } from './car-lock.js';

export interface TcpLockServer {
  port: number;
  close(): Promise<void>;
}

export interface TcpLockServerOptions {
  host?: string;
  port?: number;
  /** A link silent this long is closed (a truncated frame waits no longer than this). */
  idleMs?: number;
}

export async function startTcpLockServer(lock: CarLock, options: TcpLockServerOptions = {}): Promise<TcpLockServer> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.setNoDelay(true);
    socket.setTimeout(options.idleMs ?? 30_000, () => socket.destroy());
    const connection = lock.connect(`tcp:${socket.remoteAddress ?? '?'}`);
    const decoder = new FrameDecoder();
    socket.on('data', (chunk: Buffer) => {
      let frames: Uint8Array[];
      try {
        frames = decoder.push(chunk);
      } catch (err) {
        // A lying length prefix: answer once, then drop the link; the stream cannot be resynchronised.
        socket.end(encodeLengthPrefixed(encodeError(isLockError(err) ? err.code : 'BAD_FRAME')));
        return;
      }
      for (const frame of frames) {
        connection.handle(frame).then(
          (replies) => {
            for (const r of replies) if (!socket.destroyed) socket.write(encodeLengthPrefixed(r));
          },
          () => socket.destroy(),
        );
      }
    });
    socket.on('close', () => {
      sockets.delete(socket);
      connection.close();
    });
    socket.on('error', () => socket.destroy());
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('tcp lock server: no port');
  return {
    port: address.port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
