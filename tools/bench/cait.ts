// `npm run bench:cait`: CAIT plate reading speed and accuracy, with @gutenye/ocr-node on the same images as the same-run baseline. Prints one JSON object.
//
//   per-frame ms (median, p95) for synthetic 720p and 1080p scenes: detection + recognition from an RGB
//     frame, and from the image file (decode included, as the baseline does)
//   exact-match accuracy on the 300 real dev crops (test/fixtures/plates/cn-crops-dev)
//   the same scenes and crops through @gutenye/ocr-node (its ms, our speed-up, its accuracy)
//   peak RSS of a terminal-like process (a child with MALLOC_ARENA_MAX=2: reader + decoding the scene files, nothing else),
//     one child per resolution and one reading both, and of this whole bench process (scene rendering,
//     300 decoded crops) for reference
//
// Environment: BENCH_FRAMES (scenes per resolution, default 6), BENCH_PASSES (default 3),
// BENCH_BASELINE_CROPS (crops read by the baseline, default 300); BENCH_LIMIT_SIDE, BENCH_REFINE=0 and
// BENCH_SPINNING=1 run our reader with another coarse-pass size / without the fine pass / with
// onnxruntime's spinning threads (960, 0 and 1: the pipeline before the two-pass detector), the RSS
// probes included.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir, availableParallelism, loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import sharp from 'sharp';
import { decodeImageFile } from '../../hardware/camera/image-decode.js';
import { PlateReader, type PlateReaderOptions } from '../../firmware/cait/plate-reader.js';
import { DEFAULT_LIMIT_SIDE } from '../../firmware/cait/plate-detector.js';
import { renderScene } from '../../test/firmware/cait/fixtures/plate-scene.js';

const FRAMES = Number(process.env.BENCH_FRAMES ?? 6);
const PASSES = Number(process.env.BENCH_PASSES ?? 3);
const BASELINE_CROPS = Number(process.env.BENCH_BASELINE_CROPS ?? 300);
const CROPS = fileURLToPath(new URL('../../test/fixtures/plates/cn-crops-dev/', import.meta.url));
const SPINNING = process.env.BENCH_SPINNING === '1';
const READER: PlateReaderOptions = {
  detector: { limitSide: Number(process.env.BENCH_LIMIT_SIDE ?? DEFAULT_LIMIT_SIDE), spinning: SPINNING },
  recognizer: { spinning: SPINNING },
  refine: process.env.BENCH_REFINE !== '0',
};

const PROVINCES = '京沪粤苏浙皖鲁豫川鄂';
const ALNUM = 'ABCDEFGHJKLMNPQRSTUVWXYZ0123456789';

const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
};
const round = (v: number, d = 1) => Math.round(v * 10 ** d) / 10 ** d;
const stats = (xs: number[]) => ({ median: round(quantile(xs, 0.5)), p95: round(quantile(xs, 0.95)), n: xs.length });
const stripped = (s: string) => s.replace(/[·.\s]/g, '');

interface BenchScene {
  file: string;
  plate: string;
  image: Awaited<ReturnType<typeof renderScene>>['image'];
}

async function makeScenes(dir: string, width: number, height: number): Promise<BenchScene[]> {
  const scenes: BenchScene[] = [];
  let s = width * 31 + height;
  const rnd = (n: number) => ((s = (s * 1103515245 + 12345) % 2147483648) >>> 8) % n;
  for (let i = 0; i < FRAMES; i++) {
    const text = `${PROVINCES[rnd(PROVINCES.length)]}${ALNUM[rnd(24)]}·${Array.from({ length: 5 }, () => ALNUM[rnd(ALNUM.length)]).join('')}`;
    const plateWidth = Math.round(width * (0.12 + rnd(60) / 1000));
    const scene = await renderScene({ width, height, text, x: rnd(Math.floor(width - plateWidth * 1.3)), y: rnd(height - plateWidth), plateWidth, angle: rnd(13) - 6, seed: i + 1 });
    const file = join(dir, `scene-${width}-${i}.jpg`);
    await sharp(scene.image.data, { raw: { width, height, channels: 3 } }).jpeg({ quality: 90 }).toFile(file);
    scenes.push({ file, plate: scene.plate, image: scene.image });
  }
  return scenes;
}

/**
 * This process's own peak RSS. Not getrusage's maxRSS: Linux carries the forking parent's high-water
 * mark into a child across exec, so a child of this bench reported the bench's peak (~540 MB), not its own.
 * VmHWM belongs to the process's address space, which exec replaces.
 */
function ownPeakRssMb(): number {
  let status = '';
  try {
    status = readFileSync('/proc/self/status', 'utf8');
  } catch {
    // not Linux: fall back to getrusage (correct where the kernel does not carry it across exec)
  }
  const kb = /^VmHWM:\s+(\d+) kB/m.exec(status)?.[1];
  return round((kb === undefined ? process.resourceUsage().maxRSS : Number(kb)) / 1024);
}

/** Child mode: read the files given as a terminal would (decode + read, a few passes), print the peak RSS. */
if (process.argv[2] === '--rss-probe') {
  const reader = await PlateReader.create(READER);
  for (let pass = 0; pass < 3; pass++) for (const file of process.argv.slice(3)) await reader.readFrame(await decodeImageFile(file));
  await reader.close();
  process.stdout.write(JSON.stringify({ peakRssMb: ownPeakRssMb() }));
  process.exit(0);
}

