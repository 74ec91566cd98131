// Worker-thread side of createWorkerRunner: holds ONNX Runtime sessions and runs them off the main thread.
import { parentPort } from 'node:worker_threads';
import type { OrtWorkerReply, OrtWorkerRequest } from './ort-runner.js';
import { sessionOptions } from './ort-runner.js';

type Ort = typeof import('onnxruntime-node');
type Session = import('onnxruntime-node').InferenceSession;

const sessions = new Map<string, Promise<Session>>();
let ort: Promise<Ort> | undefined;

async function handle(request: OrtWorkerRequest): Promise<OrtWorkerReply> {
  ort ??= import('onnxruntime-node').then((module) => ((module as { default?: Ort }).default ?? module) as Ort);
  const runtime = await ort;
  if (request.type === 'create') {
    if (request.key !== '' && !sessions.has(request.key)) {
      const session = runtime.InferenceSession.create(request.model, sessionOptions(request.settings));
      sessions.set(request.key, session);
      session.catch(() => sessions.delete(request.key));
      await session;
    }
    return { id: request.id };
  }
  if (request.type === 'run') {
    const session = await sessions.get(request.key);
    if (!session) throw new Error(`no session ${request.key}`);
    const results = await session.run({ [request.inputName]: new runtime.Tensor('float32', request.data, request.dims) }, request.fetch);
    return { id: request.id, outputs: Object.fromEntries(request.fetch.map((name) => [name, results[name].data as Float32Array])) };
  }
  const all = await Promise.allSettled([...sessions.values()]);
  sessions.clear();
  for (const entry of all) if (entry.status === 'fulfilled') await entry.value.release();
  return { id: request.id };
}

parentPort?.on('message', (request: OrtWorkerRequest) => {
  handle(request).then(
    (reply) => parentPort?.postMessage(reply),
    (err: unknown) => {
      const error = err instanceof Error ? { message: err.message, stack: err.stack } : { message: String(err) };
      parentPort?.postMessage({ id: request.id, error } satisfies OrtWorkerReply);
    },
  );
});
