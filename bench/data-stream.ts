// Benchmark: does scanning + streaming a large generated dataset keep memory flat?
//
//   node dist/bench/data-stream.js [count=2000] [--batch-size 16] [--concurrency 4] [--no-peer] [--keep]
//
// 1. Generates `count` JPEGs (800–1600 px, half noisy, half smooth crops of a seeded canvas) in a temp folder, root/<class>/.
// 2. In a fresh child process (so its peak RSS is the streaming phase only): scanDataset + streamBatches
//    over every image, sampling RSS after 200, 500, 1000, 2000 images (those ≤ count, plus the end)
//    and after every batch for the peak.
// 3. The PyTorch peer in the same run: torchvision ImageFolder + DataLoader, Resize((224, 224), bicubic),
//    ToTensor, same batch size, num_workers=0, RSS sampled at the same points.
// 4. Decode + resize throughput on the lesson's big JPEGs (../shared/lesson-data/train), imgcls vs PIL.
// Timings are only meaningful on an idle machine.
import { execFile, spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import sharp from 'sharp';
import { loadImage, scanDataset, streamBatches } from '../src/index.js';

const HERE = fileURLToPath(import.meta.url);
const REPO_ROOT = path.resolve(path.dirname(HERE), '../..');
const LESSON_TRAIN = path.resolve(REPO_ROOT, '../shared/lesson-data/train');
const PYTHON = '/usr/bin/python3';
const CHECKPOINTS = [200, 500, 1000, 2000];
const MiB = 1024 * 1024;

interface StreamResult {
  engine: string;
  images: number;
  skipped: number;
  seconds: number;
  /** [images seen, RSS MiB] at each checkpoint. */
  samples: [number, number][];
  peakRssMiB: number;
}

const rssMiB = () => process.memoryUsage().rss / MiB;

/** Writes `count` JPEGs into root/class-a and root/class-b; deterministic sizes and content. */
async function generate(root: string, count: number): Promise<void> {
  for (const name of ['class-a', 'class-b']) await fs.mkdir(path.join(root, name), { recursive: true });
  // one seeded noise canvas; each image is a differently placed, sized and tinted crop of it
  const side = 1600;
  const canvas = Buffer.alloc(side * side * 3);
  let state = 12345;
  for (let i = 0; i < canvas.length; i++) {
    state = (state * 1103515245 + 12345) >>> 0;
    canvas[i] = (state >>> 24) & 0xff;
  }
  const smooth = await sharp(canvas, { raw: { width: side, height: side, channels: 3 } }).blur(12).raw().toBuffer();
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const i = next++;
      const width = 800 + ((i * 397) % 800);
      const height = 800 + ((i * 211) % 800);
      const source = i % 2 === 0 ? canvas : smooth;
      const image = sharp(source, { raw: { width: side, height: side, channels: 3 } })
        .extract({ left: (i * 131) % (side - width + 1), top: (i * 173) % (side - height + 1), width, height })
        .linear([0.6 + (i % 7) * 0.1, 0.8, 1.2 - (i % 5) * 0.1], [(i * 37) % 60, (i * 11) % 40, 0]);
      const file = path.join(root, i % 2 === 0 ? 'class-a' : 'class-b', `img-${String(i).padStart(5, '0')}.jpg`);
      await fs.writeFile(file, await image.jpeg({ quality: 85 }).toBuffer());
    }
  };
  await Promise.all(Array.from({ length: 4 }, worker));
}