const dir = mkdtempSync(join(tmpdir(), 'bench-cait-'));
try {
  const sets = { '720p': await makeScenes(dir, 1280, 720), '1080p': await makeScenes(dir, 1920, 1080) };
  const cropFiles = readdirSync(CROPS).filter((f) => f.endsWith('.jpg')).sort();

  // ---- ours
  const created = performance.now();
  const reader = await PlateReader.create(READER);
  const createMs = performance.now() - created;
  const ours: Record<string, unknown> = {};
  for (const [name, scenes] of Object.entries(sets)) {
    for (const scene of scenes.slice(0, 3)) await reader.readFrame(scene.image); // warm-up (onnxruntime settles over a few runs)
    const frameMs: number[] = [];
    const fileMs: number[] = [];
    const detectMs: number[] = [];
    let correct = 0;
    for (let pass = 0; pass < PASSES; pass++) {
      for (const scene of scenes) {
        const t0 = performance.now();
        const reading = await reader.readFrame(scene.image);
        frameMs.push(performance.now() - t0);
        detectMs.push(reading.timings.detectMs);
        if (pass === 0 && reading.plates.some((p) => p.text === scene.plate)) correct++;
        const t1 = performance.now();
        await reader.readFrame(await decodeImageFile(scene.file));
        fileMs.push(performance.now() - t1);
      }
    }
    ours[name] = { frameMs: stats(frameMs), fromFileMs: stats(fileMs), detectMs: stats(detectMs), platesReadExactly: `${correct}/${scenes.length}` };
  }
  const crops = await Promise.all(cropFiles.map((f) => decodeImageFile(CROPS + f)));
  const r0 = performance.now();
  const recognitions = await reader.recognizer.recognize(crops);
  const cropMs = (performance.now() - r0) / crops.length;
  let exact = 0;
  let rejected = 0;
  recognitions.forEach((rec, i) => {
    const v = reader.recognizer.readPlate(rec, { requirePlausible: false }).verdict;
    if (v.ok && v.plate === cropFiles[i]!.slice(0, -4)) exact++;
    else if (!v.ok) rejected++;
  });
  await reader.close();
  const benchProcessPeakRssMb = ownPeakRssMb();
  const rssProbe = (scenes: readonly BenchScene[]) =>
    (JSON.parse(execFileSync(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--rss-probe', ...scenes.map((x) => x.file)], {
      encoding: 'utf8',
      // glibc's per-thread malloc arenas (onnxruntime + libvips threads) inflate RSS; a terminal runs with 2.
      env: { ...process.env, MALLOC_ARENA_MAX: '2' },
    })) as { peakRssMb: number }).peakRssMb;
  const peakRss = { '720p': rssProbe(sets['720p']), '1080p': rssProbe(sets['1080p']), both: rssProbe([...sets['720p'], ...sets['1080p']]) };
  const peakRssMb = Math.max(peakRss['720p'], peakRss['1080p'], peakRss.both);
  const result: Record<string, unknown> = {
    machine: { cores: availableParallelism(), loadAverage1m: round(loadavg()[0]!, 2) },
    ours: {
      reader: { limitSide: READER.detector!.limitSide, refine: READER.refine, spinning: SPINNING },
      sessionCreateMs: round(createMs),
      ...ours,
      crops: { n: crops.length, exact, exactRate: round(exact / crops.length, 4), rejected, wrong: crops.length - exact - rejected, msPerCropBatched: round(cropMs) },
      peakRssMb: peakRss,
      benchProcessPeakRssMb,
    },
  };

  // ---- baseline: @gutenye/ocr-node on the same files (it takes paths)
  const { default: Ocr } = (await import('@gutenye/ocr-node')) as { default: { create(): Promise<{ detect(path: string): Promise<{ text: string; mean: number }[]> }> } };
  const ocr = await Ocr.create();
  const baseline: Record<string, unknown> = {};
  for (const [name, scenes] of Object.entries(sets)) {
    await ocr.detect(scenes[0]!.file);
    const ms: number[] = [];
    let correct = 0;
    for (const scene of scenes) {
      const t0 = performance.now();
      const lines = await ocr.detect(scene.file);
      ms.push(performance.now() - t0);
      if (lines.some((l) => stripped(l.text) === scene.plate)) correct++;
    }
    baseline[name] = { fromFileMs: stats(ms), platesReadExactly: `${correct}/${scenes.length}` };
  }
  let baseExact = 0;
  const baseCrops = cropFiles.slice(0, BASELINE_CROPS);
  for (const f of baseCrops) {
    const lines = await ocr.detect(CROPS + f);
    if (stripped(lines.map((l) => l.text).join('')) === f.slice(0, -4)) baseExact++;
  }
  baseline.crops = { n: baseCrops.length, exact: baseExact, exactRate: round(baseExact / baseCrops.length, 4) };
  result.baseline = baseline;
  const ratio = (res: string) => {
    const a = (baseline[res] as { fromFileMs: { median: number } }).fromFileMs.median;
    const b = (ours[res] as { fromFileMs: { median: number } }).fromFileMs.median;
    return round(a / b, 2);
  };
  result.speedupVsBaseline = { '720p': ratio('720p'), '1080p': ratio('1080p') };
  result.goals = {
    median720pUnder120ms: (ours['720p'] as { frameMs: { median: number } }).frameMs.median < 120,
    fiveTimesBaseline: ratio('720p') >= 5,
    rssUnder400MB: peakRssMb < 400,
    crops97: exact / crops.length >= 0.97,
  };
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
