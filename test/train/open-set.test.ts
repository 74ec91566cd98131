import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { isImgclsError } from '../../src/errors.js';
import { loadCheckpoint, writeCheckpointOpenSet } from '../../src/model/checkpoint.js';
import { loadClassifier } from '../../src/model/classifier.js';
import { createBackboneEngine } from '../../src/model/engine.js';
import { buildOpenSet, checkpointOpenSet, OPEN_SET_LAYERS, openSetForCheckpoint } from '../../src/model/open-set.js';
import type { BackboneEngine } from '../../src/model/types.js';
import { isFileError, predictAll, type FilePrediction } from '../../src/predict/predict.js';
import { calibrateCheckpoint } from '../../src/train/open-set.js';
import { train, type TrainResult } from '../../src/train/train.js';
import { seededRandom } from '../../src/util/random.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const bin = path.join(repoRoot, 'bin', 'imgcls.js');
const SIZE = 96;

function imgcls(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [bin, ...args], { cwd: repoRoot, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
  });
}

/** Three kinds of generated image, each varied by its seed: stripes, a disc, and seeded noise (never trained on). */
async function kindImage(kind: 'stripes' | 'disc' | 'noise', seed: number): Promise<Buffer> {
  const random = seededRandom(seed * 7919 + kind.length);
  const pixels = Buffer.alloc(SIZE * SIZE * 3);
  const hue = [random() * 255, random() * 255, random() * 255];
  const period = 6 + random() * 10;
  const [cx, cy, radius] = [40 + random() * 16, 40 + random() * 16, 18 + random() * 8];
  for (let y = 0; y < SIZE; y++) {
    for (let x = 0; x < SIZE; x++) {
      const o = (y * SIZE + x) * 3;
      for (let c = 0; c < 3; c++) {
        pixels[o + c] = kind === 'stripes' ? (Math.sin(y / period) > 0 ? hue[c] : 255 - hue[c])
          : kind === 'disc' ? ((x - cx) ** 2 + (y - cy) ** 2 < radius ** 2 ? hue[c] : 235)
          : random() * 255;
      }
    }
  }
  return sharp(pixels, { raw: { width: SIZE, height: SIZE, channels: 3 } }).png().toBuffer();
}

async function writeKind(dir: string, kind: 'stripes' | 'disc' | 'noise', seeds: number[]): Promise<string[]> {
  await fs.mkdir(dir, { recursive: true });
  return Promise.all(seeds.map(async (seed) => {
    const file = path.join(dir, `${kind}-${seed}.png`);
    await fs.writeFile(file, await kindImage(kind, seed));
    return file;
  }));
}