/** Child-process side: scan + stream everything, sampling RSS; prints one JSON line. */
async function streamChild(root: string, batchSize: number, concurrency: number): Promise<void> {
  const start = performance.now();
  const dataset = await scanDataset(root, { validPct: 0.2, seed: 42 });
  const items = [...dataset.train, ...dataset.valid];
  const checkpoints = [...CHECKPOINTS.filter((c) => c < items.length), items.length];
  const samples: [number, number][] = [];
  let seen = 0;
  let skipped = 0;
  let peak = rssMiB();
  let checksum = 0;
  for await (const batch of streamBatches(items, { batchSize, concurrency })) {
    seen += batch.count + batch.skipped.length;
    skipped += batch.skipped.length;
    checksum += batch.data[0] ?? 0; // touch the data as a consumer would
    const rss = rssMiB();
    peak = Math.max(peak, rss);
    while (checkpoints.length > 0 && seen >= checkpoints[0]) {
      samples.push([checkpoints.shift()!, rss]);
    }
  }
  const result: StreamResult = {
    engine: 'imgcls (sharp)',
    images: seen - skipped,
    skipped,
    seconds: (performance.now() - start) / 1000,
    samples,
    peakRssMiB: Math.max(peak, process.resourceUsage().maxRSS / 1024),
  };
  void checksum;
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

const PEER = String.raw`
import json, os, resource, sys, time
import torch
from torch.utils.data import DataLoader
from torchvision import datasets, transforms
torch.set_num_threads(2)
root, batch_size, checkpoints = sys.argv[1], int(sys.argv[2]), [int(c) for c in sys.argv[3].split(',')]
def rss_mib():
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith('VmRSS:'):
                return int(line.split()[1]) / 1024
start = time.perf_counter()
tf = transforms.Compose([transforms.Resize((224, 224), interpolation=transforms.InterpolationMode.BICUBIC), transforms.ToTensor()])
loader = DataLoader(datasets.ImageFolder(root, transform=tf), batch_size=batch_size, num_workers=0)
seen, samples, peak = 0, [], rss_mib()
for images, labels in loader:
    seen += images.shape[0]
    rss = rss_mib()
    peak = max(peak, rss)
    while checkpoints and seen >= checkpoints[0]:
        samples.append([checkpoints.pop(0), rss])
peak = max(peak, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
print(json.dumps({"engine": "pytorch (PIL + DataLoader)", "images": seen, "skipped": 0,
                  "seconds": time.perf_counter() - start, "samples": samples, "peakRssMiB": peak}))
`;

const LESSON_PEER = String.raw`
import json, os, sys, time
from PIL import Image
from torchvision import transforms
folder, reps = sys.argv[1], int(sys.argv[2])
files = sorted(os.path.join(d, f) for d, _, fs in os.walk(folder) for f in fs)
tf = transforms.Compose([transforms.Resize((224, 224), interpolation=transforms.InterpolationMode.BICUBIC), transforms.ToTensor()])
start = time.perf_counter()
for _ in range(reps):
    for f in files:
        tf(Image.open(f).convert('RGB'))
print(json.dumps({"images": len(files) * reps, "seconds": time.perf_counter() - start}))
`;

async function hasTorch(): Promise<boolean> {
  try {
    await promisify(execFile)(PYTHON, ['-c', 'import torch, torchvision']);
    return true;
  } catch {
    return false;
  }
}

function runJson(command: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<StreamResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'inherit'], env });
    let out = '';
    child.stdout.on('data', (chunk) => (out += chunk));
    child.on('error', reject);
    child.on('close', (code) => {
      const line = out.trim().split('\n').pop() ?? '';
      if (code !== 0) reject(new Error(`${command} exited with ${code}: ${out}`));
      else resolve(JSON.parse(line) as StreamResult);
    });
  });
}

