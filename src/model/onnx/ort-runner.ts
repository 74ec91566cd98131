import { Worker } from 'node:worker_threads';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ImgclsError } from '../../errors.js';

type Ort = typeof import('onnxruntime-node');
type Session = import('onnxruntime-node').InferenceSession;

/** ONNX Runtime session settings imgcls uses. */
export interface OrtSessionSettings {
  /** Intra-op threads (all cores by default). */
  threads: number;
  /** Let idle intra-op threads spin-wait (ONNX Runtime's default; lowest latency, but burns cores that decoding could use). */
  spinning: boolean;
}

/** Holds ONNX Runtime sessions by key and runs them; in this thread or in a worker thread. */
export interface OrtRunner {
  /** 'in-thread' or 'worker'. */
  readonly mode: 'in-thread' | 'worker';
  createSession(key: string, model: Uint8Array): Promise<void>;
  /** Runs a session on one float32 input; returns the fetched outputs' data. */
  run(key: string, inputName: string, data: Float32Array, dims: number[], fetch: string[]): Promise<Record<string, Float32Array>>;
  release(): Promise<void>;
}

/** Request and reply messages between the engine and ort-worker.js. */
export type OrtWorkerRequest =
  | { id: number; type: 'create'; key: string; model: Uint8Array; settings: OrtSessionSettings }
  | { id: number; type: 'run'; key: string; inputName: string; data: Float32Array; dims: number[]; fetch: string[] }
  | { id: number; type: 'release' };
/** The worker's answer to one request: the outputs of a run, or the error it met. */
export type OrtWorkerReply = { id: number; outputs?: Record<string, Float32Array>; error?: { message: string; stack?: string } };
type WithoutId<T> = T extends unknown ? Omit<T, 'id'> : never;

/** The session options of every imgcls ONNX Runtime session: all graph optimisations, sequential, `threads` intra-op threads. */
export function sessionOptions(settings: OrtSessionSettings): import('onnxruntime-node').InferenceSession.SessionOptions {
  return {
    intraOpNumThreads: settings.threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
    // config keys of onnxruntime_session_options_config_keys.h; the Node binding takes string values only
    extra: { session: { intra_op: { allow_spinning: settings.spinning ? '1' : '0' } } },
  };
}

/** Sessions on the calling thread (ONNX Runtime's Node binding runs them synchronously, blocking the event loop). */
export function createInThreadRunner(ort: Ort, settings: OrtSessionSettings): OrtRunner {
  const sessions = new Map<string, Promise<Session>>();
  return {
    mode: 'in-thread',
    async createSession(key, model) {
      if (!sessions.has(key)) {
        const session = ort.InferenceSession.create(model, sessionOptions(settings));
        sessions.set(key, session);
        session.catch(() => sessions.delete(key));
      }
      await sessions.get(key);
    },
    async run(key, inputName, data, dims, fetch) {
      const session = await sessions.get(key);
      if (!session) throw new Error(`no ONNX Runtime session ${key}`);
      const results = await session.run({ [inputName]: new ort.Tensor('float32', data, dims) }, fetch);
      return Object.fromEntries(fetch.map((name) => [name, results[name].data as Float32Array]));
    },
    async release() {
      const all = await Promise.allSettled([...sessions.values()]);
      sessions.clear();
      for (const entry of all) if (entry.status === 'fulfilled') await entry.value.release();
    },
  };
}

/**
 * Sessions in a worker thread, so a run does not block the event loop: image decoding (sharp, on
 * libuv's pool) keeps being scheduled while the network runs. The worker is unref'd while idle.
 * Throws when the worker script is missing (e.g. inside a bundle); the caller falls back to in-thread.
 */
export async function createWorkerRunner(settings: OrtSessionSettings): Promise<OrtRunner> {
  const script = fileURLToPath(new URL('./ort-worker.js', import.meta.url));
  if (!existsSync(script)) throw new Error(`worker script ${script} not found`);
  const worker = new Worker(script);
  const pending = new Map<number, { resolve: (reply: OrtWorkerReply) => void; reject: (err: Error) => void }>();
  let nextId = 1;
  let failure: Error | undefined;
  worker.unref();
  worker.on('message', (reply: OrtWorkerReply) => {
    const waiter = pending.get(reply.id);
    pending.delete(reply.id);
    if (pending.size === 0) worker.unref();
    waiter?.resolve(reply);
  });
  const failAll = (err: Error) => {
    failure = err;
    for (const waiter of pending.values()) waiter.reject(err);
    pending.clear();
  };
  worker.on('error', failAll);
  worker.on('exit', (code) => failAll(new Error(`the ONNX Runtime worker exited (code ${code})`)));

  const call = (request: WithoutId<OrtWorkerRequest>, transfer: ArrayBuffer[] = []): Promise<OrtWorkerReply> => {
    if (failure) return Promise.reject(failure);
    const id = nextId++;
    return new Promise<OrtWorkerReply>((resolve, reject) => {
      pending.set(id, { resolve, reject });
      worker.ref();
      worker.postMessage({ ...request, id }, transfer);
    }).then((reply) => {
      if (reply.error) {
        const err = new ImgclsError(`ONNX Runtime: ${reply.error.message}`, 'BACKEND_UNAVAILABLE', undefined,
          'Run "imgcls doctor"; IMGCLS_ENGINE=tfjs uses TF.js instead.');
        if (reply.error.stack) err.stack = reply.error.stack;
        throw err;
      }
      return reply;
    });
  };

  // fail now (not at the first batch) when onnxruntime-node cannot load inside the worker
  try {
    await call({ type: 'create', key: '', model: new Uint8Array(0), settings });
  } catch (err) {
    await worker.terminate();
    throw err;
  }
  return {
    mode: 'worker',
    async createSession(key, model) {
      await call({ type: 'create', key, model, settings });
    },
    async run(key, inputName, data, dims, fetch) {
      const copy = data.slice(); // the caller keeps its batch; the copy moves to the worker without another copy
      return (await call({ type: 'run', key, inputName, data: copy, dims, fetch }, [copy.buffer as ArrayBuffer])).outputs ?? {};
    },
    async release() {
      if (!failure) await call({ type: 'release' }).catch(() => undefined);
      await worker.terminate();
    },
  };
}
