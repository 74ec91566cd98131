import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { isImgclsError, type ErrorCode } from '../../src/errors.js';
import type { ModelSpec } from '../../src/model/types.js';
import {
  CHECKPOINT_FORMAT_VERSION,
  checkpointHead,
  loadCheckpoint,
  updateCheckpointSpec,
  writeCheckpoint,
  type CheckpointContent,
} from '../../src/model/checkpoint.js';
import { loadClassifier, rankPredictions } from '../../src/model/classifier.js';
import { headProbabilities } from '../../src/model/dense-head.js';
import { parseHistory } from '../../src/train/history.js';

const SPEC: ModelSpec = {
  arch: 'efficientnet-b0',
  classNames: ['logo', 'others'],
  preprocessing: { inputSize: 224, resize: 'squash', normalization: 'zero-one' },
  dropout: 0.2,
  mode: 'head',
};

function content(spec: ModelSpec = SPEC): CheckpointContent {
  const kernel = Float32Array.from({ length: 1280 * 2 }, (_, i) => Math.sin(i));
  return {
    spec,
    training: { config: { learningRate: 0.001 }, epoch: 3, epochs: 10, datasetFingerprint: 'f'.repeat(64), optimizerSteps: 6 },
    metrics: { loss: 0.5, accuracy: 0.9, val_loss: 0.4, val_accuracy: 1, val_recall: [1, 1] },
    weights: {
      'head/kernel': { shape: [1280, 2], data: kernel },
      'head/bias': { shape: [2], data: new Float32Array([0.25, -0.25]) },
      'optimizer/head/kernel/momentum': { shape: [2560], data: kernel.map((v) => v / 2) },
    },
  };
}

async function rejectsWith(promise: Promise<unknown>, code: ErrorCode, file: string): Promise<void> {
  await assert.rejects(promise, (err) => {
    assert.ok(isImgclsError(err, code), `expected ${code}, got ${(err as Error).name}: ${(err as Error).message}`);
    assert.equal(err.file, file);
    assert.ok(err.hint && err.hint.length > 10, 'the error says what to do');
    return true;
  });
}

