// The ML worker: runs the library's training, classification and evaluation off the extension host's thread.
// Classify, the data report and Add to class use imgcls/infer (ONNX Runtime + plain JS, no TF.js); the full library
// (TF.js) loads only for training and evaluation.
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parentPort } from 'node:worker_threads';
import type {
  ClassifyResult, DatasetFinding, DatasetReportResult, FileClassification, FromWorker, SerializedError, ToWorker, TrainJob, TrainResult, EvaluateResult,
} from './protocol.js';

type Library = typeof import('imgcls');
type Infer = typeof import('imgcls/infer');

const port = parentPort;
if (!port) throw new Error('ml-worker must run in a worker thread');

let library: Promise<Library> | undefined;
/** The full library, loaded on first use (it pulls in TF.js): training and evaluation only. */
function loadLibrary(): Promise<Library> {
  library ??= import('imgcls');
  return library;
}

let infer: Promise<Infer> | undefined;
/** The TF.js-free entry: classification, explanations, the data report, Add to class. */
function loadInfer(): Promise<Infer> {
  infer ??= import('imgcls/infer');
  return infer;
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
      return classify(message.checkpoint, message.files, message.topK, message.explain, message.leastSureFirst ?? false, signal);
    case 'warm': {
      await classifierFor(await loadInfer(), message.checkpoint);
      return null;
    }
    case 'addToClass':
      return (await loadInfer()).addToClass(message.file, message.trainDir, message.className);
    case 'undoAddToClass':
      return (await loadInfer()).undoAddToClass(message.undo);
    case 'datasetReport':
      return datasetReport(message.root, signal);
    case 'historyFigures': {
      const lib = await loadInfer();
      const history = await lib.readHistory(message.file);
      return { loss: lib.lossCurveFigure(history), accuracy: lib.accuracyCurveFigure(history) };
    }
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

const classifiers = new Map<string, Promise<Awaited<ReturnType<Infer['loadClassifier']>>>>();

/** The loaded classifier of a checkpoint (kept warm: the ONNX Runtime session is created once). */
function classifierFor(lib: Infer, checkpoint: string) {
  let classifier = classifiers.get(checkpoint);
  if (!classifier) {
    classifier = lib.loadClassifier(checkpoint);
    classifiers.set(checkpoint, classifier);
    classifier.catch(() => classifiers.delete(checkpoint));
  }
  return classifier;
}

/** Overlay thumbnails are small: they sit beside each result. */
const OVERLAY_MAX_SIZE = 256;
/** Nearest training images asked for with each verdict. */
const NEAREST = 4;

async function classify(checkpoint: string, files: string[], topK: number, explain: boolean, leastSureFirst: boolean, signal: AbortSignal): Promise<ClassifyResult> {
  let t = performance.now();
  const lib = await loadInfer();
  const importMs = performance.now() - t;
  t = performance.now();
  const model = await classifierFor(lib, checkpoint);
  const loadMs = performance.now() - t;
  let classifyMs = 0;
  let camMs = 0;
  const results: FileClassification[] = [];
  for (const file of files) {
    if (signal.aborted) break;
    let result: FileClassification;
    t = performance.now();
    try {
      const { predictions, verdict } = await model.classifyWithVerdict(file, { topK, nearest: NEAREST });
      result = { file, predictions, ...(verdict ? { verdict } : {}) };
    } catch (err) {
      results.push({ file, error: serializeError(err) });
      continue;
    } finally {
      classifyMs += performance.now() - t;
    }
    if (explain) {
      t = performance.now();
      try {
        const png = await lib.renderOverlayPng(await lib.explain(model, file), { maxSize: OVERLAY_MAX_SIZE });
        result.overlay = `data:image/png;base64,${png.toString('base64')}`;
      } catch {
        // the prediction stands without its heat map
      }
      camMs += performance.now() - t;
    }
    results.push(result);
  }
  return { results: leastSureFirst ? lib.leastSureFirst(results) : results, timings: { importMs, loadMs, classifyMs, camMs } };
}

/** The data report as findings on files: leaks, duplicates, unreadable files. */
async function datasetReport(root: string, signal: AbortSignal): Promise<DatasetReportResult> {
  const lib = await loadInfer();
  const report = await lib.datasetReport(root, { signal });
  const rel = (file: string) => path.relative(root, file);
  const findings: DatasetFinding[] = [];
  for (const leak of report.leaks) {
    const how = leak.kind === 'exact' ? 'an exact copy' : `a near copy (distance ${leak.distance})`;
    findings.push({ file: leak.valid.file, kind: 'leak', related: leak.train.file,
      message: `Leak: this validation image is ${how} of the training image ${rel(leak.train.file)}; validation scores are inflated. Remove one of them.` });
    findings.push({ file: leak.train.file, kind: 'leak', related: leak.valid.file,
      message: `Leak: this training image also sits in validation as ${rel(leak.valid.file)}. Remove one of them.` });
  }
  for (const group of report.exactDuplicates) {
    if (group.crossSplit) continue; // reported as a leak
    for (const file of group.files.slice(1)) {
      findings.push({ file: file.file, kind: 'duplicate', related: group.files[0].file,
        message: `Duplicate of ${rel(group.files[0].file)}${group.labelConflict ? ' with a different class: one label is wrong' : ''}.` });
    }
  }
  for (const bad of report.unreadable) findings.push({ file: bad.file, kind: 'unreadable', message: `Unreadable, training skips it: ${bad.reason}` });
  const trainDir = report.layout === 'train-val' ? path.join(root, 'train') : root;
  return { root, classNames: report.classNames, trainDir, findings, warnings: report.warnings };
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
