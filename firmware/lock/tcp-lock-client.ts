// The wallet's end of the TCP lock link: a LockTransport over u32-length-prefixed frames on 127.0.0.1.
import { connect, type Socket } from 'node:net';
import { FrameDecoder, encodeLengthPrefixed } from '../../protocol/lock/framing.js';
import { LockError } from '../../protocol/lock/errors.js';
import type { LockTransport } from '../../protocol/lock/transport.js';
import { FrameInbox } from './frame-inbox.js';

export async function connectTcpLockTransport(port: number, host = '127.0.0.1'): Promise<LockTransport> {
  const socket: Socket = await new Promise((resolve, reject) => {
    const s = connect({ port, host, noDelay: true }, () => resolve(s));
    s.once('error', reject);
  });
  const decoder = new FrameDecoder();
  const inbox = new FrameInbox('lock');
  socket.on('data', (chunk: Buffer) => {
    try {
      for (const f of decoder.push(chunk)) inbox.push(f);
    } catch {
      socket.destroy();
      inbox.close('lock sent a malformed frame');
    }
  });
  socket.on('close', () => inbox.close('link closed'));
  socket.on('error', () => inbox.close('link error'));
  return {
    send: (frame) =>
      new Promise<void>((resolve, reject) => {
        if (inbox.closed !== null) return reject(inbox.closed);
        socket.write(encodeLengthPrefixed(frame), (err) => (err ? reject(new LockError('TRANSPORT_CLOSED', err.message)) : resolve()));
      }),
    receive: (timeoutMs) => inbox.receive(timeoutMs),
    close: () =>
      new Promise<void>((resolve) => {
        if (socket.destroyed) return resolve();
        socket.once('close', () => resolve());
        socket.end();
      }),
  };
}
