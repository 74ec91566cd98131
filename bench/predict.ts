// Benchmark: `imgcls predict` over many generated images — images/s and peak RSS at 1,000 and 10,000
// images (RSS must stay flat: predict streams) — against the PyTorch CPU peer doing the same job
// (bench/peer_torch_predict.py: PIL decode + squash resize + efficientnet_b0 + softmax + CSV rows).
//
//   npm run bench:predict                                  # 10,000 images, milestone 1,000, with the peer
//   npm run bench:predict -- --images 200 --milestone 50   # smoke run
//   npm run bench:predict -- --skip-peer --batch-size 64 --engine onnxruntime
//
// Every run is a child process timed from spawn to exit (process start and model load included) with
// its peak RSS from /usr/bin/time (%M). Images: 640×480 JPEGs, seeded gradients and shapes, written
// once into $TMPDIR/imgcls-bench-predict/ (first/ holds the milestone's images, rest/ the others) and
// reused. The checkpoint is a fixed 2-class head on the pretrained backbone (no training needed).
// Timings mean something only on an idle machine.
import { spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { DEFAULT_PREPROCESSING } from '../src/data/types.js';
import { writeCheckpoint } from '../src/model/checkpoint.js';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const PYTHON = '/usr/bin/python3';
/** glibc settings that keep PyTorch from page-faulting (../shared/FACTS.md). */
const TORCH_MALLOC_ENV = { MALLOC_MMAP_MAX_: '0', MALLOC_TRIM_THRESHOLD_: '68719476736' };

interface TimedRun {
  name: string;
  images: number;
  seconds: number;
  /** CSV rows printed (one per file). */
  rows: number;
  peakRssMb: number;
  code: number | null;
  stderrTail: string;
}

/** Writes images first/img-00000.jpg … (milestone) and rest/img-…jpg (the others), 640×480, reusing existing files. */
async function generateImages(dir: string, count: number, milestone: number): Promise<void> {
  const [width, height] = [640, 480];
  const fileOf = (i: number) => path.join(dir, i < milestone ? 'first' : 'rest', `img-${String(i).padStart(5, '0')}.jpg`);
  await fs.mkdir(path.join(dir, 'first'), { recursive: true });
  await fs.mkdir(path.join(dir, 'rest'), { recursive: true });
  const existing = new Set([
    ...(await fs.readdir(path.join(dir, 'first'))).map((name) => path.join(dir, 'first', name)),
    ...(await fs.readdir(path.join(dir, 'rest'))).map((name) => path.join(dir, 'rest', name)),
  ]);
  let next = 0;
  const work = async () => {
    while (next < count) {
      const i = next++;
      const file = fileOf(i);
      if (existing.has(file)) continue;
      const pixels = Buffer.alloc(width * height * 3);
      for (let y = 0; y < height; y++) {
        for (let x = 0; x < width; x++) {
          const o = (y * width + x) * 3;
          const inside = (x - 320 - (i % 97)) ** 2 + (y - 240 + (i % 31)) ** 2 < (60 + (i % 50)) ** 2;
          pixels[o] = inside ? 230 : (x * 255) / width;
          pixels[o + 1] = inside ? 40 : (((y + i * 7) * 255) / height) % 256;
          pixels[o + 2] = (((x ^ y) + i * 13) & 0xff) >> 1;
        }
      }
      await sharp(pixels, { raw: { width, height, channels: 3 } }).jpeg({ quality: 85 }).toFile(file);
    }
  };
  await Promise.all(Array.from({ length: 4 }, work));
}

/** Runs a command under /usr/bin/time, counting stdout lines as they stream (nothing is kept). */
function runTimed(name: string, images: number, command: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<TimedRun> {
  return new Promise((resolve) => {
    const started = performance.now();
    const child = spawn('/usr/bin/time', ['-f', 'imgcls-bench-maxrss-kb=%M', command, ...args], {
      cwd: REPO_ROOT,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let rows = -1; // the CSV header is not a row
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      for (const byte of chunk) if (byte === 0x0a) rows++;
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString()).slice(-4000);
    });
    child.on('close', (code) => {
      const seconds = (performance.now() - started) / 1000;
      const rss = Number(/imgcls-bench-maxrss-kb=(\d+)/.exec(stderr)?.[1] ?? NaN);
      resolve({ name, images, seconds, rows, peakRssMb: rss / 1024, code, stderrTail: stderr.slice(-1500) });
    });
  });
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      images: { type: 'string', default: '10000' },
      milestone: { type: 'string', default: '1000' },
      'batch-size': { type: 'string', default: '16' },
      engine: { type: 'string', default: 'auto' },
      'skip-peer': { type: 'boolean', default: false },
      'peer-workers': { type: 'string', default: '1' },
      dir: { type: 'string', default: path.join(os.tmpdir(), 'imgcls-bench-predict') },
      json: { type: 'string' },
    },
  });
  const total = Number(values.images);
  const milestone = Math.min(Number(values.milestone), total);
  if (!(Number.isInteger(total) && total > 0 && Number.isInteger(milestone) && milestone > 0)) {
    throw new Error(`--images and --milestone must be positive integers. Received: ${values.images}, ${values.milestone}`);
  }
  const cores = os.availableParallelism();
  process.stdout.write(`bench:predict  images=${total} milestone=${milestone} batch=${values['batch-size']} engine=${values.engine} ` +
    `cores=${cores} node ${process.version} load ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}\n`);

  // the images: first/ = the milestone's, first/ + rest/ = all (a folder of exactly `total` images)
  const imagesDir = path.join(values.dir, `images-${total}-${milestone}`);
  const started = performance.now();
  await generateImages(imagesDir, total, milestone);
  process.stdout.write(`images ready in ${imagesDir} (${((performance.now() - started) / 1000).toFixed(1)} s)\n`);

  const checkpoint = path.join(values.dir, 'bench-predict.imgcls');
  const kernel = Float32Array.from({ length: 1280 * 2 }, (_, i) => Math.sin(i) * 0.05);
  await writeCheckpoint(checkpoint, {
    spec: { arch: 'efficientnet-b0', classNames: ['logo', 'others'], preprocessing: { ...DEFAULT_PREPROCESSING }, dropout: 0.2, mode: 'head' },
    training: { config: { note: 'bench/predict.ts: fixed head' }, epoch: 0, epochs: 0, datasetFingerprint: 'none', optimizerSteps: 0 },
    metrics: null,
    weights: { 'head/kernel': { shape: [1280, 2], data: kernel }, 'head/bias': { shape: [2], data: new Float32Array(2) } },
  });

  const bin = path.join(REPO_ROOT, 'bin', 'imgcls.js');
  const runs: TimedRun[] = [];
  const targets: [number, string][] = [[milestone, path.join(imagesDir, 'first')], [total, imagesDir]];
  for (const [images, folder] of milestone < total ? targets : targets.slice(1)) {
    const run = await runTimed(`imgcls predict`, images, process.execPath,
      [bin, 'predict', checkpoint, folder, '--csv', '--batch-size', values['batch-size'], '--engine', values.engine]);
    runs.push(run);
    if (!values['skip-peer']) {
      runs.push(await runTimed('pytorch peer', images, PYTHON,
        [path.join(REPO_ROOT, 'bench', 'peer_torch_predict.py'), '--dir', folder, '--batch-size', values['batch-size'],
          '--threads', String(cores), '--workers', values['peer-workers']], TORCH_MALLOC_ENV));
    }
  }

  process.stdout.write(`\n${'run'.padEnd(16)} ${'images'.padStart(7)} ${'rows'.padStart(7)} ${'seconds'.padStart(8)} ${'img/s'.padStart(7)} ${'peak RSS MB'.padStart(12)}  exit\n`);
  for (const run of runs) {
    process.stdout.write(`${run.name.padEnd(16)} ${String(run.images).padStart(7)} ${String(run.rows).padStart(7)} ${run.seconds.toFixed(1).padStart(8)} ` +
      `${(run.images / run.seconds).toFixed(1).padStart(7)} ${run.peakRssMb.toFixed(0).padStart(12)}  ${run.code}\n`);
    if (run.code !== 0 || run.rows !== run.images) process.stdout.write(`  ! ${run.name} over ${run.images}: exit ${run.code}, ${run.rows} rows\n${run.stderrTail}\n`);
  }
  const pick = (name: string, images: number) => runs.find((run) => run.name === name && run.images === images);
  for (const name of ['imgcls predict', 'pytorch peer']) {
    const small = pick(name, milestone);
    const large = pick(name, total);
    if (small && large && small !== large) {
      const marginal = (total - milestone) / (large.seconds - small.seconds);
      process.stdout.write(`${name}: marginal ${marginal.toFixed(1)} img/s without start-up; peak RSS ${small.peakRssMb.toFixed(0)} MB at ${milestone} → ` +
        `${large.peakRssMb.toFixed(0)} MB at ${total} (${(large.peakRssMb / small.peakRssMb).toFixed(2)}×)\n`);
    }
  }
  const ours = pick('imgcls predict', total);
  const peer = pick('pytorch peer', total);
  if (ours && peer) {
    process.stdout.write(`ratio at ${total} images: imgcls ${(ours.images / ours.seconds).toFixed(1)} img/s vs PyTorch ${(peer.images / peer.seconds).toFixed(1)} img/s ` +
      `= ${(peer.seconds / ours.seconds).toFixed(2)}× (goal: imgcls ≥ 100 img/s end to end)\n`);
  }
  if (values.json) await fs.writeFile(values.json, JSON.stringify({ runs, cores, loadAverage: os.loadavg() }, null, 2));
}

await main();
