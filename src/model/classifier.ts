import { ImgclsError, usageError } from '../errors.js';
import { loadImage } from '../data/preprocess.js';
import type { ImageBatch } from '../data/types.js';
import { createBackboneEngine, type EngineChoice } from './engine.js';
import type { BackboneEngine, Classification, Classifier, ModelSpec, Prediction } from './types.js';
import { checkpointHead, loadCheckpoint } from './checkpoint.js';
import { headLogits, headProbabilities } from './dense-head.js';
import { checkpointOpenSet, classThresholdsByName, joinPooledLayers, openSetVerdicts } from './open-set.js';
import type { OpenSetVerdict } from './types.js';

/** Options of loadClassifier. */
export interface LoadClassifierOptions {
  /** An engine to share (not disposed by the classifier), or which one to create. Default 'auto'. */
  engine?: BackboneEngine | EngineChoice;
  /** Ignore the decision threshold stored by eval's saveThreshold: the most probable class wins. Default false. */
  ignoreThreshold?: boolean;
}

/**
 * The classes of one image's probabilities, most probable first, cut to `topK`. With a
 * spec.threshold, the threshold class goes first when its probability ≥ threshold.value and is never
 * first otherwise (the next class takes its place); probabilities are unchanged.
 */
export function rankPredictions(probabilities: ArrayLike<number>, spec: Pick<ModelSpec, 'classNames' | 'threshold'>, topK = spec.classNames.length): Prediction[] {
  if (!(Number.isInteger(topK) && topK >= 1)) throw usageError(`topK must be a positive integer. Received: ${topK}`);
  const ranked = spec.classNames
    .map((className, i) => ({ className, probability: probabilities[i] }))
    .sort((a, b) => b.probability - a.probability);
  const threshold = spec.threshold;
  if (threshold && ranked.length > 1) {
    const at = ranked.findIndex((p) => p.className === threshold.className);
    if (at >= 0) {
      const [entry] = ranked.splice(at, 1);
      ranked.splice(entry.probability >= threshold.value ? 0 : Math.max(1, Math.min(at, ranked.length)), 0, entry);
    }
  }
  return ranked.slice(0, topK);
}

