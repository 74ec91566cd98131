// Typed messages between the extension host and the ML worker thread (plain data only).

/** What the training settings resolve to; passed to the library's train(). */
export interface TrainJob {
  dataDir: string;
  outDir: string;
  mode: 'head' | 'top-k' | 'full';
  epochs: number;
  batchSize: number;
  learningRate: number;
}

/** A request the extension host sends to the worker. */
export type ToWorker =
  | { type: 'train'; id: number; job: TrainJob }
  | { type: 'classify'; id: number; checkpoint: string; files: string[]; topK: number; explain: boolean }
  | { type: 'evaluate'; id: number; checkpoint: string; dataDir: string }
  | { type: 'cancel'; id: number };

/** One training progress report, as the library gives it (unknown fields pass through). */
export interface TrainProgressMessage {
  epoch?: number;
  epochs?: number;
  step?: number;
  steps?: number;
  loss?: number;
  etaMs?: number;
  /** 'features' (step/steps count images), 'train' (step/steps count batches), 'validate' or 'done'. */
  phase?: string;
  /** A notice for the user (estimate, warning). */
  message?: string;
  [key: string]: unknown;
}

/** An ImgclsError (or any error) flattened for postMessage. */
export interface SerializedError {
  message: string;
  code?: string;
  file?: string;
  hint?: string;
  stack?: string;
}

/** The result of classifying one file: its predictions, or why it could not be classified. */
export interface FileClassification {
  file: string;
  predictions?: { className: string; probability: number }[];
  /** A PNG data URL of the image with the class activation map of the top class laid over it. */
  overlay?: string;
  error?: SerializedError;
}

/** What training returns to the extension. */
export interface TrainResult {
  outDir: string;
  /** The checkpoint to use for Classify (best or last). */
  checkpoint?: string;
}

/** What evaluation returns: the report text and the figures to draw. */
export interface EvaluateResult {
  reportText: string;
  figures: { id: string; title: string; figure: unknown }[];
}

/** A message the worker sends back. */
export type FromWorker =
  | { type: 'progress'; id: number; progress: TrainProgressMessage }
  | { type: 'done'; id: number; result: TrainResult | FileClassification[] | EvaluateResult }
  | { type: 'failed'; id: number; error: SerializedError }
  | { type: 'log'; id: number; message: string };
