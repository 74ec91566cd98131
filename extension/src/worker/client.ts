import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import type * as vscode from 'vscode';
import type {
  AddedToClass, AddToClassUndo, ClassifyResult, DatasetReportResult, EvaluateResult, FromWorker, SerializedError, ToWorker, TrainJob, TrainProgressMessage,
  TrainResult, UndoOutcome,
} from './protocol.js';

/** An error that came back from the library in the worker, with its ImgclsError code, file and hint. */
export class LibraryError extends Error {
  readonly code?: string;
  readonly file?: string;
  readonly hint?: string;
  constructor(error: SerializedError) {
    super(error.message);
    this.name = 'LibraryError';
    this.code = error.code;
    this.file = error.file;
    this.hint = error.hint;
    if (error.stack) this.stack = error.stack;
  }
}

interface Pending {
  resolve(value: unknown): void;
  reject(err: Error): void;
  onProgress?: (progress: TrainProgressMessage) => void;
}

/** How long a cancelled job may take to stop by itself before its worker is terminated. */
const CANCEL_GRACE_MS = 15_000;

/** One worker thread running the library; requests are numbered and answered by id. */
export class MlWorker implements vscode.Disposable {
  private worker: Worker | undefined;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();

  constructor(private readonly extensionPath: string, private readonly log: (line: string) => void) {}

  /** Trains a model; cancel with `signal`; progress arrives through `onProgress`. */
  train(job: TrainJob, signal: AbortSignal, onProgress: (progress: TrainProgressMessage) => void): Promise<TrainResult> {
    return this.request((id) => ({ type: 'train', id, job }), signal, onProgress) as Promise<TrainResult>;
  }

  /** Classifies image files with a checkpoint; per-file failures come back inside the results. */
  classify(checkpoint: string, files: string[], topK: number, explain: boolean, options: { leastSureFirst?: boolean; signal?: AbortSignal } = {}): Promise<ClassifyResult> {
    return this.request((id) => ({ type: 'classify', id, checkpoint, files, topK, explain, leastSureFirst: options.leastSureFirst }), options.signal) as Promise<ClassifyResult>;
  }

  /** Starts the worker and loads a checkpoint (ONNX Runtime session included) ahead of the first Classify. */
  warm(checkpoint: string): Promise<void> {
    return this.request((id) => ({ type: 'warm', id, checkpoint })) as Promise<void>;
  }

  /** Copies an image into the dataset's class folder (never overwriting). */
  addToClass(file: string, trainDir: string, className: string): Promise<AddedToClass> {
    return this.request((id) => ({ type: 'addToClass', id, file, trainDir, className })) as Promise<AddedToClass>;
  }

  /** Removes the copy addToClass made, if unchanged. */
  undoAddToClass(undo: AddToClassUndo): Promise<UndoOutcome> {
    return this.request((id) => ({ type: 'undoAddToClass', id, undo })) as Promise<UndoOutcome>;
  }

  /** The data report of a dataset folder as findings on files. */
  datasetReport(root: string, signal?: AbortSignal): Promise<DatasetReportResult> {
    return this.request((id) => ({ type: 'datasetReport', id, root }), signal) as Promise<DatasetReportResult>;
  }

  /** The loss and accuracy figures of a history.jsonl. */
  historyFigures(file: string): Promise<{ loss: unknown; accuracy: unknown }> {
    return this.request((id) => ({ type: 'historyFigures', id, file })) as Promise<{ loss: unknown; accuracy: unknown }>;
  }

  /** True while the worker thread exists (for the timings of the first Classify). */
  get started(): boolean {
    return this.worker !== undefined;
  }

  /** True once a worker thread was ever started (an untrusted workspace must start none). */
  get everStarted(): boolean {
    return this.startedOnce;
  }

  private startedOnce = false;

  /** Evaluates a checkpoint on a dataset folder. */
  evaluate(checkpoint: string, dataDir: string, signal?: AbortSignal): Promise<EvaluateResult> {
    return this.request((id) => ({ type: 'evaluate', id, checkpoint, dataDir }), signal) as Promise<EvaluateResult>;
  }

  dispose(): void {
    this.terminate(new Error('imgcls worker stopped'));
  }

  private request(build: (id: number) => ToWorker, signal?: AbortSignal, onProgress?: Pending['onProgress']): Promise<unknown> {
    const id = this.nextId++;
    const worker = this.ensureWorker();
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject, onProgress });
      worker.postMessage(build(id));
      signal?.addEventListener('abort', () => {
        worker.postMessage({ type: 'cancel', id } satisfies ToWorker);
        const timer = setTimeout(() => {
          if (this.pending.has(id)) {
            this.log(`job ${id} did not stop within ${CANCEL_GRACE_MS} ms of Cancel; terminating the worker`);
            this.terminate(new LibraryError({ message: 'cancelled', code: 'CANCELLED' }));
          }
        }, CANCEL_GRACE_MS);
        timer.unref();
      }, { once: true });
    });
  }

  private ensureWorker(): Worker {
    if (this.worker) return this.worker;
    const worker = new Worker(path.join(this.extensionPath, 'extension', 'dist', 'ml-worker.mjs'));
    this.startedOnce = true;
    worker.on('message', (message: FromWorker) => this.onMessage(message));
    worker.on('error', (err) => {
      this.log(`worker error: ${err.stack ?? err.message}`);
      this.terminate(err);
    });
    worker.on('exit', (code) => {
      if (this.worker === worker) {
        this.worker = undefined;
        this.rejectAll(new Error(`imgcls worker exited with code ${code}`));
      }
    });
    this.worker = worker;
    return worker;
  }

  private onMessage(message: FromWorker): void {
    const pending = this.pending.get(message.id);
    if (!pending) return;
    switch (message.type) {
      case 'progress':
        pending.onProgress?.(message.progress);
        break;
      case 'log':
        this.log(message.message);
        break;
      case 'done':
        this.pending.delete(message.id);
        pending.resolve(message.result);
        break;
      case 'failed':
        this.pending.delete(message.id);
        pending.reject(new LibraryError(message.error));
        break;
    }
  }

  private terminate(err: Error): void {
    const worker = this.worker;
    this.worker = undefined;
    this.rejectAll(err);
    void worker?.terminate();
  }

  private rejectAll(err: Error): void {
    for (const pending of this.pending.values()) pending.reject(err);
    this.pending.clear();
  }
}
