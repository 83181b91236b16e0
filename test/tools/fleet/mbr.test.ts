// The MBR reader and writer behind `fleet image inject`: round trip, what is not an MBR, which partition is the boot one.
import t from 'tap';
import { findBootPartition, parseMbr, writeMbr } from '../../../tools/fleet/mbr.js';

t.test('a written table reads back entry for entry', (t) => {
  const sector = writeMbr([{ type: 0x0c, startLba: 2048, sectors: 40_960, bootable: true }, { type: 0x83, startLba: 43_008, sectors: 88_064 }], 0x1234abcd);
  t.equal(sector.length, 512);
  t.same([sector[510], sector[511]], [0x55, 0xaa]);
  t.same(parseMbr(sector), [
    { number: 1, bootable: true, type: 0x0c, startLba: 2048, sectors: 40_960 },
    { number: 2, bootable: false, type: 0x83, startLba: 43_008, sectors: 88_064 },
  ]);
  t.equal(Buffer.from(sector).readUInt32LE(440), 0x1234abcd, 'disk signature');
  t.end();
});

t.test('the boot partition is the first FAT one, wherever it is in the table', (t) => {
  const parts = parseMbr(writeMbr([{ type: 0x83, startLba: 2048, sectors: 100 }, { type: 0x0e, startLba: 4096, sectors: 100 }, { type: 0x0b, startLba: 8192, sectors: 100 }]))!;
  t.equal(findBootPartition(parts)?.number, 2);
  t.equal(findBootPartition(parseMbr(writeMbr([{ type: 0x83, startLba: 2048, sectors: 100 }]))!), undefined, 'no FAT partition');
  t.equal(findBootPartition(parseMbr(writeMbr([{ type: 0xef, startLba: 2048, sectors: 100 }]))!)?.type, 0xef, 'an EFI system partition is FAT');
  t.end();
});

t.test('what is not an MBR reads as null', (t) => {
  t.equal(parseMbr(new Uint8Array(512)), null, 'no 0x55AA');
  t.equal(parseMbr(new Uint8Array(100)), null, 'short');
  const fatBootSector = new Uint8Array(512);
  fatBootSector.set([0xeb, 0x3c, 0x90], 0);
  fatBootSector.fill(0x20, 446, 510); // a superfloppy's boot code runs through the table area
  fatBootSector[510] = 0x55;
  fatBootSector[511] = 0xaa;
  t.equal(parseMbr(fatBootSector), null, 'a FAT boot sector (no partition table) is not taken for one');
  t.end();
});

t.test('the writer refuses impossible tables', (t) => {
  t.throws(() => writeMbr(Array.from({ length: 5 }, (_, i) => ({ type: 0x83, startLba: 2048 * (i + 1), sectors: 10 }))), RangeError);
  t.throws(() => writeMbr([{ type: 0x0c, startLba: 0, sectors: 10 }]), RangeError, 'LBA 0 is the MBR itself');
  t.throws(() => writeMbr([{ type: 0x0c, startLba: 0xfffffff0, sectors: 0x100 }]), RangeError, 'past 2 TiB');
  t.end();
});
