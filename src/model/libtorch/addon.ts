import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The addon's file, relative to the package root (built by `npm run build:native`). */
export const TORCH_ADDON_RELATIVE_PATH = path.join('native', 'libtorch', 'build', 'Release', 'imgcls_torch.node');

/** One weight handed to the addon, in libtorch layout; buffers are optimizer state of the same shape. */
export interface TorchParamInit {
  name: string;
  shape: number[];
  data: Float32Array;
  trainable: boolean;
  buffers?: Record<string, Float32Array>;
}

/** A weight read back from the addon (libtorch layout, contiguous). */
export interface TorchParamValue {
  name: string;
  data: Float32Array;
  buffers: Record<string, Float32Array>;
}

/** The native model: the graph runs in libtorch, every call but params() off the JS thread. */
export interface TorchModel {
  /** Pooled features [n × features] of NHWC input with shape [n, h, w, c]. */
  forward(data: Float32Array, shape: number[]): Promise<Float32Array>;
  /** Softmax through the dense head [n × classes]. */
  predict(data: Float32Array, shape: number[]): Promise<Float32Array>;
  /** Weighted cross-entropy, backward and (with apply, the default) one optimizer update. */
  step(data: Float32Array, shape: number[], labels: Int32Array, sampleWeights: Float32Array, mask: Float32Array,
    options?: { apply?: boolean; grads?: boolean }): Promise<{ loss: number; correct: number; grads?: (Float32Array | null)[] }>;
  params(): TorchParamValue[];
  setOptimizer(settings: { name: string; learningRate: number; momentum: number; weightDecay: number; steps: number }): void;
}

/** The loaded addon. */
export interface TorchAddon {
  TorchModel: new (graph: {
    nodes: { op: string; inputs: number[]; weight?: number; bias?: number; stride?: number; groups?: number }[];
    params: TorchParamInit[];
    output: number;
    head: { kernel: number; bias: number };
  }) => TorchModel;
  torchVersion: string;
  threads(): number;
}

/** The addon, or why it is not available. */
export type TorchAddonStatus = { addon: TorchAddon; file: string; reason?: undefined } | { addon?: undefined; file?: string; reason: string };

let cached: TorchAddonStatus | undefined;

/** The addon file found upwards from this module (repository, installed package), or undefined. */
function findAddon(): string | undefined {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = path.join(dir, TORCH_ADDON_RELATIVE_PATH);
    if (existsSync(candidate)) return candidate;
    const parent = path.dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

/**
 * Loads the libtorch addon once per process. Never throws: when it is absent, disabled
 * (IMGCLS_LIBTORCH=off) or fails to load (no libtorch on the system), `reason` says why.
 */
export function loadTorchAddon(): TorchAddonStatus {
  if (cached) return cached;
  if (process.env.IMGCLS_LIBTORCH === 'off') return (cached = { reason: 'disabled by IMGCLS_LIBTORCH=off' });
  const file = process.env.IMGCLS_LIBTORCH_ADDON || findAddon();
  if (!file) {
    cached = {
      reason: `the libtorch addon is not built (${TORCH_ADDON_RELATIVE_PATH}); in the repository run "npm run build:native" ` +
        '(needs Debian libtorch-dev, g++ and make); the npm package cannot build it',
    };
    return cached;
  }
  try {
    const addon = createRequire(import.meta.url)(file) as TorchAddon;
    cached = { addon, file };
  } catch (err) {
    cached = { file, reason: `cannot load ${file}: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}` };
  }
  return cached;
}
