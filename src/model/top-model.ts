import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../backend/backend.js';
import { ImgclsError } from '../errors.js';
import type { NamedTensor } from './checkpoint.js';
import { splitBackbone, topKBoundary } from './head.js';
import { loadPretrainedBackbone } from './pretrained.js';
import { FEATURE_MAP_LAYER } from './tfjs-engine.js';

/** Checkpoint weights of the trained top blocks are named 'top/<layer name>/<weight index>'. */
export const TOP_PREFIX = 'top/';

/** The pretrained backbone's layers after the top-k boundary, as a model from boundary activations to outputs. */
export interface TopModel {
  /** Maps [n, ...boundaryShape] to pooled [n, 1280] (or [featureMap, pooled] with featureMap). */
  model: tf.LayersModel;
  /** Name of the boundary layer (topKBoundary(k)). */
  boundary: string;
  /** Shape of one image's boundary activation (H, W, C). */
  boundaryShape: number[];
  /** Trainable weights by checkpoint name. */
  variables: Map<string, tf.LayerVariable>;
  dispose(): void;
}

/** The boundary name of 'full' mode: the whole network trains, from the preprocessed image. */
export const FULL_BOUNDARY = 'input';

/**
 * Builds the trainable part of the pretrained EfficientNet-B0: after the boundary of the last k
 * blocks, or the whole network for 'full' (ImageNet weights; the checkpoint's 'top/…' weights when
 * given). With featureMap, the model also outputs the 7×7×1280 map before pooling.
 */
export async function buildTopModel(
  k: number | 'full',
  options: { featureMap?: boolean; weights?: Record<string, NamedTensor>; file?: string; inputSize?: number } = {},
): Promise<TopModel> {
  await initBackend();
  const backbone = await loadPretrainedBackbone({ inputSize: options.inputSize ?? 224 });
  const boundary = k === 'full' ? FULL_BOUNDARY : topKBoundary(k);
  const source = options.featureMap
    ? tf.model({ inputs: backbone.inputs, outputs: [backbone.getLayer(FEATURE_MAP_LAYER).output as tf.SymbolicTensor, backbone.outputs[0]] })
    : backbone;
  const top = k === 'full' ? source : splitBackbone(source, boundary).top;
  // the layers a split re-applies count the top as an owner: dispose it before the backbone; a model
  // over the backbone's own nodes (full mode's feature-map view) frees the shared layers by itself
  const disposeAll = () => {
    top.dispose();
    if (k !== 'full' && top !== backbone) backbone.dispose();
  };
  const variables = new Map<string, tf.LayerVariable>();
  for (const layer of top.layers) {
    layer.trainableWeights.forEach((variable, index) => variables.set(`${TOP_PREFIX}${layer.name}/${index}`, variable));
  }
  if (options.weights) {
    for (const [name, variable] of variables) {
      const stored = options.weights[name];
      if (!stored || stored.shape.join('×') !== variable.shape.join('×')) {
        disposeAll();
        throw new ImgclsError(`checkpoint weight ${name} is ${stored ? `[${stored.shape}]` : 'missing'}, the model needs [${variable.shape}]`,
          'CHECKPOINT_INVALID', options.file, 'The file does not match its top-k setting; retrain or pass the right checkpoint.');
      }
      const value = tf.tensor(stored.data, stored.shape);
      variable.write(value);
      value.dispose();
    }
  }
  return {
    model: top,
    boundary,
    boundaryShape: (top.inputs[0].shape.slice(1) as number[]),
    variables,
    dispose: disposeAll,
  };
}

/** Runs boundary activations of `count` images through a top model built with featureMap: the pooled features and the feature map. */
export async function runTopModel(top: TopModel, boundaryValues: Float32Array, count: number): Promise<{ pooled: Float32Array; featureMap: Float32Array }> {
  const outputs = tf.tidy(() => top.model.predict(tf.tensor(boundaryValues, [count, ...top.boundaryShape])) as tf.Tensor[]);
  try {
    if (!Array.isArray(outputs) || outputs.length !== 2) throw new ImgclsError('the top model was built without its feature map output', 'INTERNAL');
    const [featureMap, pooled] = await Promise.all(outputs.map((t) => t.data() as Promise<Float32Array>));
    return { pooled, featureMap };
  } finally {
    tf.dispose(outputs);
  }
}
