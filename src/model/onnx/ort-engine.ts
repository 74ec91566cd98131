import os from 'node:os';
import { promises as fs } from 'node:fs';
import { ImgclsError, usageError } from '../../errors.js';
import type { ImageBatch } from '../../data/types.js';
import type { BackboneEngine, BackboneOutputs, BackboneRunOptions } from '../types.js';
import { backboneOnnxOutputs, ensureBackboneOnnx } from './backbone-cache.js';
import { pooledOutputName, selectOnnxOutputs, withPooledOutputs } from './graph-builder.js';
import { createInThreadRunner, createWorkerRunner, type OrtRunner } from './ort-runner.js';
import { decodeOnnxModel, encodeOnnxModel, type OnnxModel } from './schema.js';

type Ort = typeof import('onnxruntime-node');

/** Options of createOnnxEngine. */
export interface OnnxEngineOptions {
  /** A backbone ONNX file (NHWC input "image", pooled features as the first output). Default: the pretrained backbone, exported and cached on first use. */
  modelPath?: string;
  /** Intra-op threads in all, shared by the sessions (each gets max(1, ⌊threads / sessions⌋)). Default: os.availableParallelism() (all cores). */
  threads?: number;
  /**
   * ONNX Runtime sessions run side by side, each in its own worker thread: a batch's chunks (maxRunBatch) are
   * spread over them. Default ortSessions(cores) = min(cores, 2), IMGCLS_ORT_SESSIONS overrides; 1 with
   * worker: false. On the 2-core reference machine two one-thread sessions beat one two-thread session
   * (no wake-ups between the network's many small parallel sections), measured in one process, decode ∥
   * inference over 1000 JPEGs, 4 interleaved pairs (2026-12-02): 96–111 → 106–124 img/s, +9% on average,
   * 17.8 → 16.7 CPU-ms per image.
   */
  sessions?: number;
  /** Cache folder for the generated backbone. Default imgclsCacheDir(): $IMGCLS_CACHE/models, else node_modules/.cache/imgcls. */
  cacheDir?: string;
  /**
   * Run sessions in a worker thread so a forward pass does not block the event loop (decoding of the
   * next images goes on meanwhile). Default true; falls back to this thread when the worker cannot start.
   */
  worker?: boolean;
  /**
   * Idle intra-op threads spin-wait between parallel sections (ONNX Runtime's own default). Default false
   * (IMGCLS_ORT_SPINNING=1 turns it on): decoding shares the cores with inference, and a spinning thread
   * takes a core from the decoder. Measured in one process, interleaved, on the loaded 2-core machine
   * (2026-12-02): inference alone cost 21.6 CPU-ms/image spinning vs 12.2 not; decode + inference
   * 30.8 vs 19.5 CPU-ms/image, 11.8 vs 31.9 img/s.
   */
  spinning?: boolean;
  /**
   * Largest batch given to one ONNX Runtime run; bigger batches run in chunks of this size and the
   * outputs are concatenated. Default ORT_RUN_CHUNK (4): on the 2-core reference machine (one session,
   * interleaved) 32 images ran at ~115 img/s as one b32 run, ~140 as b8 runs and ~150–159 as b4 runs
   * (smaller activations stay in cache); through this engine b32 went from 124–142 to 160–161 img/s and
   * `imgcls predict` over 1000 JPEGs from 82–84 to 89–93 img/s. IMGCLS_ORT_MAX_BATCH overrides the default.
   */
  maxRunBatch?: number;
}

/** Default largest batch per ONNX Runtime run (see OnnxEngineOptions.maxRunBatch). */
export const ORT_RUN_CHUNK = 4;

