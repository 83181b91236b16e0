// Writes one provisioned device's identity and config into the FAT boot partition of a disk image, without root.
//
// Like balenaOS's config.json injection: the partition table is read here (mbr.ts), and mtools
// writes into the FAT filesystem at that byte offset (`-i image@@offset`), so no loop device or
// mount is needed. The output is built as a temp file next to --out and renamed into place.
import { execFile } from 'node:child_process';
import { closeSync, copyFileSync, existsSync, openSync, readSync, renameSync, rmSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { loadDongleConfig } from '../../firmware/config/dongle-config.js';
import { FleetError } from './fleet-errors.js';
import { findBootPartition, GPT_PROTECTIVE_TYPE, parseMbr, SECTOR_SIZE, type MbrPartition } from './mbr.js';
import { DEVICE_FILES } from './provision.js';

const run = promisify(execFile);

/** The directory inside the boot partition that a first-boot step copies from (docs/fleet.md). */
export const BOOT_DIR = 'carchain';
/** What goes onto the device: everything but the CSR (the device never needs it again). */
export const INJECTED_FILES = ['device.json', DEVICE_FILES.config, DEVICE_FILES.ca, DEVICE_FILES.cert, DEVICE_FILES.key, DEVICE_FILES.keystore, DEVICE_FILES.pairing] as const;

export interface InjectOptions {
  base: string;
  deviceDir: string;
  out: string;
}

export interface InjectResult {
  out: string;
  partition: MbrPartition & { offset: number };
  files: string[];
}

/** The first FAT partition of an MBR disk image, checked to lie inside the file. */
export function bootPartitionOf(image: string): MbrPartition & { offset: number } {
  let size: number;
  const sector0 = new Uint8Array(SECTOR_SIZE);
  try {
    size = statSync(image).size;
    const fd = openSync(image, 'r');
    try {
      readSync(fd, sector0, 0, SECTOR_SIZE, 0);
    } finally {
      closeSync(fd);
    }
  } catch (cause) {
    throw new FleetError('IMAGE_UNREADABLE', `cannot read ${image}: ${(cause as Error).message}`, { cause });
  }
  const partitions = parseMbr(sector0);
  if (partitions === null) throw new FleetError('IMAGE_NO_BOOT_PARTITION', `${image} has no MBR partition table`);
  if (partitions.some((p) => p.type === GPT_PROTECTIVE_TYPE)) throw new FleetError('IMAGE_NO_BOOT_PARTITION', `${image} is a GPT disk; only MBR images are supported`);
  const boot = findBootPartition(partitions);
  if (!boot) {
    const types = partitions.map((p) => `${p.number}:0x${p.type.toString(16).padStart(2, '0')}`).join(', ') || 'none';
    throw new FleetError('IMAGE_NO_BOOT_PARTITION', `${image} has no FAT partition (partitions: ${types})`);
  }
  const offset = boot.startLba * SECTOR_SIZE;
  if (offset + boot.sectors * SECTOR_SIZE > size) throw new FleetError('IMAGE_NO_BOOT_PARTITION', `${image}: partition ${boot.number} ends past the end of the file (truncated image?)`);
  return { ...boot, offset };
}

async function mtool(tool: string, args: string[]): Promise<string> {
  try {
    // MTOOLS_SKIP_CHECK: images made by other tools often have geometry mtools would otherwise refuse.
    const { stdout } = await run(tool, args, { env: { ...process.env, MTOOLS_SKIP_CHECK: '1' }, maxBuffer: 16 << 20 });
    return stdout;
  } catch (cause) {
    const e = cause as NodeJS.ErrnoException & { stderr?: string };
    const why = e.code === 'ENOENT' ? `${tool} not found (apt-get install mtools)` : (e.stderr?.trim() || e.message);
    throw new FleetError('IMAGE_TOOL_FAILED', `${tool} ${args.join(' ')}: ${why}`, { cause });
  }
}

export async function injectDevice(o: InjectOptions): Promise<InjectResult> {
  if (resolve(o.base) === resolve(o.out)) throw new FleetError('USAGE', '--out must differ from --base (the base image is never modified)');
  for (const file of INJECTED_FILES) {
    if (!existsSync(join(o.deviceDir, file))) throw new FleetError('DEVICE_DIR_INVALID', `${o.deviceDir} is not a provisioned device directory: ${file} is missing`);
  }
  loadDongleConfig(join(o.deviceDir, DEVICE_FILES.config));
  const partition = bootPartitionOf(o.base);
  const tmp = `${o.out}.tmp-${process.pid}`;
  try {
    copyFileSync(o.base, tmp);
    const image = `${tmp}@@${partition.offset}`;
    const listing = await mtool('mdir', ['-b', '-i', image, '::/']);
    const hasDir = listing.split('\n').some((line) => line.trim().replace(/\/$/, '').toLowerCase() === `::/${BOOT_DIR}`);
    if (!hasDir) await mtool('mmd', ['-i', image, `::/${BOOT_DIR}`]);
    await mtool('mcopy', ['-o', '-i', image, ...INJECTED_FILES.map((f) => join(o.deviceDir, f)), `::/${BOOT_DIR}/`]);
    renameSync(tmp, o.out);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
  return { out: o.out, partition, files: INJECTED_FILES.map((f) => `/${BOOT_DIR}/${f}`) };
}
