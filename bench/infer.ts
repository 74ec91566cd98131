// Benchmark: EfficientNet-B0 inference images/s on every engine, against the PyTorch CPU peer, in one run.
//
//   npm run bench:infer -- [--iterations 20] [--batch-sizes 1,8,32] [--images 1000] [--quick]
//                          [--skip torch,tfjs,cpu,e2e] [--json results.json]
//
// 1. Forward passes on a fixed random batch at each batch size (median of --iterations timed runs after
//    warm-up): ONNX Runtime (imgcls' engine, intra-op threads = cores), TF.js wasm with 1 thread and with
//    2 threads forced on (tfjs disables wasm threads in Node; each TF.js variant runs in its own child
//    process because the backend is chosen once per process), TF.js pure-JS cpu at batch 1 only (2 runs),
//    and the PyTorch peer (bench/peer_torch_infer.py, /usr/bin/python3, tuned: all cores, channels_last,
//    glibc malloc settings). Each row gives its ratio to PyTorch at the same batch size and its share of
//    the ~235 img/s ceiling (sgemm peak 182–189 GFLOP/s ÷ 0.78 GFLOP per image, ../shared/FACTS.md).
// 2. End to end: `imgcls predict <checkpoint> <dir>` as a child process over --images generated JPEGs
//    (640×480, decode + resize + inference + output), timed wall-clock; a second run over a tenth of
//    the images gives the marginal rate without process start and model load. Then the same pipeline
//    in-process (streamBatches + engine) and decode alone, to show which part limits it.
// --quick: a smoke run (2 iterations, batch sizes 1 and 8, 64 images). Timings mean something only on
// an idle machine.
import { execFile, spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import sharp from 'sharp';
import { DEFAULT_PREPROCESSING, type ImageBatch } from '../src/data/types.js';
import { streamBatches } from '../src/data/stream.js';
import type { BackboneEngine } from '../src/model/types.js';

const HERE = fileURLToPath(import.meta.url);
const REPO_ROOT = path.resolve(path.dirname(HERE), '../..');
const PYTHON = '/usr/bin/python3';
/** Forward-pass ceiling on this CPU: 182–189 GFLOP/s sgemm peak ÷ 0.78 GFLOP per image (FACTS.md). */
const CEILING_IMAGES_PER_SEC = 235;
const SIZE = DEFAULT_PREPROCESSING.inputSize;

interface Measurement {
  engine: string;
  batchSize: number;
  iterations: number;
  medianMs: number;
  imagesPerSec: number;
  note?: string;
}

const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

function randomBatch(count: number): ImageBatch {
  let state = 42;
  const data = Float32Array.from({ length: count * SIZE * SIZE * 3 }, () => ((state = (state * 1103515245 + 12345) >>> 0) >>> 8) / 16777216);
  return { data, count, inputSize: SIZE, files: [], labels: [], skipped: [] };
}

/** Median forward time of `engine` at each batch size. */
async function measureEngine(engine: BackboneEngine, label: string, batchSizes: number[], iterations: number, warmup: number): Promise<Measurement[]> {
  const results: Measurement[] = [];
  for (const batchSize of batchSizes) {
    const batch = randomBatch(batchSize);
    const times: number[] = [];
    for (let i = 0; i < warmup + iterations; i++) {
      const start = performance.now();
      await engine.run(batch);
      if (i >= warmup) times.push(performance.now() - start);
    }
    const medianMs = median(times);
    results.push({ engine: label, batchSize, iterations, medianMs, imagesPerSec: (batchSize * 1000) / medianMs });
  }
  return results;
}

/** Child mode: one TF.js backend/thread setting, results as JSON lines on stdout. */
async function runTfjsChild(backend: 'wasm' | 'cpu', threads: number, batchSizes: number[], iterations: number): Promise<void> {
  const tf = await import('@tensorflow/tfjs');
  let note: string | undefined;
  if (backend === 'wasm' && threads > 1) {
    const wasm = await import('@tensorflow/tfjs-backend-wasm');
    tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', true); // off in Node by default (tensorflow/tfjs#3830)
    wasm.setThreadsCount(threads);
  }
  const { initBackend } = await import('../src/backend/backend.js');
  const { createTfjsEngine } = await import('../src/model/tfjs-engine.js');
  await initBackend(backend);
  if (backend === 'wasm') {
    const wasm = await import('@tensorflow/tfjs-backend-wasm');
    const actual = wasm.getThreadsCount();
    if (actual !== threads) note = `asked for ${threads} threads, wasm runs ${actual}`;
  }
  const engine = await createTfjsEngine();
  const label = backend === 'wasm' ? `tfjs-wasm ${threads}t` : 'tfjs-cpu (pure JS)';
  for (const m of await measureEngine(engine, label, batchSizes, iterations, 1)) {
    process.stdout.write(`${JSON.stringify({ ...m, note })}\n`);
  }
  await engine.dispose();
}

/** Runs a child process and parses the JSON lines it prints; failures become a row with the reason. */
async function jsonLines(command: string, args: string[], env: NodeJS.ProcessEnv, label: string): Promise<Measurement[]> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => { stdout += chunk; });
    child.stderr.on('data', (chunk) => { stderr += chunk; });
    child.on('close', (code) => {
      const rows = stdout.split('\n').filter((line) => line.startsWith('{')).map((line) => JSON.parse(line) as Measurement);
      if (code !== 0 && rows.length === 0) {
        const reason = stderr.split('\n').filter((l) => /error/i.test(l)).slice(-1)[0]?.trim() ?? `exit ${code}`;
        rows.push({ engine: label, batchSize: 0, iterations: 0, medianMs: NaN, imagesPerSec: NaN, note: `failed: ${reason}` });
      }
      resolve(rows);
    });
  });
}