/** Loads a checkpoint written by train() as a ready Classifier: the backbone engine plus the trained head. */
export async function loadClassifier(file: string, options: LoadClassifierOptions = {}): Promise<Classifier> {
  const checkpoint = await loadCheckpoint(file);
  const head = checkpointHead(checkpoint);
  const { threshold, ...withoutThreshold } = checkpoint.spec;
  const spec = options.ignoreThreshold || !threshold ? withoutThreshold : { ...withoutThreshold, threshold };
  if (spec.mode === 'top-k' && !(Number.isInteger(spec.topK) && spec.topK! >= 1)) {
    throw new ImgclsError(`top-k checkpoint without a valid topK (${spec.topK})`, 'CHECKPOINT_INVALID', file, 'Retrain it with imgcls train --mode top-k.');
  }
  // top-k: the trained blocks run in TF.js on the engine's boundary activations; full: the whole trained network runs in TF.js
  const top = spec.mode === 'head'
    ? undefined
    : await (await import('./top-model.js')).buildTopModel(spec.mode === 'full' ? 'full' : spec.topK!, {
      featureMap: true, weights: checkpoint.weights, file, inputSize: spec.preprocessing.inputSize,
    });
  const shared = typeof options.engine === 'object' ? options.engine : undefined;
  let engine: BackboneEngine | undefined;
  try {
    engine = shared ?? (spec.mode === 'full' ? undefined : await createBackboneEngine(typeof options.engine === 'string' ? options.engine : 'auto'));
  } catch (err) {
    top?.dispose();
    throw err;
  }
  const numClasses = spec.classNames.length;
  const openSet = checkpointOpenSet(checkpoint);

  // the intermediate stages the verdict compares (checkpoints calibrated before multi-layer verdicts: none)
  const verdictLayers = openSet?.layers && engine ? openSet.layers.names : undefined;
  /**
   * Pooled features (and the feature map) of a batch: the engine alone, or engine to the boundary + the trained top; with
   * `layers`, also the verdict's intermediate stages pooled (by the engine, in the same run).
   */
  const backboneOutputs = async (batch: ImageBatch, featureMap: boolean, layers?: readonly string[]): Promise<{ pooled: Float32Array; featureMap?: Float32Array; layerFeatures?: Float32Array }> => {
    const joined = (outputs: Record<string, Float32Array> | undefined) => (layers ? { layerFeatures: joinPooledLayers(outputs ?? {}, layers, openSet!.layers!.dims, batch.count) } : {});
    if (!top) {
      const outputs = await engine!.run(batch, { ...(featureMap ? { featureMap: true } : {}), ...(layers ? { pooledLayers: layers } : {}) });
      return { pooled: outputs.pooled, ...(outputs.featureMap ? { featureMap: outputs.featureMap } : {}), ...joined(outputs.pooledLayers) };
    }
    const { runTopModel } = await import('./top-model.js');
    if (spec.mode === 'full') return runTopModel(top, batch.data, batch.count);
    const { boundary, pooledLayers } = await engine!.run(batch, { boundary: top.boundary, ...(layers ? { pooledLayers: layers } : {}) });
    if (!boundary) throw new ImgclsError(`engine ${engine!.name} returned no "${top.boundary}" activations`, 'INTERNAL', file);
    return { ...(await runTopModel(top, boundary, batch.count)), ...joined(pooledLayers) };
  };

  const predictBatch = async (batch: ImageBatch): Promise<Float32Array> => {
    if (batch.count === 0) return new Float32Array(0);
    const { pooled } = await backboneOutputs(batch, false);
    if (pooled.length !== batch.count * head.inputDim) {
      throw new ImgclsError(`engine ${engine?.name ?? 'tfjs'} gave ${pooled.length / batch.count} features per image; the head expects ${head.inputDim}`, 'CHECKPOINT_INCOMPATIBLE', file);
    }
    return headProbabilities(head, pooled, batch.count);
  };

  const predictBatchWithVerdict = async (batch: ImageBatch, options: { nearest?: number } = {}): Promise<{ probabilities: Float32Array; verdicts?: OpenSetVerdict[] }> => {
    if (!openSet || batch.count === 0) return { probabilities: await predictBatch(batch), ...(openSet ? { verdicts: [] } : {}) };
    const { pooled, layerFeatures } = await backboneOutputs(batch, false, verdictLayers);
    if (pooled.length !== batch.count * head.inputDim) {
      throw new ImgclsError(`engine ${engine?.name ?? 'tfjs'} gave ${pooled.length / batch.count} features per image; the head expects ${head.inputDim}`, 'CHECKPOINT_INCOMPATIBLE', file);
    }
    const logits = openSet.method === 'knn' ? undefined : headLogits(head, pooled, batch.count);
    const probabilities = headProbabilities(head, pooled, batch.count);
    // the class each image is reported as (class-conditional verdicts compare it with that class's training images)
    const predicted = Array.from({ length: batch.count }, (_, i) =>
      spec.classNames.indexOf(rankPredictions(probabilities.subarray(i * numClasses, (i + 1) * numClasses), spec, 1)[0].className));
    return {
      probabilities,
      verdicts: openSetVerdicts(openSet, pooled, batch.count, { nearest: options.nearest, classNames: spec.classNames, logits, predicted, layerFeatures }),
    };
  };

  const loadOne = async (imageFile: string): Promise<ImageBatch> => {
    const data = await loadImage(imageFile, spec.preprocessing);
    return { data, count: 1, inputSize: spec.preprocessing.inputSize, files: [imageFile], labels: [-1], skipped: [] };
  };

  const classify = async (imageFile: string, topK = numClasses): Promise<Prediction[]> =>
    rankPredictions(await predictBatch(await loadOne(imageFile)), spec, topK);

  return {
    spec,
    head,
    predictBatch,
    predictBatchWithVerdict,
    async pooledFeatures(batch: ImageBatch): Promise<Float32Array> {
      return batch.count === 0 ? new Float32Array(0) : (await backboneOutputs(batch, false)).pooled;
    },
    classify,
    ...(openSet ? {
      openSet: {
        method: openSet.method,
        threshold: openSet.threshold,
        ...(classThresholdsByName(openSet, spec.classNames) ? { classThresholds: classThresholdsByName(openSet, spec.classNames) } : {}),
        storedImages: openSet.files.length,
        trainCount: openSet.trainCount,
      },
    } : {}),
    async classifyWithVerdict(imageFile: string, options: { topK?: number; nearest?: number } = {}): Promise<Classification> {
      const { probabilities, verdicts } = await predictBatchWithVerdict(await loadOne(imageFile), { nearest: options.nearest ?? 3 });
      const predictions = rankPredictions(probabilities, spec, options.topK ?? numClasses);
      return verdicts ? { predictions, verdict: verdicts[0] } : { predictions };
    },
    async featureMap(batch: ImageBatch): Promise<Float32Array> {
      if (batch.count === 0) return new Float32Array(0);
      const { featureMap } = await backboneOutputs(batch, true);
      if (!featureMap) throw new ImgclsError(`engine ${engine?.name} returned no feature map`, 'INTERNAL', file);
      return featureMap;
    },
    async dispose() {
      top?.dispose();
      if (!shared) await engine?.dispose();
    },
  };
}
