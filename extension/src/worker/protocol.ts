// Typed messages between the extension host and the ML worker thread (plain data only). Library *types* only: the
// host never loads the library (TF.js, ONNX Runtime and sharp live in the worker).
import type { AddedToClass, AddToClassUndo, OpenSetVerdict, UndoOutcome } from 'imgcls/infer';

export type { AddedToClass, AddToClassUndo, OpenSetVerdict, UndoOutcome };

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
  | { type: 'classify'; id: number; checkpoint: string; files: string[]; topK: number; explain: boolean; leastSureFirst?: boolean }
  | { type: 'warm'; id: number; checkpoint: string }
  | { type: 'addToClass'; id: number; file: string; trainDir: string; className: string }
  | { type: 'undoAddToClass'; id: number; undo: AddToClassUndo }
  | { type: 'datasetReport'; id: number; root: string }
  | { type: 'historyFigures'; id: number; file: string }
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
  /** The open-set verdict, when the checkpoint carries open-set data. */
  verdict?: OpenSetVerdict;
  error?: SerializedError;
}

/** Where the time of one Classify went, in ms, measured in the worker (the host adds its own phases). */
export interface ClassifyTimings {
  /** Importing imgcls/infer (0 once loaded). */
  importMs: number;
  /** Loading the checkpoint and creating the ONNX Runtime session (0 when warm). */
  loadMs: number;
  /** Decode + backbone + head, summed over files. */
  classifyMs: number;
  /** Class activation maps and overlay PNGs, summed over files. */
  camMs: number;
}

/** What Classify returns: per-file results (in the order to show) and the worker's timings. */
export interface ClassifyResult {
  results: FileClassification[];
  timings: ClassifyTimings;
}

/** One finding of the data report, attached to a file. */
export interface DatasetFinding {
  file: string;
  kind: 'leak' | 'duplicate' | 'unreadable' | 'narrow';
  message: string;
  /** The other file of a leak or duplicate. */
  related?: string;
}

/** The data report, reduced to what the dataset view shows. */
export interface DatasetReportResult {
  root: string;
  classNames: string[];
  /** The folder new training images go to (root/train, or root for a flat layout). */
  trainDir: string;
  findings: DatasetFinding[];
  warnings: string[];
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
  | { type: 'done'; id: number; result: unknown }
  | { type: 'failed'; id: number; error: SerializedError }
  | { type: 'log'; id: number; message: string };
