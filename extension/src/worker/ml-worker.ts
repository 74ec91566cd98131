// The ML worker: runs the library's training, classification and evaluation off the extension host's thread.
import { parentPort } from 'node:worker_threads';
import type { FileClassification, FromWorker, SerializedError, ToWorker, TrainJob, TrainResult, EvaluateResult } from './protocol.js';

type Library = typeof import('imgcls');

const port = parentPort;
if (!port) throw new Error('ml-worker must run in a worker thread');

let library: Promise<Library> | undefined;
/** The library, loaded on first use (it pulls in TF.js). */
function loadLibrary(): Promise<Library> {
  library ??= import('imgcls');
  return library;
}

const running = new Map<number, AbortController>();

function send(message: FromWorker): void {
  port!.postMessage(message);
}

function serializeError(err: unknown): SerializedError {
  if (err instanceof Error) {
    const { code, file, hint } = err as Error & { code?: unknown; file?: unknown; hint?: unknown };
    return {
      message: err.message,
      code: typeof code === 'string' ? code : undefined,
      file: typeof file === 'string' ? file : undefined,
      hint: typeof hint === 'string' ? hint : undefined,
      stack: err.stack,
    };
  }
  return { message: String(err) };
}

port.on('message', (message: ToWorker) => {
  if (message.type === 'cancel') {
    running.get(message.id)?.abort();
    return;
  }
  const abort = new AbortController();
  running.set(message.id, abort);
  handle(message, abort.signal)
    .then((result) => send({ type: 'done', id: message.id, result }))
    .catch((err: unknown) => send({ type: 'failed', id: message.id, error: serializeError(err) }))
    .finally(() => running.delete(message.id));
});

async function handle(message: Exclude<ToWorker, { type: 'cancel' }>, signal: AbortSignal) {
  switch (message.type) {
    case 'train':
      return train(message.id, message.job, signal);
    case 'classify':
      return classify(message.checkpoint, message.files, message.topK, message.explain, signal);
    case 'evaluate':
      return evaluate(message.checkpoint, message.dataDir, signal);
  }
}

async function train(id: number, job: TrainJob, signal: AbortSignal): Promise<TrainResult> {
  const lib = await loadLibrary();
  const result = await lib.train(
    {
      data: job.dataDir,
      outDir: job.outDir,
      mode: job.mode,
      epochs: job.epochs,
      batchSize: job.batchSize,
      learningRate: job.learningRate,
    },
    { signal, onProgress: (progress) => send({ type: 'progress', id, progress: { ...progress } }) },
  );
  return { outDir: result.outDir, checkpoint: result.checkpoints.best };
}

const classifiers = new Map<string, Promise<Awaited<ReturnType<Library['loadClassifier']>>>>();

/** Overlay thumbnails are small: they sit beside each result. */
const OVERLAY_MAX_SIZE = 256;

async function classify(checkpoint: string, files: string[], topK: number, explain: boolean, signal: AbortSignal): Promise<FileClassification[]> {
  const lib = await loadLibrary();
  let classifier = classifiers.get(checkpoint);
  if (!classifier) {
    classifier = lib.loadClassifier(checkpoint);
    classifiers.set(checkpoint, classifier);
    classifier.catch(() => classifiers.delete(checkpoint));
  }
  const model = await classifier;
  const results: FileClassification[] = [];
  for (const file of files) {
    if (signal.aborted) break;
    let result: FileClassification;
    try {
      result = { file, predictions: await model.classify(file, topK) };
    } catch (err) {
      results.push({ file, error: serializeError(err) });
      continue;
    }
    if (explain) {
      try {
        const png = await lib.renderOverlayPng(await lib.explain(model, file), { maxSize: OVERLAY_MAX_SIZE });
        result.overlay = `data:image/png;base64,${png.toString('base64')}`;
      } catch {
        // the prediction stands without its heat map
      }
    }
    results.push(result);
  }
  return results;
}

async function evaluate(checkpoint: string, dataDir: string, signal: AbortSignal): Promise<EvaluateResult> {
  const lib = await loadLibrary();
  const classifier = await lib.loadClassifier(checkpoint);
  try {
    const dataset = await lib.scanDataset(dataDir);
    const evaluation = await lib.evaluate(classifier, dataset, { signal });
    const figures: EvaluateResult['figures'] = [
      { id: 'confusion', title: 'Confusion matrix', figure: lib.confusionMatrixFigure(evaluation.confusionMatrix, evaluation.classNames) },
    ];
    for (const curves of evaluation.curves) {
      if (!curves.precisionRecall) continue;
      figures.push({
        id: `pr-${curves.className}`,
        title: `Precision–recall: ${curves.className}`,
        figure: lib.prCurveFigure(curves.precisionRecall, evaluation.threshold?.className === curves.className ? evaluation.threshold.value : undefined, { className: curves.className }),
      });
    }
    const skipped = evaluation.skipped.map((s) => `skipped ${s.file}: ${s.reason}`);
    return { reportText: [evaluation.report, ...skipped].join('\n'), figures };
  } finally {
    await classifier.dispose();
  }
}
