import os from 'node:os';
import { promises as fs } from 'node:fs';
import { ImgclsError, usageError } from '../../errors.js';
import type { ImageBatch } from '../../data/types.js';
import type { BackboneEngine, BackboneOutputs, BackboneRunOptions } from '../types.js';
import { backboneOnnxOutputs, ensureBackboneOnnx } from './backbone-cache.js';
import { selectOnnxOutputs } from './graph-builder.js';
import { decodeOnnxModel, encodeOnnxModel, type OnnxModel } from './schema.js';

type Ort = typeof import('onnxruntime-node');
type Session = import('onnxruntime-node').InferenceSession;

/** Options of createOnnxEngine. */
export interface OnnxEngineOptions {
  /** A backbone ONNX file (NHWC input "image", pooled features as the first output). Default: the pretrained backbone, exported and cached on first use. */
  modelPath?: string;
  /** Intra-op threads. Default: os.availableParallelism() (all cores). */
  threads?: number;
  /** Cache folder for the generated backbone. Default imgclsCacheDir(). */
  cacheDir?: string;
}

let ortModule: Promise<Ort> | undefined;

/** Imports onnxruntime-node once; BACKEND_UNAVAILABLE (with the cause) when its native binding cannot load. */
export function loadOnnxRuntime(): Promise<Ort> {
  ortModule ??= import('onnxruntime-node').then(
    (module) => ((module as { default?: Ort }).default ?? module) as Ort,
    (err: unknown) => {
      ortModule = undefined;
      throw new ImgclsError(`onnxruntime-node cannot be loaded: ${err instanceof Error ? err.message : String(err)}`,
        'BACKEND_UNAVAILABLE', undefined,
        'Reinstall with ONNXRUNTIME_NODE_INSTALL=skip (its CPU binaries ship in the package), or use the TF.js engine.', { cause: err });
    },
  );
  return ortModule;
}

/**
 * A BackboneEngine on ONNX Runtime (all graph optimisations, intra-op threads = cores). Each set of
 * requested outputs gets its own session on a pruned copy of the graph, so a run computes only what
 * it returns (ONNX Runtime would otherwise evaluate every graph output).
 */
export async function createOnnxEngine(options: string | OnnxEngineOptions = {}): Promise<BackboneEngine> {
  const resolved: OnnxEngineOptions = typeof options === 'string' ? { modelPath: options } : options;
  const threads = resolved.threads ?? os.availableParallelism();
  if (!(Number.isInteger(threads) && threads > 0)) throw usageError(`threads must be a positive integer. Received: ${threads}`);
  const ort = await loadOnnxRuntime();
  const modelPath = resolved.modelPath ?? (await ensureBackboneOnnx(resolved.cacheDir));
  let model: OnnxModel;
  try {
    model = decodeOnnxModel(await fs.readFile(modelPath));
  } catch (err) {
    throw new ImgclsError(`cannot read the ONNX model ${modelPath}`, 'CHECKPOINT_INVALID', modelPath,
      'Delete the file (a cached backbone is regenerated) or export it again with imgcls export.', { cause: err });
  }
  const outputNames = model.graph.output.map((o) => o.name);
  const inputDims = model.graph.input[0]?.type.tensorType.shape.dim.map((d) => ('dimValue' in d ? Number(d.dimValue) : -1)) ?? [];
  const inputName = model.graph.input[0]?.name ?? 'image';
  const pooledName = outputNames[0];
  const featureMapName = backboneOnnxOutputs().featureMap;
  const sessions = new Map<string, Promise<Session>>();

  const sessionFor = (fetch: string[]): Promise<Session> => {
    const key = fetch.join('\n');
    let session = sessions.get(key);
    if (!session) {
      session = ort.InferenceSession.create(encodeOnnxModel(selectOnnxOutputs(model, fetch)), {
        intraOpNumThreads: threads,
        interOpNumThreads: 1,
        executionMode: 'sequential',
        graphOptimizationLevel: 'all',
      });
      sessions.set(key, session);
      session.catch(() => sessions.delete(key));
    }
    return session;
  };
  // warm the common session while the caller does other work
  void sessionFor([pooledName]).catch(() => undefined);

  return {
    name: 'onnxruntime',
    async run(batch: ImageBatch, runOptions: BackboneRunOptions = {}): Promise<BackboneOutputs> {
      const fetch = [pooledName];
      if (runOptions.featureMap) {
        if (!outputNames.includes(featureMapName)) throw usageError(`the ONNX model ${modelPath} has no feature-map output ${featureMapName}`);
        fetch.push(featureMapName);
      }
      if (runOptions.boundary !== undefined && !fetch.includes(runOptions.boundary)) {
        if (!outputNames.includes(runOptions.boundary)) {
          throw usageError(`boundary must be one of the engine's block outputs: ${outputNames.slice(1).join(', ')}. Received: ${runOptions.boundary}`);
        }
        fetch.push(runOptions.boundary);
      }
      const size = batch.inputSize;
      if ((inputDims[1] > 0 && inputDims[1] !== size) || (inputDims[2] > 0 && inputDims[2] !== size)) {
        throw usageError(`this ONNX backbone takes ${inputDims[1]}×${inputDims[2]} images. Received inputSize ${size}`);
      }
      if (batch.count === 0) {
        return { pooled: new Float32Array(0), ...(runOptions.featureMap ? { featureMap: new Float32Array(0) } : {}),
          ...(runOptions.boundary !== undefined ? { boundary: new Float32Array(0) } : {}) };
      }
      const session = await sessionFor(fetch);
      const input = new ort.Tensor('float32', batch.data.subarray(0, batch.count * size * size * 3), [batch.count, size, size, 3]);
      const results = await session.run({ [inputName]: input }, fetch);
      const data = (name: string): Float32Array => results[name].data as Float32Array;
      return {
        pooled: data(pooledName),
        ...(runOptions.featureMap ? { featureMap: data(featureMapName) } : {}),
        ...(runOptions.boundary !== undefined ? { boundary: data(runOptions.boundary) } : {}),
      };
    },
    async dispose() {
      const all = [...sessions.values()];
      sessions.clear();
      for (const session of await Promise.allSettled(all)) if (session.status === 'fulfilled') await session.value.release();
    },
  };
}