describe('open-set verdict on a generated three-kind dataset (train on two kinds, the third is unfamiliar)', () => {
  let tmp: string;
  let data: string;
  let result: TrainResult;
  let engine: BackboneEngine;
  let familiar: string[];
  let unfamiliar: string[];

  before(async () => {
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'imgcls-openset-train-'));
    data = path.join(tmp, 'data');
    const trainSeeds = Array.from({ length: 16 }, (_, i) => i + 1);
    await writeKind(path.join(data, 'disc'), 'disc', trainSeeds);
    await writeKind(path.join(data, 'stripes'), 'stripes', trainSeeds);
    const newSeeds = [101, 102, 103];
    familiar = [...await writeKind(path.join(tmp, 'new'), 'disc', newSeeds), ...await writeKind(path.join(tmp, 'new'), 'stripes', newSeeds)];
    unfamiliar = await writeKind(path.join(tmp, 'new'), 'noise', newSeeds);
    engine = await createBackboneEngine('auto');
    result = await train({ data, outDir: path.join(tmp, 'run'), cacheDir: path.join(tmp, 'cache'), validPct: 0.2, epochs: 5 });
  });
  after(async () => {
    await engine?.dispose();
    await fs.rm(tmp, { recursive: true, force: true });
  });

  it('train stores a calibrated threshold in best and last; the third kind is flagged, new images of the first two are not', async () => {
    for (const file of [result.checkpoints.best, result.checkpoints.last]) {
      const data = checkpointOpenSet(await loadCheckpoint(file));
      assert.ok(data, `${path.basename(file)} carries open-set data`);
      assert.equal(data.trainCount, result.trainCount);
      assert.equal(data.files.length, result.trainCount);
      assert.ok(data.threshold > 0 && data.threshold < 2);
    }
    assert.ok(result.messages.some((m) => /open-set score calibrated on \d+ training images/.test(m)));
    const classifier = await loadClassifier(result.checkpoints.best, { engine });
    try {
      assert.equal(classifier.openSet?.trainCount, result.trainCount);
      for (const file of familiar) {
        const { predictions, verdict } = await classifier.classifyWithVerdict(file, { nearest: 3 });
        assert.ok(verdict, 'a verdict');
        assert.equal(verdict.unfamiliar, false, `${path.basename(file)} scored ${verdict.score} > ${verdict.threshold}`);
        const kind = path.basename(file).split('-')[0];
        assert.equal(predictions[0].className, kind);
        assert.equal(verdict.nearest.length, 3);
        assert.equal(verdict.nearest[0].className, kind, 'its nearest training image is of its kind');
        assert.ok(verdict.nearest[0].file.startsWith(path.join(data, kind)));
      }
      for (const file of unfamiliar) {
        const { verdict } = await classifier.classifyWithVerdict(file);
        assert.equal(verdict?.unfamiliar, true, `${path.basename(file)} scored ${verdict?.score} ≤ ${verdict?.threshold}`);
      }
    } finally {
      await classifier.dispose();
    }
  });

  it('the stored threshold is honoured by predict and the CLI (table, CSV, JSON)', async () => {
    const classifier = await loadClassifier(result.checkpoints.best, { engine });
    try {
      const rows = (await predictAll(classifier, [...familiar, ...unfamiliar])).filter((r): r is FilePrediction => !isFileError(r));
      assert.deepEqual(rows.map((r) => r.openSet?.unfamiliar), [...familiar.map(() => false), ...unfamiliar.map(() => true)]);
      const plain = await predictAll(classifier, familiar, { verdict: false });
      assert.ok(plain.every((r) => !isFileError(r) && r.openSet === undefined));
    } finally {
      await classifier.dispose();
    }
    const table = await imgcls(['predict', result.checkpoints.best, ...familiar, ...unfamiliar]);
    assert.equal(table.code, 0, table.stderr);
    const lines = table.stdout.trimEnd().split('\n').slice(1);
    assert.equal(lines.filter((line) => line.startsWith('unknown ')).length, unfamiliar.length);
    assert.ok(lines.filter((line) => line.startsWith('unknown ')).every((line) => line.includes('unlike the training data')));
    assert.match(table.stderr, new RegExp(`${unfamiliar.length} of ${familiar.length + unfamiliar.length} images unlike the training data`));
    const kept = await imgcls(['predict', result.checkpoints.best, ...unfamiliar, '--keep-class']);
    assert.ok(kept.stdout.trimEnd().split('\n').slice(1).every((line) => /^(disc|stripes) /.test(line)), kept.stdout);
    const csv = await imgcls(['predict', result.checkpoints.best, ...unfamiliar, '--csv']);
    const [header, first] = csv.stdout.trimEnd().split('\n');
    assert.equal(header, 'file,predicted,probability,disc,stripes,unfamiliar,score,threshold,nearest,nearest_class,error');
    assert.match(first, /,unknown,.*,true,[\d.]+,[\d.]+,.*\.png,(disc|stripes),$/);
    const json = JSON.parse((await imgcls(['predict', result.checkpoints.best, unfamiliar[0], '--json'])).stdout) as FilePrediction[];
    assert.equal(json[0].predicted, 'unknown');
    assert.equal(json[0].openSet?.unfamiliar, true);

    // a threshold raised above every score: nothing is flagged, by the library and by the CLI
    const raised = path.join(tmp, 'raised.imgcls');
    await fs.copyFile(result.checkpoints.best, raised);
    const { header: stored, tensors } = openSetForCheckpoint(checkpointOpenSet(await loadCheckpoint(raised))!);
    assert.equal(stored.conditioning, 'class', 'class-conditional by default');
    assert.deepEqual(stored.layers?.names, OPEN_SET_LAYERS, 'compares the intermediate stages by default');
    assert.equal(stored.layers?.headThresholds?.length, 2, 'the head-input rule\'s thresholds are kept beside the stages');
    await writeCheckpointOpenSet(raised, { ...stored, threshold: 1e6, classThresholds: stored.classThresholds!.map(() => 1e6),
      layers: { ...stored.layers!, headThresholds: stored.layers!.headThresholds!.map(() => 1e6) } }, tensors);
    const open = await imgcls(['predict', raised, ...unfamiliar]);
    assert.match(open.stderr, new RegExp(`0 of ${unfamiliar.length} images unlike the training data`));
    assert.ok(!open.stdout.includes('unknown'));
  });

  it('imgcls eval and report --open-set: AUROC, FPR@95%TPR, the classes called before and after the verdict', async () => {
    const openDir = path.join(tmp, 'open');
    await writeKind(openDir, 'noise', [201, 202, 203]);
    const json = await imgcls(['eval', result.checkpoints.best, data, '--open-set', openDir, '--json']);
    assert.equal(json.code, 0, json.stderr);
    const { openSet } = JSON.parse(json.stdout) as { openSet: { outCount: number; inCount: number; auroc: number; outFlagged: number; calledBefore: Record<string, number>; calledAfter: Record<string, number> } };
    assert.equal(openSet.outCount, 3);
    assert.equal(openSet.inCount, result.validCount);
    assert.equal(openSet.auroc, 1, 'noise scores above every held-out image');
    assert.equal(openSet.outFlagged, 1);
    assert.ok(Math.abs(openSet.calledBefore.disc + openSet.calledBefore.stripes - 1) < 1e-9);
    assert.deepEqual(openSet.calledAfter, { disc: 0, stripes: 0, unknown: 1 });
    const text = await imgcls(['eval', result.checkpoints.best, data, '--open-set', openDir]);
    assert.match(text.stdout, /Open set: 3 images of .* that belong to no class, against the \d+ evaluated images\n  AUROC 1\.000/);
    const html = path.join(tmp, 'report.html');
    const report = await imgcls(['report', result.checkpoints.best, data, '--open-set', openDir, '-o', html]);
    assert.equal(report.code, 0, report.stderr);
    const page = await fs.readFile(html, 'utf8');
    assert.match(page, /Unlike the training data \(open-set verdict\)/);
    assert.match(page, /AUROC <b>1\.000<\/b>/);
  });

  it('a checkpoint written before open-set data loads and predicts as before, with a note and the command that adds it', async () => {
    const epochs = (await fs.readdir(path.join(tmp, 'run', 'checkpoints'))).filter((name) => name.startsWith('epoch-')).sort();
    const old = path.join(tmp, 'old.imgcls');
    await fs.copyFile(path.join(tmp, 'run', 'checkpoints', epochs.at(-1)!), old);
    assert.equal((await loadCheckpoint(old)).openSet, undefined, 'epoch checkpoints are written as before');
    const oldClassifier = await loadClassifier(old, { engine });
    const lastClassifier = await loadClassifier(result.checkpoints.last, { engine });
    try {
      assert.equal(oldClassifier.openSet, undefined);
      const { predictions, verdict } = await oldClassifier.classifyWithVerdict(familiar[0]);
      assert.equal(verdict, undefined);
      assert.deepEqual(predictions, await lastClassifier.classify(familiar[0]), 'same classes and probabilities as the calibrated last.imgcls');
      await assert.rejects(predictAll(oldClassifier, familiar, { verdict: true }), (err) => isImgclsError(err, 'OPEN_SET_MISSING') && /imgcls calibrate/.test(err.hint ?? ''));
    } finally {
      await oldClassifier.dispose();
      await lastClassifier.dispose();
    }
    const cli = await imgcls(['predict', old, familiar[0]]);
    assert.equal(cli.code, 0, cli.stderr);
    assert.match(cli.stderr, /carries no open-set data.*imgcls calibrate <checkpoint> <dataset>/);
    const added = await calibrateCheckpoint(old, data, { cacheDir: path.join(tmp, 'cache') });
    assert.equal(added.trainCount, result.trainCount);
    assert.ok(added.addedBytes > result.trainCount * 1280 * 4, `grew by ${added.addedBytes} bytes`);
    const now = await imgcls(['predict', old, ...unfamiliar]);
    assert.match(now.stderr, new RegExp(`${unfamiliar.length} of ${unfamiliar.length} images unlike the training data`));
  });

  it('open-set data without the stages (as main wrote it) reads as before: the head-input distance, no stage fetched', async () => {
    const stored = checkpointOpenSet(await loadCheckpoint(result.checkpoints.best))!;
    assert.ok(stored.layers && stored.layerFeatures, 'the default stores the stages');
    // the per-class rule on the same stored images, without the stages: the header main writes
    const older = buildOpenSet(stored.features, stored.files, stored.labels, { numClasses: 2 });
    assert.equal(older.layers, undefined);
    const file = path.join(tmp, 'no-stages.imgcls');
    await fs.copyFile(result.checkpoints.best, file);
    await writeCheckpointOpenSet(file, openSetForCheckpoint(older).header, openSetForCheckpoint(older).tensors);
    const reloaded = checkpointOpenSet(await loadCheckpoint(file))!;
    assert.equal(reloaded.layers, undefined);
    assert.equal(reloaded.layerFeatures, undefined);
    const calls: unknown[] = [];
    const spy: BackboneEngine = { name: engine.name, run: (batch, options) => (calls.push(options), engine.run(batch, options)), dispose: async () => undefined };
    const classifier = await loadClassifier(file, { engine: spy });
    try {
      const files = [...familiar, ...unfamiliar];
      for (const one of files) {
        // every stored image as a neighbour: the score is the distance to the nearest of the reported class, against its threshold
        const { verdict, predictions } = await classifier.classifyWithVerdict(one, { nearest: stored.files.length });
        const predicted = classifier.spec.classNames.indexOf(predictions[0].className);
        assert.equal(verdict!.threshold, older.classThresholds![predicted]);
        const nearestOfClass = Math.min(...verdict!.nearest.filter((n) => n.className === predictions[0].className).map((n) => n.distance));
        assert.ok(Math.abs(verdict!.score - nearestOfClass) < 1e-6, `${path.basename(one)}: score ${verdict!.score}, nearest of its class ${nearestOfClass}`);
      }
      assert.ok(calls.length > 0 && calls.every((options) => !(options as { pooledLayers?: unknown } | undefined)?.pooledLayers), 'no stage is asked of the engine');
      const rows = (await predictAll(classifier, files)).filter((r): r is FilePrediction => !isFileError(r));
      assert.deepEqual(rows.map((r) => r.openSet?.unfamiliar), [...familiar.map(() => false), ...unfamiliar.map(() => true)]);
    } finally {
      await classifier.dispose();
    }
    // the default checkpoint asks the engine for the stages, in the same run
    calls.length = 0;
    const layered = await loadClassifier(result.checkpoints.best, { engine: spy });
    try {
      await layered.classifyWithVerdict(familiar[0]);
      assert.deepEqual(calls.map((options) => (options as { pooledLayers?: readonly string[] } | undefined)?.pooledLayers), [OPEN_SET_LAYERS]);
    } finally {
      await layered.dispose();
    }
  });

  it('a checkpoint whose dataset has moved still predicts; its nearest images name where they were', async () => {
    const moved = path.join(tmp, 'moved-data');
    await fs.rename(data, moved);
    try {
      const classifier = await loadClassifier(result.checkpoints.best, { engine });
      try {
        const { verdict } = await classifier.classifyWithVerdict(familiar[0]);
        assert.equal(verdict?.unfamiliar, false);
        assert.ok(verdict?.nearest[0].file.startsWith(data), 'the path at training time');
        await assert.rejects(fs.access(verdict!.nearest[0].file));
      } finally {
        await classifier.dispose();
      }
    } finally {
      await fs.rename(moved, data);
    }
  });
});
