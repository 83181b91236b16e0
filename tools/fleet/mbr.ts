// MBR partition tables, pure: parse the four primary entries of sector 0, and write one (for test and factory images).
//
// Only what image injection needs: LBA start and length per entry (CHS fields are ignored on read
// and written as the "use LBA" marker), 512-byte sectors, no extended partitions.

export const SECTOR_SIZE = 512;
const TABLE_OFFSET = 446;
const ENTRY_SIZE = 16;
const SIGNATURE_OFFSET = 510;

export interface MbrPartition {
  /** 1..4, as Linux numbers primary partitions. */
  number: number;
  bootable: boolean;
  type: number;
  startLba: number;
  sectors: number;
}

/** FAT12, FAT16 (<32M, ≥32M, LBA), FAT32 (CHS, LBA) and the EFI system partition (FAT by definition). */
const FAT_TYPES = new Set([0x01, 0x04, 0x06, 0x0b, 0x0c, 0x0e, 0xef]);
/** A protective MBR: the real table is GPT. */
export const GPT_PROTECTIVE_TYPE = 0xee;

export function isFatType(type: number): boolean {
  return FAT_TYPES.has(type);
}

/** The non-empty primary entries, or null when sector 0 carries no 0x55AA signature. */
export function parseMbr(sector0: Uint8Array): MbrPartition[] | null {
  if (sector0.length < SECTOR_SIZE || sector0[SIGNATURE_OFFSET] !== 0x55 || sector0[SIGNATURE_OFFSET + 1] !== 0xaa) return null;
  const view = new DataView(sector0.buffer, sector0.byteOffset, SECTOR_SIZE);
  const partitions: MbrPartition[] = [];
  for (let i = 0; i < 4; i++) {
    const at = TABLE_OFFSET + i * ENTRY_SIZE;
    const status = view.getUint8(at);
    const type = view.getUint8(at + 4);
    const startLba = view.getUint32(at + 8, true);
    const sectors = view.getUint32(at + 12, true);
    // Status is 0x00 or 0x80 in a real table; anything else means this sector is not an MBR (e.g. a FAT boot sector).
    if (status !== 0x00 && status !== 0x80) return null;
    if (type === 0 || sectors === 0) continue;
    partitions.push({ number: i + 1, bootable: status === 0x80, type, startLba, sectors });
  }
  return partitions;
}

/** The first FAT partition: the boot partition of Raspberry Pi OS, balenaOS, Armbian and most SBC images. */
export function findBootPartition(partitions: MbrPartition[]): MbrPartition | undefined {
  return partitions.find((p) => isFatType(p.type));
}

export interface NewPartition {
  type: number;
  startLba: number;
  sectors: number;
  bootable?: boolean;
}

/** A 512-byte sector 0 with up to four primary entries (no boot code). */
export function writeMbr(partitions: NewPartition[], diskSignature = 0): Uint8Array {
  if (partitions.length > 4) throw new RangeError('an MBR holds at most four primary partitions');
  const sector = new Uint8Array(SECTOR_SIZE);
  const view = new DataView(sector.buffer);
  view.setUint32(440, diskSignature >>> 0, true);
  partitions.forEach((p, i) => {
    if (!Number.isInteger(p.startLba) || p.startLba < 1 || !Number.isInteger(p.sectors) || p.sectors < 1 || p.startLba + p.sectors > 0xffffffff) {
      throw new RangeError(`partition ${i + 1}: start ${p.startLba} and length ${p.sectors} must be positive 32-bit sector counts`);
    }
    if (!Number.isInteger(p.type) || p.type < 1 || p.type > 0xff) throw new RangeError(`partition ${i + 1}: type must be 1..255`);
    const at = TABLE_OFFSET + i * ENTRY_SIZE;
    view.setUint8(at, p.bootable ? 0x80 : 0x00);
    sector.set([0xfe, 0xff, 0xff], at + 1); // CHS "beyond 8 GiB": readers use the LBA fields
    view.setUint8(at + 4, p.type);
    sector.set([0xfe, 0xff, 0xff], at + 5);
    view.setUint32(at + 8, p.startLba, true);
    view.setUint32(at + 12, p.sectors, true);
  });
  sector[SIGNATURE_OFFSET] = 0x55;
  sector[SIGNATURE_OFFSET + 1] = 0xaa;
  return sector;
}
