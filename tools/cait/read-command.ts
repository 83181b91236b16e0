// `carchain cait read FILE... [--json]`: read the licence plates in image files (detection + recognition + plate rules).
import type { Command } from 'commander';
import { decodeImageFile } from '../../hardware/camera/image-decode.js';
import { CarchainError } from '../../protocol/errors.js';
import { PlateReader, type BoundingBox } from '../../firmware/cait/plate-reader.js';

export interface CaitReadPlate {
  text: string;
  confidence: number;
  format: string;
  box: BoundingBox;
}

export interface CaitReadResult {
  file: string;
  plates: CaitReadPlate[];
  /** Decode + detection + recognition, wall-clock ms. */
  ms: number;
  /** Set when the file could not be read; the other files are still processed. */
  error?: { code: string; message: string };
}

const round = (v: number, digits: number) => Math.round(v * 10 ** digits) / 10 ** digits;

/** Reads every file with one reader (created here unless given; sessions are expensive). */
export async function caitRead(files: readonly string[], reader?: PlateReader): Promise<CaitReadResult[]> {
  const own = reader === undefined ? await PlateReader.create() : null;
  const r = reader ?? own!;
  const results: CaitReadResult[] = [];
  try {
    for (const file of files) {
      const t0 = performance.now();
      try {
        const frame = await decodeImageFile(file);
        const reading = await r.readFrame(frame);
        results.push({
          file,
          plates: reading.plates.map((p) => ({ text: p.text, confidence: round(p.confidence, 4), format: p.format, box: p.box })),
          ms: round(performance.now() - t0, 1),
        });
      } catch (err) {
        if (!(err instanceof CarchainError)) throw err;
        results.push({ file, plates: [], ms: round(performance.now() - t0, 1), error: { code: String(err.code), message: err.message } });
      }
    }
  } finally {
    await own?.close();
  }
  return results;
}

/** A human-readable table: one line per plate (or per file without plates). */
export function formatCaitTable(results: readonly CaitReadResult[]): string {
  const rows: string[][] = [['FILE', 'PLATE', 'CONF', 'BOX (x,y w×h)', 'MS']];
  for (const r of results) {
    if (r.error !== undefined) rows.push([r.file, `error ${r.error.code}`, '', '', String(r.ms)]);
    else if (r.plates.length === 0) rows.push([r.file, '-', '', '', String(r.ms)]);
    for (const p of r.plates) rows.push([r.file, p.text, p.confidence.toFixed(3), `${p.box.x},${p.box.y} ${p.box.width}×${p.box.height}`, String(r.ms)]);
  }
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((row) => [...row[c]!].length)));
  return rows.map((row) => row.map((cell, c) => cell + ' '.repeat(widths[c]! - [...cell].length)).join('  ').trimEnd()).join('\n') + '\n';
}

/** Registers `cait read` on the CLI (the lead wires this into tools/cli/carchain.ts). */
export function registerCait(program: Command): void {
  const cait = program.command('cait').description('CAIT terminal: licence-plate reading');
  cait
    .command('read')
    .description('read the licence plates in image files')
    .argument('<files...>', 'image files (JPEG, PNG, WebP, …)')
    .option('--json', 'print one JSON array: [{file, plates: [{text, confidence, format, box}], ms}]')
    .action(async (files: string[], opts: { json?: boolean }) => {
      const results = await caitRead(files);
      process.stdout.write(opts.json ? `${JSON.stringify(results, null, 2)}\n` : formatCaitTable(results));
      // Unreadable files were reported per file; say so in the exit status too.
      if (results.some((r) => r.error !== undefined)) process.exitCode = 1;
    });
}