/** Default number of side-by-side sessions on a machine with `cores` cores (see OnnxEngineOptions.sessions). */
export function ortSessions(cores: number): number {
  return Math.max(1, Math.min(cores, 2));
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
 * it returns. The pretrained backbone is exported from the layers model on first use and cached.
 */
export async function createOnnxEngine(options: string | OnnxEngineOptions = {}): Promise<BackboneEngine & { readonly runMode: 'in-thread' | 'worker'; readonly sessions: number }> {
  const resolved: OnnxEngineOptions = typeof options === 'string' ? { modelPath: options } : options;
  const threads = resolved.threads ?? os.availableParallelism();
  if (!(Number.isInteger(threads) && threads > 0)) throw usageError(`threads must be a positive integer. Received: ${threads}`);
  const maxRunBatch = resolved.maxRunBatch ?? (process.env.IMGCLS_ORT_MAX_BATCH ? Number(process.env.IMGCLS_ORT_MAX_BATCH) : ORT_RUN_CHUNK);
  if (!(Number.isInteger(maxRunBatch) && maxRunBatch > 0)) throw usageError(`maxRunBatch must be a positive integer. Received: ${maxRunBatch}`);
  const useWorker = resolved.worker ?? true;
  const sessionCount = !useWorker ? 1 : resolved.sessions ?? (process.env.IMGCLS_ORT_SESSIONS ? Number(process.env.IMGCLS_ORT_SESSIONS) : ortSessions(os.availableParallelism()));
  if (!(Number.isInteger(sessionCount) && sessionCount > 0)) throw usageError(`sessions must be a positive integer. Received: ${sessionCount}`);
  const ort = await loadOnnxRuntime();
  const featureMapName = backboneOnnxOutputs().featureMap;

  /** The backbone graph for one input size: the given file, or the cached pretrained export for that size. */
  interface LoadedModel { model: OnnxModel; file: string; inputName: string; outputNames: string[]; sessions: Map<string, Promise<string>> }
  const models = new Map<number, Promise<LoadedModel>>();
  const loadModel = async (inputSize: number): Promise<LoadedModel> => {
    const file = resolved.modelPath ?? (await ensureBackboneOnnx(resolved.cacheDir, inputSize));
    let model: OnnxModel;
    try {
      model = decodeOnnxModel(await fs.readFile(file));
      if (!model.graph?.input?.length || !model.graph.output?.length) throw new Error('no graph inputs or outputs');
    } catch (err) {
      throw new ImgclsError(`cannot read the ONNX model ${file}`, 'CHECKPOINT_INVALID', file,
        'Delete the file (a cached backbone is regenerated) or export it again with imgcls export.', { cause: err });
    }
    const dims = model.graph.input[0]?.type.tensorType.shape.dim.map((d) => ('dimValue' in d ? Number(d.dimValue) : -1)) ?? [];
    if (resolved.modelPath && ((dims[1] > 0 && dims[1] !== inputSize) || (dims[2] > 0 && dims[2] !== inputSize))) {
      throw usageError(`the ONNX backbone ${file} takes ${dims[1]}×${dims[2]} images. Received inputSize ${inputSize}`);
    }
    return { model, file, inputName: model.graph.input[0]?.name ?? 'image', outputNames: model.graph.output.map((o) => o.name), sessions: new Map() };
  };
  const modelFor = (inputSize: number): Promise<LoadedModel> => {
    let loaded = models.get(inputSize);
    if (!loaded) {
      loaded = loadModel(inputSize);
      models.set(inputSize, loaded);
      loaded.catch(() => models.delete(inputSize));
    }
    return loaded;
  };
  const spinning = resolved.spinning ?? process.env.IMGCLS_ORT_SPINNING === '1';
  let runners: OrtRunner[] = [createInThreadRunner(ort, { threads, spinning })];
  if (useWorker) {
    const settings = { threads: Math.max(1, Math.floor(threads / sessionCount)), spinning };
    const started = await Promise.allSettled(Array.from({ length: sessionCount }, () => createWorkerRunner(settings)));
    const workers = started.flatMap((entry) => (entry.status === 'fulfilled' ? [entry.value] : []));
    // no worker (e.g. bundled without ort-worker.js): sessions run on this thread
    if (workers.length === sessionCount) runners = workers;
    else await Promise.allSettled(workers.map((worker) => worker.release()));
  }
  /** The runners' key of the session computing `fetch` (created on first use, in every runner, from a pruned copy of the graph). */
  const sessionFor = (loaded: LoadedModel, fetch: string[], pooled: readonly string[] = []): Promise<string> => {
    const key = `${loaded.file}\n${fetch.join('\n')}`;
    let session = loaded.sessions.get(key);
    if (!session) {
      const model = encodeOnnxModel(selectOnnxOutputs(pooled.length > 0 ? withPooledOutputs(loaded.model, pooled) : loaded.model, fetch));
      session = Promise.all(runners.map((each) => each.createSession(key, model))).then(() => key);
      loaded.sessions.set(key, session);
      session.catch(() => loaded.sessions.delete(key));
    }
    return session;
  };
  // export (first use) and compile the common session now, so the first batch does not wait for it
  try {
    const initial = await modelFor(224).catch((err: unknown) => {
      if (resolved.modelPath && err instanceof ImgclsError && err.code === 'USAGE') return undefined; // a model made for another size
      throw err;
    });
    if (initial) await sessionFor(initial, [initial.outputNames[0]]);
  } catch (err) {
    await Promise.allSettled(runners.map((each) => each.release()));
    throw err;
  }

  return {
    name: 'onnxruntime',
    runMode: runners[0].mode,
    sessions: runners.length,
    async run(batch: ImageBatch, runOptions: BackboneRunOptions = {}): Promise<BackboneOutputs> {
      const size = batch.inputSize;
      const expected = batch.count * size * size * 3;
      if (!(Number.isInteger(batch.count) && batch.count >= 0) || batch.data.length < expected) {
        throw usageError(`batch data has ${batch.data.length} values; ${batch.count}×${size}×${size}×3 = ${expected} expected`);
      }
      const loaded = await modelFor(size);
      const pooledName = loaded.outputNames[0];
      const fetch = [pooledName];
      if (runOptions.featureMap) {
        if (!loaded.outputNames.includes(featureMapName)) throw usageError(`the ONNX model ${loaded.file} has no feature-map output ${featureMapName}`);
        fetch.push(featureMapName);
      }
      if (runOptions.boundary !== undefined && !fetch.includes(runOptions.boundary)) {
        if (!loaded.outputNames.includes(runOptions.boundary)) {
          throw usageError(`no backbone output named "${runOptions.boundary}"; this engine has ${loaded.outputNames.slice(1).join(', ')}`,
            'Use topKBoundary(k) for a block output.');
        }
        fetch.push(runOptions.boundary);
      }
      for (const layer of runOptions.layers ?? []) {
        if (fetch.includes(layer)) continue;
        if (!loaded.outputNames.includes(layer)) throw usageError(`no backbone output named "${layer}"; this engine has ${loaded.outputNames.slice(1).join(', ')}`);
        fetch.push(layer);
      }
      const pooled = runOptions.pooledLayers ?? [];
      for (const layer of pooled) {
        if (!loaded.outputNames.includes(layer)) throw usageError(`no backbone output named "${layer}"; this engine has ${loaded.outputNames.slice(1).join(', ')}`);
        if (!fetch.includes(pooledOutputName(layer))) fetch.push(pooledOutputName(layer));
      }
      const layersOf = (data: (name: string) => Float32Array) => ({
        ...(runOptions.layers?.length ? { layers: Object.fromEntries(runOptions.layers.map((layer) => [layer, data(layer)])) } : {}),
        ...(pooled.length ? { pooledLayers: Object.fromEntries(pooled.map((layer) => [layer, data(pooledOutputName(layer))])) } : {}),
      });
      if (batch.count === 0) {
        return { pooled: new Float32Array(0), ...(runOptions.featureMap ? { featureMap: new Float32Array(0) } : {}),
          ...(runOptions.boundary !== undefined ? { boundary: new Float32Array(0) } : {}), ...layersOf(() => new Float32Array(0)) };
      }
      const key = await sessionFor(loaded, fetch, pooled);
      // chunks of at most maxRunBatch images, dealt round-robin to the sessions (each runs its own in turn); outputs concatenated per name in order
      const perImage = size * size * 3;
      const jobs: Promise<Record<string, Float32Array>>[] = [];
      for (let start = 0, chunk = 0; start < batch.count; start += maxRunBatch, chunk++) {
        const count = Math.min(maxRunBatch, batch.count - start);
        jobs.push(runners[chunk % runners.length].run(key, loaded.inputName, batch.data.subarray(start * perImage, (start + count) * perImage), [count, size, size, 3], fetch));
      }
      const parts = await Promise.all(jobs);
      const data = (name: string): Float32Array => {
        if (parts.length === 1) return parts[0][name];
        const out = new Float32Array(parts.reduce((sum, part) => sum + part[name].length, 0));
        let offset = 0;
        for (const part of parts) {
          out.set(part[name], offset);
          offset += part[name].length;
        }
        return out;
      };
      return {
        pooled: data(pooledName),
        ...(runOptions.featureMap ? { featureMap: data(featureMapName) } : {}),
        ...(runOptions.boundary !== undefined ? { boundary: data(runOptions.boundary) } : {}),
        ...layersOf(data),
      };
    },
    async dispose() {
      await Promise.allSettled([...models.values()]);
      models.clear();
      await Promise.allSettled(runners.map((each) => each.release()));
    },
  };
}