describe('checkpoint files', () => {
  let tmp: string;
  let good: string;
  before(async () => {
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'imgcls-ckpt-'));
    good = path.join(tmp, 'good.imgcls');
    await writeCheckpoint(good, content());
  });
  after(async () => fs.rm(tmp, { recursive: true, force: true }));

  it('round-trips spec, training record, metrics and weights', async () => {
    const checkpoint = await loadCheckpoint(good);
    assert.equal(checkpoint.formatVersion, CHECKPOINT_FORMAT_VERSION);
    assert.deepEqual(checkpoint.spec, SPEC);
    assert.equal(checkpoint.training.epoch, 3);
    assert.equal(checkpoint.metrics?.val_accuracy, 1);
    assert.deepEqual(checkpoint.weights['head/kernel'].data, content().weights['head/kernel'].data);
    assert.deepEqual(checkpoint.weights['optimizer/head/kernel/momentum'].data, content().weights['optimizer/head/kernel/momentum'].data);
    const head = checkpointHead(checkpoint);
    assert.equal(head.inputDim, 1280);
    assert.equal(head.numClasses, 2);
    assert.ok(checkpoint.versions.imgcls && checkpoint.versions.node === process.version);
    assert.deepEqual((await fs.readdir(tmp)).filter((n) => n.includes('partial')), [], 'no temp file is left behind');
  });

  it('loads a checkpoint written before the move to model/ (format 1, built here from the format rules, not by writeCheckpoint)', async () => {
    // the rules: "IMGCLSCK", uint32 LE header length, header JSON, then the float32 LE tensors back to back,
    // sha256 of the payload in the header; imgcls 0.1.0 wrote it from train/checkpoint.ts with no openSet and
    // a training config without keepCheckpoints
    const kernel = Float32Array.from({ length: 1280 * 3 }, (_, i) => Math.cos(i) / 10);
    const bias = new Float32Array([0.5, 0, -0.5]);
    const payload = Buffer.concat([Buffer.from(kernel.buffer), Buffer.from(bias.buffer)]);
    const header = {
      format: 'imgcls-checkpoint',
      formatVersion: 1,
      spec: { arch: 'efficientnet-b0', classNames: ['a', 'b', 'c'], preprocessing: { inputSize: 224, resize: 'squash', normalization: 'zero-one' }, dropout: 0.2, mode: 'head' },
      training: { config: { mode: 'head', epochs: 2, optimizer: 'sgd', saveInterval: 1 }, epoch: 2, epochs: 2, datasetFingerprint: 'a'.repeat(64), optimizerSteps: 4 },
      metrics: { loss: 0.3, accuracy: 1, val_loss: null, val_accuracy: null, val_recall: null },
      versions: { imgcls: '0.1.0', node: 'v20.19.0' },
      createdAt: '2026-11-30T12:00:00.000Z',
      tensors: [
        { name: 'head/kernel', shape: [1280, 3], offset: 0, bytes: kernel.byteLength },
        { name: 'head/bias', shape: [3], offset: kernel.byteLength, bytes: bias.byteLength },
      ],
      payloadBytes: payload.length,
      payloadSha256: createHash('sha256').update(payload).digest('hex'),
    };
    const json = Buffer.from(JSON.stringify(header), 'utf8');
    const prefix = Buffer.alloc(12);
    prefix.write('IMGCLSCK', 0, 'ascii');
    prefix.writeUInt32LE(json.length, 8);
    const file = path.join(tmp, 'before-the-move.imgcls');
    await fs.writeFile(file, Buffer.concat([prefix, json, payload]));

    const checkpoint = await loadCheckpoint(file);
    assert.deepEqual(checkpoint.spec.classNames, ['a', 'b', 'c']);
    assert.equal(checkpoint.openSet, undefined);
    const head = checkpointHead(checkpoint);
    assert.deepEqual([head.inputDim, head.numClasses], [1280, 3]);
    assert.deepEqual(head.kernel, kernel);
    assert.deepEqual(head.bias, bias);
    // the head classifies: softmax(x·W + b) of a feature row, computed here by hand
    const x = Float32Array.from({ length: 1280 }, (_, i) => ((i % 7) - 3) / 30);
    const logits = [0, 1, 2].map((c) => bias[c] + x.reduce((sum, v, i) => sum + v * kernel[i * 3 + c], 0));
    const exp = logits.map((l) => Math.exp(l - Math.max(...logits)));
    const expected = exp.map((e) => e / exp.reduce((a, b) => a + b, 0));
    const probabilities = headProbabilities(head, x, 1);
    expected.forEach((p, c) => assert.ok(Math.abs(probabilities[c] - p) < 1e-5, `class ${c}: ${probabilities[c]} vs ${p}`));
  });

  it('rejects a missing file with CHECKPOINT_NOT_FOUND', async () => {
    const file = path.join(tmp, 'missing.imgcls');
    await rejectsWith(loadCheckpoint(file), 'CHECKPOINT_NOT_FOUND', file);
  });

  it('rejects files that are not checkpoints, truncated or damaged with CHECKPOINT_INVALID', async () => {
    const bytes = await fs.readFile(good);
    const cases: Record<string, Buffer> = {
      'empty.imgcls': Buffer.alloc(0),
      'text.imgcls': Buffer.from('{"this": "is json, not a checkpoint"}'),
      'jpeg.imgcls': Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0, 16, 74, 70, 73, 70, 0, 1, 1, 0]),
      'cut-header.imgcls': bytes.subarray(0, 40),
      'cut-weights.imgcls': bytes.subarray(0, bytes.length - 100),
      'appended.imgcls': Buffer.concat([bytes, Buffer.from('xx')]),
      'flipped.imgcls': Buffer.from(bytes.map((b, i) => (i === bytes.length - 5 ? b ^ 0xff : b))),
    };
    for (const [name, data] of Object.entries(cases)) {
      const file = path.join(tmp, name);
      await fs.writeFile(file, data);
      await rejectsWith(loadCheckpoint(file), 'CHECKPOINT_INVALID', file);
      await rejectsWith(loadClassifier(file), 'CHECKPOINT_INVALID', file);
    }
  });

  it('rejects a newer format version or an unknown architecture with CHECKPOINT_INCOMPATIBLE', async () => {
    const bytes = await fs.readFile(good);
    const headerLength = bytes.readUInt32LE(8);
    const header = JSON.parse(bytes.toString('utf8', 12, 12 + headerLength));
    const rewrite = async (name: string, patch: object) => {
      const json = Buffer.from(JSON.stringify({ ...header, ...patch }));
      const prefix = Buffer.from(bytes.subarray(0, 12));
      prefix.writeUInt32LE(json.length, 8);
      const file = path.join(tmp, name);
      await fs.writeFile(file, Buffer.concat([prefix, json, bytes.subarray(12 + headerLength)]));
      return file;
    };
    const newer = await rewrite('newer.imgcls', { formatVersion: CHECKPOINT_FORMAT_VERSION + 1 });
    await rejectsWith(loadCheckpoint(newer), 'CHECKPOINT_INCOMPATIBLE', newer);
    const resnet = await rewrite('resnet.imgcls', { spec: { ...SPEC, arch: 'resnet-50' } });
    await rejectsWith(loadCheckpoint(resnet), 'CHECKPOINT_INCOMPATIBLE', resnet);
    const mismatched = await rewrite('three-classes.imgcls', { spec: { ...SPEC, classNames: ['a', 'b', 'c'] } });
    await rejectsWith(loadCheckpoint(mismatched), 'CHECKPOINT_INVALID', mismatched);
  });

  it('updateCheckpointSpec stores a threshold atomically and leaves the weights untouched', async () => {
    const file = path.join(tmp, 'threshold.imgcls');
    await fs.copyFile(good, file);
    const spec = await updateCheckpointSpec(file, { threshold: { className: 'logo', value: 0.3, targetRecall: 0.95 } });
    assert.deepEqual(spec.threshold, { className: 'logo', value: 0.3, targetRecall: 0.95 });
    const reloaded = await loadCheckpoint(file);
    assert.deepEqual(reloaded.spec.threshold, spec.threshold);
    assert.deepEqual(reloaded.weights['head/kernel'].data, (await loadCheckpoint(good)).weights['head/kernel'].data);
    assert.equal(reloaded.training.epoch, 3);
    await assert.rejects(updateCheckpointSpec(file, { threshold: { className: 'cat', value: 0.5 } }), (err) => isImgclsError(err, 'USAGE'));
    await assert.rejects(updateCheckpointSpec(file, { classNames: ['a', 'b', 'c'] }), (err) => isImgclsError(err, 'CLASS_COUNT_MISMATCH'));
    assert.deepEqual((await fs.readdir(tmp)).filter((n) => n.includes('partial')), []);
  });
});