function printStream(result: StreamResult): void {
  const rate = result.images / result.seconds;
  console.log(`\n${result.engine}: ${result.images} images (${result.skipped} skipped) in ${result.seconds.toFixed(1)} s = ${rate.toFixed(1)} images/s`);
  console.log('  images seen   RSS MiB');
  for (const [seen, rss] of result.samples) console.log(`  ${String(seen).padStart(11)}   ${rss.toFixed(1).padStart(7)}`);
  const first = result.samples[0]?.[1] ?? 0;
  const last = result.samples.at(-1)?.[1] ?? 0;
  console.log(`  peak RSS ${result.peakRssMiB.toFixed(1)} MiB; RSS change from first to last sample: ${(last - first >= 0 ? '+' : '')}${(last - first).toFixed(1)} MiB`);
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      child: { type: 'string' },
      'batch-size': { type: 'string', default: '16' },
      concurrency: { type: 'string', default: '4' },
      'no-peer': { type: 'boolean', default: false },
      keep: { type: 'boolean', default: false },
    },
  });
  const batchSize = Number(values['batch-size']);
  const concurrency = Number(values.concurrency);
  if (values.child) return streamChild(values.child, batchSize, concurrency);

  const count = Number(positionals[0] ?? 2000);
  if (!(Number.isInteger(count) && count >= 2)) throw new Error(`count must be an integer ≥ 2. Received: ${positionals[0]}`);
  console.log(`data-stream benchmark: ${count} images, batch size ${batchSize}, concurrency ${concurrency}, ${os.cpus().length} CPUs, Node ${process.version}, sharp ${sharp.versions.sharp}`);
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'imgcls-bench-data-'));
  try {
    let start = performance.now();
    await generate(root, count);
    console.log(`generated ${count} JPEGs (800–1600 px) in ${((performance.now() - start) / 1000).toFixed(1)} s under ${root}`);

    const ours = await runJson(process.execPath, [HERE, '--child', root, '--batch-size', String(batchSize), '--concurrency', String(concurrency)]);
    printStream(ours);

    const peer = !values['no-peer'] && (await hasTorch());
    if (peer) {
      const checkpoints = [...CHECKPOINTS.filter((c) => c < count), count].join(',');
      const theirs = await runJson(PYTHON, ['-c', PEER, root, String(batchSize), checkpoints], {
        ...process.env, MALLOC_MMAP_MAX_: '0', MALLOC_TRIM_THRESHOLD_: '68719476736',
      });
      printStream(theirs);
      console.log(`\nthroughput ratio imgcls / pytorch: ${((ours.images / ours.seconds) / (theirs.images / theirs.seconds)).toFixed(2)}×; ` +
        `peak RSS imgcls ${ours.peakRssMiB.toFixed(0)} MiB vs pytorch ${theirs.peakRssMiB.toFixed(0)} MiB`);
    } else {
      console.log('\n(PyTorch peer skipped: --no-peer, or /usr/bin/python3 cannot import torch and torchvision)');
    }

    // the lesson's big JPEGs: decode + resize to 224 × 224 + normalise
    const lessonFiles = (await scanDataset(path.dirname(LESSON_TRAIN), { validPct: 0 }).catch(() => undefined))?.train.map((i) => i.file) ?? [];
    if (lessonFiles.length > 0) {
      const reps = 3;
      start = performance.now();
      for (let r = 0; r < reps; r++) for (const file of lessonFiles) await loadImage(file);
      const sequential = (lessonFiles.length * reps) / ((performance.now() - start) / 1000);
      start = performance.now();
      let streamed = 0;
      for (let r = 0; r < reps; r++) for await (const batch of streamBatches(lessonFiles, { batchSize: 8 })) streamed += batch.count;
      const parallel = streamed / ((performance.now() - start) / 1000);
      console.log(`\nlesson JPEGs (${lessonFiles.length} files, up to 3456×2304) × ${reps}: imgcls loadImage one at a time ${sequential.toFixed(1)} images/s, streamBatches ${parallel.toFixed(1)} images/s`);
      if (peer) {
        const { stdout } = await promisify(execFile)(PYTHON, ['-c', LESSON_PEER, LESSON_TRAIN, String(reps)]);
        const pil = JSON.parse(stdout.trim()) as { images: number; seconds: number };
        const pilRate = pil.images / pil.seconds;
        console.log(`  PIL open + convert + Resize((224,224), bicubic) + ToTensor: ${pilRate.toFixed(1)} images/s; ratio imgcls sequential / PIL ${(sequential / pilRate).toFixed(2)}×`);
      }
    }
  } finally {
    if (values.keep) console.log(`kept ${root}`);
    else await fs.rm(root, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
