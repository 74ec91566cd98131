import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../backend/backend.js';
import { usageError } from '../errors.js';
import type { ImageBatch } from '../data/types.js';
import type { BackboneEngine, BackboneOutputs, BackboneRunOptions } from './types.js';
import { loadPretrainedBackbone } from './pretrained.js';
import { layerOutput } from './head.js';

export { pretrainedModelDir, loadLocalGraphModel } from './pretrained.js';

/** The layer whose output is the 7×7×1280 feature map that feeds global pooling. */
export const FEATURE_MAP_LAYER = 'top_activation';

/**
 * A BackboneEngine running the pretrained EfficientNet-B0 layers model (no ImageNet head) on the
 * current TF.js backend; `boundary` may name any of its layers (see topKBoundary).
 */
export async function createTfjsEngine(): Promise<BackboneEngine> {
  const backend = await initBackend();
  const backbones = new Map<number, Promise<tf.LayersModel>>();
  const views = new Map<string, tf.LayersModel>();

  const backboneFor = (inputSize: number): Promise<tf.LayersModel> => {
    let model = backbones.get(inputSize);
    if (!model) {
      model = loadPretrainedBackbone({ inputSize });
      backbones.set(inputSize, model);
    }
    return model;
  };
  // one functional view per output combination, sharing the backbone's layers and weights
  const viewFor = (backbone: tf.LayersModel, inputSize: number, outputLayers: string[]): tf.LayersModel => {
    const key = `${inputSize}:${outputLayers.join(',')}`;
    let view = views.get(key);
    if (!view) {
      const outputs = outputLayers.map((name) => layerOutput(backbone, name));
      view = tf.model({ inputs: backbone.inputs, outputs });
      views.set(key, view);
    }
    return view;
  };

  await backboneFor(224);
  return {
    name: `tfjs-${backend}`,
    async run(batch: ImageBatch, options: BackboneRunOptions = {}): Promise<BackboneOutputs> {
      const expected = batch.count * batch.inputSize * batch.inputSize * 3;
      if (batch.count < 1 || batch.data.length !== expected) {
        throw usageError(`batch data has ${batch.data.length} values; ${batch.count}×${batch.inputSize}×${batch.inputSize}×3 = ${expected} expected`);
      }
      const backbone = await backboneFor(batch.inputSize);
      if (options.boundary !== undefined && !backbone.layers.some((layer) => layer.name === options.boundary)) {
        throw usageError(`no backbone layer named "${options.boundary}"`, 'Use topKBoundary(k) for a block output.');
      }
      for (const layer of [...(options.layers ?? []), ...(options.pooledLayers ?? [])]) {
        if (!backbone.layers.some((candidate) => candidate.name === layer)) throw usageError(`no backbone layer named "${layer}"`);
      }
      const wanted = ['avg_pool', options.featureMap ? FEATURE_MAP_LAYER : undefined, options.boundary, ...(options.layers ?? []), ...(options.pooledLayers ?? [])];
      const outputLayers = [...new Set(wanted.filter((name): name is string => name !== undefined))];
      const view = viewFor(backbone, batch.inputSize, outputLayers);
      const pooledLayers = options.pooledLayers ?? [];
      const outputs = tf.tidy(() => {
        const input = tf.tensor4d(batch.data, [batch.count, batch.inputSize, batch.inputSize, 3]);
        const result = view.predict(input);
        const all = Array.isArray(result) ? result : [result];
        // the pooled layers: each NHWC output averaged over height and width, after the view's outputs
        return [...all, ...pooledLayers.map((layer) => tf.mean(all[outputLayers.indexOf(layer)], [1, 2]))];
      });
      try {
        const values = await Promise.all(outputs.map((t) => t.data() as Promise<Float32Array>));
        const valueOf = (name: string): Float32Array => values[outputLayers.indexOf(name)];
        const result: BackboneOutputs = { pooled: valueOf('avg_pool') };
        if (options.featureMap) result.featureMap = valueOf(FEATURE_MAP_LAYER);
        if (options.boundary !== undefined) result.boundary = valueOf(options.boundary);
        if (options.layers?.length) result.layers = Object.fromEntries(options.layers.map((layer) => [layer, valueOf(layer)]));
        if (pooledLayers.length) result.pooledLayers = Object.fromEntries(pooledLayers.map((layer, i) => [layer, values[outputLayers.length + i]]));
        return result;
      } finally {
        tf.dispose(outputs);
      }
    },
    async dispose() {
      const models = await Promise.all(backbones.values());
      backbones.clear();
      views.clear();
      for (const model of models) model.dispose();
    },
  };
}
