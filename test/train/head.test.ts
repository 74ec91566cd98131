import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { augmentImage } from '../../src/train/augment.js';
import { computeClassWeights, headProbabilities, headStep, initHead } from '../../src/model/dense-head.js';
import { applyOptimizer, createOptimizerState, type OptimizerSettings } from '../../src/train/optimizer.js';
import { randomStream, shuffledIndices } from '../../src/util/random.js';

const TORCH_AVAILABLE = spawnSync('/usr/bin/python3', ['-c', 'import torch'], { stdio: 'ignore' }).status === 0;

/** Runs `steps` head updates in JS and the same in PyTorch (nn.Linear + weighted CrossEntropyLoss + optimizer); returns both kernels. */
function compareWithTorch(optimizer: OptimizerSettings): { ours: Float32Array; theirs: number[]; bias: Float32Array; theirBias: number[] } {
  const inputDim = 16;
  const numClasses = 3;
  const count = 5;
  const random = randomStream(1, 2, 3);
  const features = Float32Array.from({ length: count * inputDim }, () => random() * 2 - 1);
  const labels = [0, 2, 1, 2, 2];
  const classWeights = computeClassWeights(labels, numClasses, 'balanced');
  const head = initHead(inputDim, numClasses, randomStream(7));
  const initialKernel = Array.from(head.kernel);
  const initialBias = Array.from(head.bias);
  const state = createOptimizerState();
  for (let step = 0; step < 3; step++) {
    const { grads } = headStep(head, features, labels, { classWeights, dropout: 0, random });
    applyOptimizer(optimizer, state, { kernel: head.kernel, bias: head.bias }, { kernel: grads.kernel, bias: grads.bias });
  }
  const script = `
import json, sys, torch
d = json.loads(sys.stdin.read())
torch.set_default_dtype(torch.float64)
lin = torch.nn.Linear(${inputDim}, ${numClasses})
with torch.no_grad():
    lin.weight.copy_(torch.tensor(d['kernel']).reshape(${inputDim}, ${numClasses}).T)
    lin.bias.copy_(torch.tensor(d['bias']))
x = torch.tensor(d['features']).reshape(${count}, ${inputDim})
y = torch.tensor(d['labels'])
loss_fn = torch.nn.CrossEntropyLoss(weight=torch.tensor(d['classWeights']))
o = d['optimizer']
opt = (torch.optim.SGD(lin.parameters(), lr=o['learningRate'], momentum=o['momentum'], weight_decay=o['weightDecay'])
       if o['name'] == 'sgd' else
       torch.optim.Adam(lin.parameters(), lr=o['learningRate'], betas=(o['momentum'], 0.999), weight_decay=o['weightDecay']))
for _ in range(3):
    opt.zero_grad()
    loss_fn(lin(x), y).backward()
    opt.step()
print(json.dumps({'kernel': lin.weight.detach().T.reshape(-1).tolist(), 'bias': lin.bias.detach().tolist()}))
`;
  const run = spawnSync('/usr/bin/python3', ['-c', script], {
    input: JSON.stringify({ kernel: initialKernel, bias: initialBias, features: Array.from(features), labels, classWeights, optimizer }),
    encoding: 'utf8',
  });
  assert.equal(run.status, 0, run.stderr);
  const theirs = JSON.parse(run.stdout) as { kernel: number[]; bias: number[] };
  return { ours: head.kernel, theirs: theirs.kernel, bias: head.bias, theirBias: theirs.bias };
}

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff = Math.max(diff, Math.abs(a[i] - b[i]));
  return diff;
}

describe('dense head training', () => {
  it('matches PyTorch: weighted cross-entropy gradients + SGD with momentum and weight decay', { skip: !TORCH_AVAILABLE && 'PyTorch (/usr/bin/python3) not installed' }, () => {
    const r = compareWithTorch({ name: 'sgd', learningRate: 0.1, momentum: 0.9, weightDecay: 0.01 });
    assert.ok(maxDiff(r.ours, r.theirs) < 1e-5, `kernel differs by ${maxDiff(r.ours, r.theirs)}`);
    assert.ok(maxDiff(r.bias, r.theirBias) < 1e-5);
  });

  it('matches PyTorch: Adam with weight decay', { skip: !TORCH_AVAILABLE && 'PyTorch (/usr/bin/python3) not installed' }, () => {
    const r = compareWithTorch({ name: 'adam', learningRate: 0.01, momentum: 0.9, weightDecay: 0.001 });
    assert.ok(maxDiff(r.ours, r.theirs) < 1e-5, `kernel differs by ${maxDiff(r.ours, r.theirs)}`);
    assert.ok(maxDiff(r.bias, r.theirBias) < 1e-5);
  });

  it('gives softmax rows that sum to 1, and balanced class weights n / (k · n_c)', () => {
    const head = initHead(4, 3, randomStream(1));
    const probabilities = headProbabilities(head, new Float32Array([1, 2, 3, 4, -1, 0, 0.5, 2]), 2);
    for (let row = 0; row < 2; row++) {
      const sum = probabilities[row * 3] + probabilities[row * 3 + 1] + probabilities[row * 3 + 2];
      assert.ok(Math.abs(sum - 1) < 1e-6);
    }
    assert.deepEqual(computeClassWeights([0, 0, 0, 1], 2, 'balanced'), [4 / 6, 2]);
    assert.deepEqual(computeClassWeights([0, 0, 0, 1], 2, 'none'), [1, 1]);
  });

  it('seeded streams repeat, and differ between purposes', () => {
    assert.deepEqual(shuffledIndices(10, randomStream(42, 1, 3)), shuffledIndices(10, randomStream(42, 1, 3)));
    assert.notDeepEqual(shuffledIndices(10, randomStream(42, 1, 3)), shuffledIndices(10, randomStream(42, 1, 4)));
    assert.deepEqual([...shuffledIndices(10, randomStream(5))].sort((a, b) => a - b), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });
});

describe('augmentImage', () => {
  const size = 8;
  const image = Float32Array.from({ length: size * size * 3 }, (_, i) => ((i * 37) % 255) / 255);

  it('is a deterministic function of the random stream and stays in the normalisation range', () => {
    const a = augmentImage(image, size, 'zero-one', randomStream(1, 2));
    const b = augmentImage(image, size, 'zero-one', randomStream(1, 2));
    const c = augmentImage(image, size, 'zero-one', randomStream(1, 3));
    assert.deepEqual(a, b);
    assert.notDeepEqual(a, c);
    assert.notDeepEqual(a, image);
    assert.ok(a.every((v) => v >= 0 && v <= 1));
    const advprop = augmentImage(image.map((v) => v * 2 - 1), size, 'advprop', randomStream(1, 2));
    assert.ok(advprop.every((v) => v >= -1 && v <= 1));
    assert.ok(advprop.some((v) => v < 0));
  });

  it('flips horizontally when the stream says so (identity crop and jitter otherwise)', () => {
    // a stream that asks for: flip, full area, aspect 1, no offset, brightness 1, contrast 1
    const values = [0.1, 1, 0.5, 0, 0, 0.5, 0.5];
    const scripted = () => values.shift() ?? 0.5;
    const flipped = augmentImage(image, size, 'zero-one', scripted);
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        for (let c = 0; c < 3; c++) {
          assert.ok(Math.abs(flipped[(y * size + x) * 3 + c] - image[(y * size + (size - 1 - x)) * 3 + c]) < 1e-5);
        }
      }
    }
  });
});