/** Writes `count` 640×480 JPEGs (smooth seeded gradients and shapes) into `dir`; reuses them when already there. */
async function generateImages(dir: string, count: number): Promise<string[]> {
  const files = Array.from({ length: count }, (_, i) => path.join(dir, `img-${String(i).padStart(5, '0')}.jpg`));
  const existing = new Set(await fs.readdir(dir).catch(() => [] as string[]));
  await fs.mkdir(dir, { recursive: true });
  const [width, height] = [640, 480];
  let next = 0;
  const work = async () => {
    while (next < count) {
      const i = next++;
      if (existing.has(path.basename(files[i]))) continue;
      const pixels = Buffer.alloc(width * height * 3);
      for (let y = 0; y < height; y++) {
        for (let x = 0; x < width; x++) {
          const o = (y * width + x) * 3;
          const inside = (x - 320 - (i % 97)) ** 2 + (y - 240) ** 2 < (60 + (i % 50)) ** 2;
          pixels[o] = inside ? 230 : (x * 255) / width;
          pixels[o + 1] = inside ? 40 : ((y + i * 7) * 255 / height) % 256;
          pixels[o + 2] = (((x ^ y) + i * 13) & 0xff) >> 1;
        }
      }
      await sharp(pixels, { raw: { width, height, channels: 3 } }).jpeg({ quality: 85 }).toFile(files[i]);
    }
  };
  await Promise.all(Array.from({ length: 4 }, work));
  return files;
}

async function timeCommand(args: string[]): Promise<number> {
  const start = performance.now();
  await promisify(execFile)(process.execPath, args, { cwd: REPO_ROOT, maxBuffer: 256 * 1024 * 1024 });
  return (performance.now() - start) / 1000;
}

