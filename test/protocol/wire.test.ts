// Tests for the bounds-checked byte writer/reader: canonical varints, limits, trailing bytes.
import t from 'tap';
import { ByteReader, ByteWriter, compareBytes } from '../../protocol/wire.js';
import { isProtocolError } from '../../protocol/errors.js';

t.test('round-trips every field type', (t) => {
  const bytes = new ByteWriter().u8(7).u16(513).u32(0xdeadbeef).u64(2n ** 60n).varint(300).bytes(Uint8Array.of(1, 2)).string('京A·12345').finish();
  const r = new ByteReader(bytes);
  t.equal(r.u8(), 7);
  t.equal(r.u16(), 513);
  t.equal(r.u32(), 0xdeadbeef);
  t.equal(r.u64(), 2n ** 60n);
  t.equal(r.varint(), 300);
  t.same([...r.bytes(10)], [1, 2]);
  t.equal(r.string(64), '京A·12345');
  r.end();
  t.end();
});

t.test('varints are minimal and bounded', (t) => {
  for (const v of [0, 1, 127, 128, 16383, 16384, 2 ** 32, Number.MAX_SAFE_INTEGER]) {
    t.equal(new ByteReader(new ByteWriter().varint(v).finish()).varint(), v);
  }
  t.throws(() => new ByteReader(Uint8Array.of(0x80, 0x00)).varint(), { code: 'DECODE_NON_CANONICAL' });
  t.throws(() => new ByteReader(Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01)).varint(), { code: 'DECODE_INVALID' });
  t.throws(() => new ByteReader(Uint8Array.of(0x80)).varint(), { code: 'DECODE_TRUNCATED' });
  t.end();
});

t.test('limits and trailing bytes are typed errors', (t) => {
  t.throws(() => new ByteReader(new ByteWriter().bytes(new Uint8Array(5)).finish()).bytes(4), { code: 'DECODE_TOO_LARGE' });
  t.throws(() => new ByteReader(Uint8Array.of(1, 2)).end(), { code: 'DECODE_TRAILING_BYTES' });
  t.throws(() => new ByteReader(Uint8Array.of(2, 0xc3, 0x28)).string(10), { code: 'DECODE_INVALID' });
  try {
    new ByteReader(Uint8Array.of()).u8();
  } catch (err) {
    t.ok(isProtocolError(err, 'DECODE_TRUNCATED'));
  }
  t.end();
});

t.test('compareBytes is memcmp order', (t) => {
  t.equal(compareBytes(Uint8Array.of(1), Uint8Array.of(1, 0)), -1);
  t.equal(compareBytes(Uint8Array.of(2), Uint8Array.of(1, 0)), 1);
  t.equal(compareBytes(Uint8Array.of(), Uint8Array.of()), 0);
  t.end();
});