describe('rankPredictions', () => {
  it('sorts by probability and applies the decision threshold', () => {
    const spec = { classNames: ['logo', 'others'] };
    assert.deepEqual(rankPredictions([0.3, 0.7], spec).map((p) => p.className), ['others', 'logo']);
    const withThreshold = { ...spec, threshold: { className: 'logo', value: 0.25 } };
    assert.deepEqual(rankPredictions([0.3, 0.7], withThreshold).map((p) => p.className), ['logo', 'others']);
    assert.deepEqual(rankPredictions([0.2, 0.8], withThreshold).map((p) => p.className), ['others', 'logo']);
    const strict = { ...spec, threshold: { className: 'logo', value: 0.9 } };
    assert.deepEqual(rankPredictions([0.8, 0.2], strict).map((p) => p.className), ['others', 'logo']);
    assert.equal(rankPredictions([0.8, 0.2], strict, 1).length, 1);
    assert.throws(() => rankPredictions([0.5, 0.5], spec, 0), (err) => isImgclsError(err, 'USAGE'));
  });
});

describe('parseHistory', () => {
  it('ignores a last line cut short by a kill, and rejects damage elsewhere', () => {
    const step = JSON.stringify({ type: 'step', epoch: 1, step: 1, steps: 1, loss: 1, accuracy: 0, lr: 0.1, timeMs: 1 });
    assert.equal(parseHistory(`${step}\n${step}\n{"type":"ep`).length, 2);
    assert.equal(parseHistory(`${step}\n`).length, 1);
    assert.throws(() => parseHistory(`${step}\nnot json\n${step}\n`), (err) => isImgclsError(err, 'CHECKPOINT_INVALID'));
  });
});