function formatRows(rows: Measurement[], torch: Map<number, number>): string {
  const lines = [`${'engine'.padEnd(22)} ${'batch'.padStart(5)} ${'img/s'.padStart(8)} ${'ms/batch'.padStart(9)} ${'× torch'.padStart(8)} ${'of ceiling'.padStart(10)}  note`];
  for (const r of rows) {
    const ratio = torch.get(r.batchSize);
    lines.push(`${r.engine.padEnd(22)} ${String(r.batchSize).padStart(5)} ${r.imagesPerSec.toFixed(1).padStart(8)} ${r.medianMs.toFixed(1).padStart(9)} ` +
      `${(ratio ? (r.imagesPerSec / ratio).toFixed(2) : '–').padStart(8)} ${`${((100 * r.imagesPerSec) / CEILING_IMAGES_PER_SEC).toFixed(0)}%`.padStart(10)}  ${r.note ?? ''}`);
  }
  return lines.join('\n');
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      iterations: { type: 'string' },
      'batch-sizes': { type: 'string' },
      images: { type: 'string' },
      quick: { type: 'boolean', default: false },
      skip: { type: 'string', default: '' },
      json: { type: 'string' },
      // child mode (internal)
      child: { type: 'string' },
      threads: { type: 'string', default: '1' },
    },
  });
  const quick = values.quick;
  const iterations = Number(values.iterations ?? (quick ? 2 : 20));
  const batchSizes = (values['batch-sizes'] ?? (quick ? '1,8' : '1,8,32')).split(',').map(Number);
  const imageCount = Number(values.images ?? (quick ? 64 : 1000));
  const skip = new Set(values.skip.split(',').filter(Boolean));
  const cores = os.availableParallelism();

  if (values.child) {
    await runTfjsChild(values.child as 'wasm' | 'cpu', Number(values.threads), batchSizes, iterations);
    return;
  }

  process.stdout.write(`imgcls bench:infer — ${os.cpus()[0]?.model ?? 'cpu'}, ${cores} cores, Node ${process.version}, load ${os.loadavg()[0].toFixed(2)}\n`);
  const rows: Measurement[] = [];

  // 1. ONNX Runtime
  const { createOnnxEngine } = await import('../src/model/onnx/ort-engine.js');
  const onnx = await createOnnxEngine();
  rows.push(...(await measureEngine(onnx, `onnxruntime ${cores}t`, batchSizes, iterations, 3)));
  await onnx.dispose();

  // TF.js variants, each in its own process
  const self = [HERE, '--batch-sizes', batchSizes.join(','), '--iterations', String(Math.max(2, Math.round(iterations / 5)))];
  if (!skip.has('tfjs')) {
    rows.push(...(await jsonLines(process.execPath, [...self, '--child', 'wasm', '--threads', '1'], {}, 'tfjs-wasm 1t')));
    rows.push(...(await jsonLines(process.execPath, [...self, '--child', 'wasm', '--threads', String(cores)], {}, `tfjs-wasm ${cores}t`)));
  }
  if (!skip.has('cpu')) {
    rows.push(...(await jsonLines(process.execPath, [HERE, '--batch-sizes', '1', '--iterations', '2', '--child', 'cpu'], {}, 'tfjs-cpu (pure JS)')));
  }

  // PyTorch peer
  const torch = new Map<number, number>();
  if (!skip.has('torch')) {
    const peer = await jsonLines(PYTHON, [path.join(REPO_ROOT, 'bench', 'peer_torch_infer.py'), '--batch-sizes', batchSizes.join(','),
      '--iterations', String(iterations), '--threads', String(cores)],
    { MALLOC_MMAP_MAX_: '0', MALLOC_TRIM_THRESHOLD_: '68719476736' }, 'pytorch');
    for (const r of peer) {
      rows.push({ ...r, engine: `pytorch ${cores}t tuned` });
      if (r.batchSize > 0) torch.set(r.batchSize, r.imagesPerSec);
    }
  }
  process.stdout.write(`\nForward pass, ${SIZE}×${SIZE}, median of ${iterations} runs (TF.js: ${Math.max(2, Math.round(iterations / 5))}):\n${formatRows(rows, torch)}\n`);

  // 2. end to end
  const e2e: Record<string, number | string> = {};
  if (!skip.has('e2e')) {
    const dir = path.join(os.tmpdir(), `imgcls-bench-infer-${imageCount}`);
    const files = await generateImages(path.join(dir, 'images'), imageCount);
    const checkpoint = path.join(dir, 'bench.imgcls');
    const { writeCheckpoint } = await import('../src/model/checkpoint.js');
    const kernel = Float32Array.from({ length: 1280 * 2 }, (_, i) => Math.sin(i) * 0.05);
    await writeCheckpoint(checkpoint, {
      spec: { arch: 'efficientnet-b0', classNames: ['logo', 'others'], preprocessing: { ...DEFAULT_PREPROCESSING }, dropout: 0.2, mode: 'head' },
      training: { config: { note: 'bench/infer.ts: fixed head' }, epoch: 0, epochs: 0, datasetFingerprint: 'none', optimizerSteps: 0 },
      metrics: null,
      weights: { 'head/kernel': { shape: [1280, 2], data: kernel }, 'head/bias': { shape: [2], data: new Float32Array(2) } },
    });
    const predictCli = path.join(REPO_ROOT, 'src', 'cli', 'predict.ts');
    const hasPredict = await fs.access(predictCli).then(() => true, () => false);
    if (hasPredict) {
      const bin = path.join(REPO_ROOT, 'bin', 'imgcls.js');
      const subset = path.join(dir, 'subset');
      await fs.mkdir(subset, { recursive: true });
      const tenth = files.slice(0, Math.max(1, Math.round(imageCount / 10)));
      await Promise.all(tenth.map((f) => fs.copyFile(f, path.join(subset, path.basename(f)))));
      const fullSeconds = await timeCommand([bin, 'predict', checkpoint, path.join(dir, 'images'), '--json']);
      const subsetSeconds = await timeCommand([bin, 'predict', checkpoint, subset, '--json']);
      e2e['imgcls predict, wall clock (img/s)'] = (imageCount / fullSeconds).toFixed(1);
      e2e['imgcls predict, marginal without start-up (img/s)'] = ((imageCount - tenth.length) / (fullSeconds - subsetSeconds)).toFixed(1);
      e2e['imgcls predict, seconds'] = fullSeconds.toFixed(2);
    } else {
      e2e.note = 'src/cli/predict.ts missing: measured decode + engine via streamBatches only';
    }
    // in-process: the same pipeline without the CLI (ORT in its worker thread, then on the main thread), and decode alone
    let start = 0;
    let count = 0;
    for (const [worker, spinning] of [[true, true], [false, true], [true, false]]) {
      const engine = await createOnnxEngine({ worker, spinning });
      start = performance.now();
      count = 0;
      for await (const batch of streamBatches(files, { batchSize: 32 })) count += (await engine.run(batch)).pooled.length / 1280;
      e2e[`streamBatches + onnxruntime ${engine.runMode}${spinning ? '' : ' no-spin'}, b32 (img/s)`] = ((count * 1000) / (performance.now() - start)).toFixed(1);
      await engine.dispose();
    }
    start = performance.now();
    count = 0;
    for await (const batch of streamBatches(files, { batchSize: 32 })) count += batch.count;
    e2e['decode + resize alone, streamBatches (img/s)'] = ((count * 1000) / (performance.now() - start)).toFixed(1);
    process.stdout.write(`\nEnd to end over ${imageCount} generated 640×480 JPEGs (decode included):\n`);
    for (const [key, value] of Object.entries(e2e)) process.stdout.write(`  ${key.padEnd(52)} ${value}\n`);
  }
  const b8 = rows.find((r) => r.engine.startsWith('onnxruntime') && r.batchSize === 8);
  if (b8 && torch.get(8)) {
    process.stdout.write(`\nGoal check: onnxruntime b8 = ${(b8.imagesPerSec / (torch.get(8) as number)).toFixed(2)}× PyTorch (goal ≥ 1.6×), ` +
      `${((100 * b8.imagesPerSec) / CEILING_IMAGES_PER_SEC).toFixed(0)}% of the ceiling (goal ≥ 80%)\n`);
  }
  if (values.json) await fs.writeFile(values.json, JSON.stringify({ rows, e2e, cores, loadAverage: os.loadavg() }, null, 2));
}

await main();
