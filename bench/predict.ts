// Benchmark: `imgcls predict` over many generated images — images/s and peak RSS at 1,000 and 10,000
// images (RSS must stay flat: predict streams) — against the PyTorch CPU peer doing the same job
// (bench/peer_torch_predict.py: PIL decode + squash resize + efficientnet_b0 + softmax + CSV rows).
//
//   npm run bench:predict                                  # 10,000 images, milestone 1,000, with the peer
//   npm run bench:predict -- --images 200 --milestone 50   # smoke run
//   npm run bench:predict -- --skip-peer --batch-size 64 --engine onnxruntime
//
// Every run is a child process timed from spawn to exit (process start and model load included) with
// its peak RSS from /usr/bin/time (%M). The same run measures the stages alone, in this process,
// interleaved (decode-only: streamBatches with predict's defaults and with 8 images at a time, the better counts; inference-only: the ONNX engine on
// fixed b16 batches as one session with and without spinning and as imgcls' default side-by-side sessions,
// the best counts) and prints the combined bound
// 1 / (1/decode + 1/inference) (both stages share the cores) and imgcls' share of it. Head-mode
// training runs on a 2,000-image dataset made of the same images (hard links), timed with its
// feature phase, beside imgcls predict over the same folder. Images: 640×480 JPEGs, seeded gradients and shapes, written
// once into $TMPDIR/imgcls-bench-predict/ (first/ holds the milestone's images, rest/ the others) and
// reused. The checkpoint is a fixed 2-class head on the pretrained backbone (no training needed) with
// open-set data at its cap (OPEN_SET_MAX_IMAGES = 256 stored training images, seeded random features, with the pooled
// intermediate stages OPEN_SET_LAYERS as a trained head-mode checkpoint stores them): `imgcls predict` gives every row its
// verdict, and `--no-verdict` runs over the same images price it (goal ≤ 5%): at the full count the runs go with,
// without, without, with, and the sums are compared; the main figure is the mean of the two with-verdict runs. At the
// milestone, A/B rows run the engine as one session (spinning, and not). In this process it also prices the verdict
// alone and the engine with and without fetching those stages.
// Timings mean something only on an idle machine.
import { spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { streamBatches } from '../src/data/stream.js';
import { DEFAULT_PREPROCESSING } from '../src/data/types.js';
import { createOnnxEngine, ortSessions } from '../src/model/onnx/ort-engine.js';
import { expandInputs } from '../src/predict/inputs.js';
import { writeCheckpoint, writeCheckpointOpenSet } from '../src/model/checkpoint.js';
import { buildOpenSet, layerChannels, OPEN_SET_LAYERS, OPEN_SET_MAX_IMAGES, openSetForCheckpoint, openSetVerdicts, joinPooledLayers } from '../src/model/open-set.js';
import { seededRandom } from '../src/util/random.js';

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
  /** User + system CPU seconds of the child (all its threads). */
  cpuSeconds: number;
  code: number | null;
  stderrTail: string;
  /** Everything the child printed on stdout, when asked for (the train run's JSON). */
  stdout?: string;
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

/** Runs a command under /usr/bin/time, counting stdout lines as they stream (kept only with keepStdout). */
function runTimed(name: string, images: number, command: string, args: string[], env: NodeJS.ProcessEnv = {}, keepStdout = false): Promise<TimedRun> {
  return new Promise((resolve) => {
    const started = performance.now();
    const child = spawn('/usr/bin/time', ['-f', 'imgcls-bench-maxrss-kb=%M cpu=%U+%S', command, ...args], {
      cwd: REPO_ROOT,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let rows = -1; // the CSV header is not a row
    let stderr = '';
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => {
      for (const byte of chunk) if (byte === 0x0a) rows++;
      if (keepStdout) stdout += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString()).slice(-4000);
    });
    child.on('close', (code) => {
      const seconds = (performance.now() - started) / 1000;
      const rss = Number(/imgcls-bench-maxrss-kb=(\d+)/.exec(stderr)?.[1] ?? NaN);
      const cpu = /cpu=([\d.]+)\+([\d.]+)/.exec(stderr);
      resolve({ name, images, seconds, rows, peakRssMb: rss / 1024, cpuSeconds: cpu ? Number(cpu[1]) + Number(cpu[2]) : NaN, code, stderrTail: stderr.slice(-1500), ...(keepStdout ? { stdout } : {}) });
    });
  });
}

/** Stage throughputs measured alone in this process; the bound is what decode ∥ inference can reach on shared cores. */
interface StageRates {
  decode: number;
  inference: number;
  /** One session with all cores as intra-op threads, spinning (ONNX Runtime's own default). */
  inferenceSpinning: number;
  /** One session with all cores as intra-op threads, not spinning. */
  inferenceQuiet: number;
  /** imgcls' default engine: ortSessions(cores) one-thread sessions side by side. */
  inferenceSessions: number;
  /** 1 / (1/decode + 1/inference), img/s. */
  bound: number;
}

/** The in-run rate a predict child reports on stderr ("in 9.8 s (102.0 files/s)"): classification without start-up and model load. */
function reportedRate(run: TimedRun): number {
  return Number(/\(([\d.]+) files\/s\)/.exec(run.stderrTail)?.[1] ?? NaN);
}

/**
 * Decode-only and inference-only throughput, interleaved `rounds` times; the best round of each counts
 * (the least disturbed one), so the bound is as high as this machine allows.
 */
async function measureStages(files: string[], rounds: number, batchSize: number): Promise<StageRates> {
  const size = DEFAULT_PREPROCESSING.inputSize;
  const data = Float32Array.from({ length: batchSize * size * size * 3 }, (_, i) => (i % 251) / 255);
  const batch = { data, count: batchSize, inputSize: size, files: [], labels: [], skipped: [] };
  const engines = {
    quiet: await createOnnxEngine({ spinning: false, sessions: 1 }),
    spinning: await createOnnxEngine({ spinning: true, sessions: 1 }),
    sessions: await createOnnxEngine(),
  };
  const inferenceImages = Math.max(batchSize, Math.min(files.length, 320) - (Math.min(files.length, 320) % batchSize));
  const rate = async (images: number, job: () => Promise<void>): Promise<number> => {
    const started = performance.now();
    await job();
    return (images * 1000) / (performance.now() - started);
  };
  // predict's defaults (4 images at a time) leave part of the cores idle when decoding is all there is to do; 8 at a
  // time keeps them busy, so the better of the two is what decoding alone can reach
  const decode = (concurrency: number) => rate(files.length, async () => {
    for await (const decoded of streamBatches(files, { batchSize, concurrency })) if (decoded.skipped.length > 0) throw new Error(`cannot decode ${decoded.skipped[0].file}`);
  });
  const infer = (engine: typeof engines.quiet) => rate(inferenceImages, async () => {
    for (let done = 0; done < inferenceImages; done += batchSize) await engine.run(batch);
  });
  const best = { decode: 0, inferenceQuiet: 0, inferenceSpinning: 0, inferenceSessions: 0 };
  try {
    for (const engine of Object.values(engines)) await infer(engine); // warm-up: first runs allocate
    for (let round = 0; round < rounds; round++) {
      best.decode = Math.max(best.decode, await decode(4), await decode(8));
      best.inferenceQuiet = Math.max(best.inferenceQuiet, await infer(engines.quiet));
      best.inferenceSpinning = Math.max(best.inferenceSpinning, await infer(engines.spinning));
      best.inferenceSessions = Math.max(best.inferenceSessions, await infer(engines.sessions));
    }
  } finally {
    for (const engine of Object.values(engines)) await engine.dispose();
  }
  // the bound takes the fastest way to run the network alone, whichever it is
  const inference = Math.max(best.inferenceQuiet, best.inferenceSpinning, best.inferenceSessions);
  return { ...best, inference, bound: 1 / (1 / best.decode + 1 / inference) };
}

/**
 * The open-set verdict's extra engine work, in this process: the ONNX engine on fixed b16 batches with and without also
 * returning OPEN_SET_LAYERS pooled (in the graph), interleaved `rounds` times; the best round of each counts.
 */
async function measureLayerFetch(rounds: number, batchSize: number): Promise<{ plainMs: number; layersMs: number }> {
  const size = DEFAULT_PREPROCESSING.inputSize;
  const data = Float32Array.from({ length: batchSize * size * size * 3 }, (_, i) => (i % 251) / 255);
  const batch = { data, count: batchSize, inputSize: size, files: [], labels: [], skipped: [] };
  const engine = await createOnnxEngine({ spinning: false });
  const dims = layerChannels(OPEN_SET_LAYERS);
  const images = 160 - (160 % batchSize) || batchSize;
  const msPerImage = async (withLayers: boolean): Promise<number> => {
    const started = performance.now();
    for (let done = 0; done < images; done += batchSize) {
      if (!withLayers) await engine.run(batch);
      else joinPooledLayers((await engine.run(batch, { pooledLayers: OPEN_SET_LAYERS })).pooledLayers!, OPEN_SET_LAYERS, dims, batchSize);
    }
    return (performance.now() - started) / images;
  };
  const best = { plainMs: Infinity, layersMs: Infinity };
  try {
    await msPerImage(false); // warm-up: one session per fetch list, first runs allocate
    await msPerImage(true);
    for (let round = 0; round < rounds; round++) {
      best.plainMs = Math.min(best.plainMs, await msPerImage(false));
      best.layersMs = Math.min(best.layersMs, await msPerImage(true));
    }
  } finally {
    await engine.dispose();
  }
  return best;
}

/** A dataset folder of two classes made of hard links to `files` (first half a/, second half b/), rebuilt each run. */
async function linkDataset(dir: string, files: string[]): Promise<void> {
  await fs.rm(dir, { recursive: true, force: true });
  for (const className of ['a', 'b']) await fs.mkdir(path.join(dir, className), { recursive: true });
  const half = Math.ceil(files.length / 2);
  await Promise.all(files.map((file, i) => fs.link(file, path.join(dir, i < half ? 'a' : 'b', path.basename(file)))
    .catch(() => fs.copyFile(file, path.join(dir, i < half ? 'a' : 'b', path.basename(file))))));
}

const fmt = (value: number, digits = 1): string => (Number.isFinite(value) ? value.toFixed(digits) : '–');
const verdict = (ok: boolean): string => (ok ? 'ok' : 'NOT MET');

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      images: { type: 'string', default: '10000' },
      milestone: { type: 'string', default: '1000' },
      'train-images': { type: 'string', default: '2000' },
      'batch-size': { type: 'string', default: '16' },
      engine: { type: 'string', default: 'auto' },
      'skip-peer': { type: 'boolean', default: false },
      'skip-train': { type: 'boolean', default: false },
      'stage-rounds': { type: 'string', default: '3' },
      'peer-workers': { type: 'string', default: '1' },
      dir: { type: 'string', default: path.join(os.tmpdir(), 'imgcls-bench-predict') },
      json: { type: 'string' },
    },
  });
  const total = Number(values.images);
  const milestone = Math.min(Number(values.milestone), total);
  const trainImages = Math.min(Number(values['train-images']), total);
  const batchSize = Number(values['batch-size']);
  if (![total, milestone, trainImages, batchSize, Number(values['stage-rounds'])].every((n) => Number.isInteger(n) && n > 0)) {
    throw new Error('--images, --milestone, --train-images, --batch-size and --stage-rounds must be positive integers');
  }
  const cores = os.availableParallelism();
  const load = () => os.loadavg().map((l) => l.toFixed(1)).join(' ');
  process.stdout.write(`bench:predict  images=${total} milestone=${milestone} train-images=${trainImages} batch=${batchSize} engine=${values.engine} ` +
    `cores=${cores} node ${process.version} load ${load()}\n`);

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
  // open-set data at the cap: the verdict's cost does not depend on the values, only on how many are stored
  const random = seededRandom(5);
  // with the pooled intermediate stages a head-mode checkpoint stores by default (OPEN_SET_LAYERS), class-conditional
  const storedFeatures = Float32Array.from({ length: OPEN_SET_MAX_IMAGES * 1280 }, () => Math.max(0, random() - 0.6));
  const layerDims = layerChannels(OPEN_SET_LAYERS);
  const layerWidth = layerDims.reduce((sum, dim) => sum + dim, 0);
  const storedLayers = Float32Array.from({ length: OPEN_SET_MAX_IMAGES * layerWidth }, () => random() - 0.5);
  const openSet = buildOpenSet(storedFeatures, Array.from({ length: OPEN_SET_MAX_IMAGES }, (_, i) => `/bench/train/${i % 2 ? 'others' : 'logo'}/${i}.jpg`),
    Array.from({ length: OPEN_SET_MAX_IMAGES }, (_, i) => i % 2), { layers: { names: OPEN_SET_LAYERS, dims: layerDims, features: storedLayers } });
  const { header: openSetHeader, tensors: openSetTensors } = openSetForCheckpoint(openSet);
  const checkpointBefore = (await fs.stat(checkpoint)).size;
  await writeCheckpointOpenSet(checkpoint, openSetHeader, openSetTensors);
  const checkpointAfter = (await fs.stat(checkpoint)).size;
  const queries = Float32Array.from({ length: 256 * 1280 }, () => Math.max(0, random() - 0.6));
  const queryLayers = Float32Array.from({ length: 256 * layerWidth }, () => random() - 0.5);
  const verdictsOf = (start: number) => openSetVerdicts(openSet, queries.subarray(start * 1280, (start + 16) * 1280), 16, {
    classNames: ['logo', 'others'], predicted: Array.from({ length: 16 }, (_, i) => i % 2), layerFeatures: queryLayers.subarray(start * layerWidth, (start + 16) * layerWidth),
  });
  verdictsOf(0); // warm-up
  const verdictStarted = performance.now();
  for (let start = 0; start < 256; start += 16) verdictsOf(start);
  const verdictMsPerImage = (performance.now() - verdictStarted) / 256;
  const fetch = await measureLayerFetch(Number(values['stage-rounds']), batchSize);
  process.stdout.write(`open-set data: ${OPEN_SET_MAX_IMAGES} stored images + ${OPEN_SET_LAYERS.join(', ')} pooled, checkpoint ${(checkpointBefore / 1024).toFixed(0)} KB → ` +
    `${(checkpointAfter / 1024).toFixed(0)} KB; the verdict alone (class kNN over ${OPEN_SET_MAX_IMAGES}, head input + stages, b16) ${verdictMsPerImage.toFixed(3)} ms per image; ` +
    `the engine b${batchSize} ${fetch.plainMs.toFixed(3)} ms per image, with ${OPEN_SET_LAYERS.join(' + ')} fetched and pooled ${fetch.layersMs.toFixed(3)} ms ` +
    `(+${(fetch.layersMs - fetch.plainMs).toFixed(3)} ms), in this process (best of ${values['stage-rounds']} interleaved rounds)\n`);

  // 1. the stages alone, in this process: the bound
  const allFiles = await expandInputs(imagesDir);
  const stages = await measureStages(allFiles.slice(0, milestone), Number(values['stage-rounds']), batchSize);
  process.stdout.write(`\nstages alone (best of ${values['stage-rounds']} interleaved rounds, load ${load()}):\n` +
    `  decode only (streamBatches, 4 or 8 at a time)     ${fmt(stages.decode).padStart(7)} img/s over ${milestone} images\n` +
    `  inference only (ONNX Runtime b${batchSize}, 1 session × ${cores} threads, no spinning) ${fmt(stages.inferenceQuiet).padStart(7)} img/s\n` +
    `  inference only (ONNX Runtime b${batchSize}, 1 session × ${cores} threads, spinning)    ${fmt(stages.inferenceSpinning).padStart(7)} img/s\n` +
    `  inference only (ONNX Runtime b${batchSize}, imgcls default: ${ortSessions(cores)} one-thread sessions) ${fmt(stages.inferenceSessions).padStart(7)} img/s\n` +
    `  bound 1/(1/decode + 1/inference)                  ${fmt(stages.bound).padStart(7)} img/s\n`);

  // 2. the timed child runs; to add a row, push another entry (each row: a name, its image count, a command)
  const bin = path.join(REPO_ROOT, 'bin', 'imgcls.js');
  const predictArgs = (folder: string, extra: string[] = []) =>
    [bin, 'predict', checkpoint, folder, '--csv', '--batch-size', String(batchSize), '--engine', values.engine, ...extra];
  const peerArgs = (folder: string) => [path.join(REPO_ROOT, 'bench', 'peer_torch_predict.py'), '--dir', folder, '--batch-size', String(batchSize),
    '--threads', String(cores), '--workers', values['peer-workers']];
  interface RowSpec { name: string; images: number; run: () => Promise<TimedRun> }
  const rows: RowSpec[] = [];
  const targets: [number, string][] = milestone < total ? [[milestone, path.join(imagesDir, 'first')], [total, imagesDir]] : [[total, imagesDir]];
  for (const [images, folder] of targets) {
    rows.push({ name: 'imgcls predict', images, run: () => runTimed('imgcls predict', images, process.execPath, predictArgs(folder)) });
    if (images === total) {
      // the verdict's price, A B B A: with, without, without, with (a drift of the machine's speed cancels out of the sums)
      for (const name of ['predict no-verdict', 'predict no-verdict', 'imgcls predict']) {
        rows.push({ name, images, run: () => runTimed(name, images, process.execPath, predictArgs(folder, name === 'imgcls predict' ? [] : ['--no-verdict'])) });
      }
    }
    if (!values['skip-peer']) rows.push({ name: 'pytorch peer', images, run: () => runTimed('pytorch peer', images, PYTHON, peerArgs(folder), TORCH_MALLOC_ENV) });
  }
  // A/B in the same run: ONNX Runtime's own default (intra-op threads spin) against imgcls' default (they sleep)
  const [abImages, abFolder] = targets[0];
  rows.splice(1, 0, { name: 'predict spinning', images: abImages,
    run: () => runTimed('predict spinning', abImages, process.execPath, predictArgs(abFolder), { IMGCLS_ORT_SPINNING: '1', IMGCLS_ORT_SESSIONS: '1' }) });
  // and against one session with every core as its intra-op threads (imgcls' engine before side-by-side sessions)
  rows.splice(2, 0, { name: 'predict 1 session', images: abImages,
    run: () => runTimed('predict 1 session', abImages, process.execPath, predictArgs(abFolder), { IMGCLS_ORT_SESSIONS: '1' }) });
  const trainDir = path.join(values.dir, `train-${trainImages}`);
  const trainOut = path.join(values.dir, 'train-run');
  if (!values['skip-train']) {
    await linkDataset(trainDir, allFiles.slice(0, trainImages));
    rows.push({ name: 'imgcls predict', images: trainImages, run: () => runTimed('imgcls predict', trainImages, process.execPath, predictArgs(trainDir)) });
    rows.push({
      name: 'imgcls train head',
      images: trainImages,
      run: async () => {
        await fs.rm(trainOut, { recursive: true, force: true }); // a cold feature cache: every feature is computed
        return runTimed('imgcls train head', trainImages, process.execPath,
          [bin, 'train', trainDir, '--mode', 'head', '--epochs', '3', '--json', '--out', path.join(trainOut, 'run'), '--cache-dir', path.join(trainOut, 'cache'), '--engine', values.engine],
          {}, true);
      },
    });
  }
  const runs: TimedRun[] = [];
  for (const row of rows) {
    process.stdout.write(`running ${row.name} over ${row.images} images (load ${load()})\n`);
    runs.push(await row.run());
  }

  process.stdout.write(`\n${'run'.padEnd(18)} ${'images'.padStart(7)} ${'rows'.padStart(7)} ${'seconds'.padStart(8)} ${'img/s'.padStart(7)} ${'in-run'.padStart(7)} ${'peak RSS MB'.padStart(12)}  exit\n`);
  for (const run of runs) {
    const isTrain = run.name.startsWith('imgcls train');
    process.stdout.write(`${run.name.padEnd(18)} ${String(run.images).padStart(7)} ${String(isTrain ? '' : run.rows).padStart(7)} ${run.seconds.toFixed(1).padStart(8)} ` +
      `${(run.images / run.seconds).toFixed(1).padStart(7)} ${fmt(reportedRate(run)).padStart(7)} ${run.peakRssMb.toFixed(0).padStart(12)}  ${run.code}\n`);
    if (run.code !== 0 || (!isTrain && run.rows !== run.images)) process.stdout.write(`  ! ${run.name} over ${run.images}: exit ${run.code}, ${run.rows} rows\n${run.stderrTail}\n`);
  }
  process.stdout.write('(img/s: wall clock from spawn to exit; in-run: what imgcls predict reports after loading the model)\n\n');

  // 3. the figures the issue asks for
  const pick = (name: string, images: number) => runs.find((run) => run.name === name && run.images === images);
  const pickAll = (name: string, images: number) => runs.filter((run) => run.name === name && run.images === images && run.code === 0);
  const mean = (values: number[]) => values.reduce((sum, v) => sum + v, 0) / values.length;
  // imgcls predict at `total`: the two with-verdict runs of the A B B A (both printed; the goals are judged on their mean)
  const oursRuns = pickAll('imgcls predict', total);
  const noVerdictRuns = pickAll('predict no-verdict', total);
  const peer = pick('pytorch peer', total);
  {
    const small = pick('imgcls predict', milestone);
    if (small && oursRuns.length > 0 && milestone < total) {
      const largest = Math.max(...oursRuns.map((run) => run.peakRssMb));
      const ratio = largest / small.peakRssMb;
      process.stdout.write(`imgcls predict: marginal ${((total - milestone) / (mean(oursRuns.map((run) => run.seconds)) - small.seconds)).toFixed(1)} img/s without start-up; ` +
        `peak RSS ${small.peakRssMb.toFixed(0)} MB at ${milestone} → ${oursRuns.map((run) => run.peakRssMb.toFixed(0)).join(' / ')} MB at ${total} ` +
        `(largest ${ratio.toFixed(2)}×, goal ≤ 1.1×: ${verdict(ratio <= 1.1)})\n`);
    }
    const peerSmall = pick('pytorch peer', milestone);
    if (peerSmall && peer && milestone < total) {
      process.stdout.write(`pytorch peer: marginal ${((total - milestone) / (peer.seconds - peerSmall.seconds)).toFixed(1)} img/s without start-up; ` +
        `peak RSS ${peerSmall.peakRssMb.toFixed(0)} MB at ${milestone} → ${peer.peakRssMb.toFixed(0)} MB at ${total} (${(peer.peakRssMb / peerSmall.peakRssMb).toFixed(2)}×)\n`);
    }
  }
  const defaultRun = pick('imgcls predict', abImages);
  for (const [name, what] of [['predict spinning', 'one session, spinning threads'], ['predict 1 session', `one session × ${cores} threads`]] as const) {
    const other = pick(name, abImages);
    if (defaultRun && other) {
      process.stdout.write(`A/B at ${abImages} images: imgcls default (${ortSessions(cores)} one-thread sessions, threads sleep) ${fmt(reportedRate(defaultRun))} img/s in-run ` +
        `vs ${what} ${fmt(reportedRate(other))} (${fmt(reportedRate(defaultRun) / reportedRate(other), 2)}×)\n`);
    }
  }
  if (oursRuns.length > 0 && noVerdictRuns.length > 0) {
    const withSeconds = mean(oursRuns.map((run) => run.seconds));
    const withoutSeconds = mean(noVerdictRuns.map((run) => run.seconds));
    const extra = withSeconds / withoutSeconds - 1;
    process.stdout.write(`open-set verdict at ${total} images (A B B A): with ${oursRuns.map((run) => run.seconds.toFixed(1)).join(', ')} s, ` +
      `without (--no-verdict) ${noVerdictRuns.map((run) => run.seconds.toFixed(1)).join(', ')} s → ${(100 * extra).toFixed(1)}% slower on the means ` +
      `(goal ≤ 5%: ${verdict(extra <= 0.05)}); in-run ${oursRuns.map((run) => fmt(reportedRate(run))).join(', ')} vs ${noVerdictRuns.map((run) => fmt(reportedRate(run))).join(', ')} img/s; ` +
      `CPU (user + system) ${oursRuns.map((run) => fmt(run.cpuSeconds)).join(', ')} vs ${noVerdictRuns.map((run) => fmt(run.cpuSeconds)).join(', ')} s = ` +
      `${fmt(100 * (mean(oursRuns.map((run) => run.cpuSeconds)) / mean(noVerdictRuns.map((run) => run.cpuSeconds)) - 1))}% more\n`);
  }
  const oursRate = oursRuns.length > 0 ? total / mean(oursRuns.map((run) => run.seconds)) : NaN;
  if (oursRuns.length > 0) {
    const inRun = mean(oursRuns.map(reportedRate));
    process.stdout.write(`imgcls predict at ${total} images: ${oursRuns.map((run) => fmt(total / run.seconds)).join(', ')} img/s wall, mean ${fmt(oursRate)} (goal ≥ 100: ${verdict(oursRate >= 100)}); ` +
      `${fmt(oursRate / stages.bound, 2)} of the bound ${fmt(stages.bound)} img/s (goal ≥ 0.9: ${verdict(oursRate / stages.bound >= 0.9)}); ` +
      `in-run ${fmt(inRun)} img/s = ${fmt(inRun / stages.bound, 2)} of the bound\n`);
  }
  if (oursRuns.length > 0 && peer) {
    process.stdout.write(`ratio at ${total} images: imgcls ${fmt(oursRate)} img/s vs PyTorch ${fmt(peer.images / peer.seconds)} img/s = ${(oursRate / (peer.images / peer.seconds)).toFixed(2)}×\n`);
  }
  const train = runs.find((run) => run.name === 'imgcls train head');
  const predictSame = pick('imgcls predict', trainImages);
  let trainFigures: Record<string, unknown> | undefined;
  if (train && predictSame) {
    try {
      const result = JSON.parse(train.stdout ?? '') as { timings: { featuresMs: number; trainMs: number; totalMs: number }; cache: { computed: number }; skipped?: unknown[] };
      const featureRate = (result.cache.computed * 1000) / result.timings.featuresMs;
      const predictRate = reportedRate(predictSame);
      trainFigures = { ...result.timings, computed: result.cache.computed, featureRate, predictRate, wallSeconds: train.seconds };
      process.stdout.write(`head-mode training on ${trainImages} images (3 epochs, cold feature cache): ${train.seconds.toFixed(1)} s wall, ` +
        `feature phase ${(result.timings.featuresMs / 1000).toFixed(1)} s for ${result.cache.computed} features = ${fmt(featureRate)} img/s (engine start included), ` +
        `training ${(result.timings.trainMs / 1000).toFixed(2)} s\n` +
        `  vs imgcls predict over the same ${trainImages} images: ${fmt(predictRate)} img/s in-run → features at ${fmt(featureRate / predictRate, 2)}× ` +
        `(goal ≥ 0.9: ${verdict(featureRate / predictRate >= 0.9)}); ${fmt(featureRate / stages.bound, 2)} of the bound\n`);
    } catch (err) {
      process.stdout.write(`  ! cannot read the train run's JSON (${err instanceof Error ? err.message : String(err)})\n${train.stderrTail}\n`);
    }
  }
  process.stdout.write(`load at the end ${load()} (figures mean something only on an idle machine)\n`);
  if (values.json) await fs.writeFile(values.json, JSON.stringify({ stages, runs: runs.map(({ stdout, ...run }) => run), train: trainFigures, cores, loadAverage: os.loadavg() }, null, 2));
}

await main();
