import * as tf from '@tensorflow/tfjs';

/** The TF.js backends imgcls can run on, fastest first. */
export type BackendName = 'tensorflow' | 'wasm' | 'cpu';

let ready: Promise<BackendName> | undefined;

/**
 * Selects the TF.js backend once per process and returns its name: `tensorflow` when
 * @tensorflow/tfjs-node can be imported, else `wasm`, else `cpu`. IMGCLS_BACKEND forces one.
 */
export function initBackend(preferred?: BackendName): Promise<BackendName> {
  ready ??= selectBackend(preferred ?? (process.env.IMGCLS_BACKEND as BackendName | undefined));
  return ready;
}

async function selectBackend(preferred?: BackendName): Promise<BackendName> {
  const order: BackendName[] = preferred ? [preferred] : ['tensorflow', 'wasm', 'cpu'];
  for (const name of order) {
    try {
      if (name === 'tensorflow') await import('@tensorflow/tfjs-node' as string);
      if (name === 'wasm') await import('@tensorflow/tfjs-backend-wasm');
      if (await tf.setBackend(name)) {
        await tf.ready();
        return name;
      }
    } catch {
      // not installed or failed to initialise: try the next one
    }
  }
  await tf.setBackend('cpu');
  return 'cpu';
}
