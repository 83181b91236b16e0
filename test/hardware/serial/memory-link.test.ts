// Tests for the in-process link pair: async in-order delivery, close semantics, pulled-adapter errors.
import t from 'tap';
import { LinkError } from '../../../hardware/serial/byte-link.js';
import { createLinkPair } from '../../../hardware/serial/memory-link.js';

const bytes = (text: string): Uint8Array => new Uint8Array(Buffer.from(text, 'latin1'));
const text = (chunks: Uint8Array[]): string => Buffer.concat(chunks).toString('latin1');

t.test('bytes arrive on the other end, asynchronously and in order', async (t) => {
  const [a, b] = createLinkPair();
  const received: Uint8Array[] = [];
  b.onData((chunk) => received.push(chunk));
  const writes = [a.write(bytes('one ')), a.write(bytes('two ')), a.write(bytes('three'))];
  t.equal(received.length, 0, 'nothing is delivered inside write()');
  await Promise.all(writes);
  t.equal(text(received), 'one two three');
  const back: Uint8Array[] = [];
  a.onData((chunk) => back.push(chunk));
  await b.write(bytes('reply'));
  t.equal(text(back), 'reply', 'and the other way round');
  t.equal(text(received), 'one two three', 'a writer does not hear itself');
  await a.close();
});

t.test('the written buffer is copied', async (t) => {
  const [a, b] = createLinkPair();
  const received: Uint8Array[] = [];
  b.onData((chunk) => received.push(chunk));
  const data = bytes('abc');
  const done = a.write(data);
  data[0] = 0x7a;
  await done;
  t.equal(text(received), 'abc');
  await a.close();
});

t.test('closing one end closes both; pending bytes land first; later writes reject', async (t) => {
  const [a, b] = createLinkPair();
  const received: Uint8Array[] = [];
  const events: string[] = [];
  b.onData((chunk) => {
    received.push(chunk);
    events.push('data');
  });
  a.onClose((err) => events.push(`a closed ${String(err)}`));
  b.onClose((err) => events.push(`b closed ${String(err)}`));
  void a.write(bytes('last words'));
  const closed = b.close();
  t.equal(a.isOpen, false);
  t.equal(b.isOpen, false);
  await closed;
  t.same(events, ['data', 'b closed undefined', 'a closed undefined']);
  t.equal(text(received), 'last words');
  await t.rejects(a.write(bytes('x')), { code: 'LINK_CLOSED' });
  await t.rejects(b.write(bytes('x')), { code: 'LINK_CLOSED' });
  t.equal(b.close(), closed, 'close() is idempotent');
  let late = false;
  a.onClose(() => (late = true));
  await new Promise((resolve) => setImmediate(resolve));
  t.ok(late, 'a listener added after the close still hears about it');
});

t.test('close(error) simulates a pulled adapter: both ends see the error', async (t) => {
  const [host, device] = createLinkPair();
  const pulled = new LinkError('LINK_CLOSED', 'adapter unplugged', { temporary: true });
  const seen = new Promise<Error | undefined>((resolve) => host.onClose(resolve));
  const seenByDevice = new Promise<Error | undefined>((resolve) => device.onClose(resolve));
  await device.close(pulled);
  t.equal(await seen, pulled);
  t.equal(await seenByDevice, pulled);
});

t.test('unsubscribing stops delivery', async (t) => {
  const [a, b] = createLinkPair();
  const received: Uint8Array[] = [];
  const off = b.onData((chunk) => received.push(chunk));
  await a.write(bytes('1'));
  off();
  await a.write(bytes('2'));
  t.equal(text(received), '1');
  await a.close();
});
