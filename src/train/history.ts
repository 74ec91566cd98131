import { promises as fs } from 'node:fs';
import { ImgclsError } from '../errors.js';
import { writeFileAtomic } from '../util/atomic.js';

/** One optimizer step, appended to history.jsonl as it happens. */
export interface StepRecord {
  type: 'step';
  /** 1-based epoch. */
  epoch: number;
  /** 1-based step within the epoch. */
  step: number;
  /** Steps in this epoch. */
  steps: number;
  /** Mean (class-weighted) cross-entropy of the batch. */
  loss: number;
  /** Share of the batch predicted right (dropout on). */
  accuracy: number;
  lr: number;
  /** Wall time of the step. */
  timeMs: number;
}

/** One finished epoch, appended to history.jsonl after validation. */
export interface EpochRecord {
  type: 'epoch';
  epoch: number;
  epochs: number;
  /** Mean training loss over the epoch's steps. */
  loss: number;
  /** Share of the epoch's training images predicted right during the steps. */
  accuracy: number;
  /** Mean validation cross-entropy (unweighted); null when there is no validation set. */
  val_loss: number | null;
  val_accuracy: number | null;
  /** Recall of each class on the validation set, in classNames order. */
  val_recall: number[] | null;
  lr: number;
  /** Wall time of the epoch (steps + validation). */
  timeMs: number;
  /** Set when every validation prediction fell on one class. */
  warning?: string;
  /** Checkpoint files written after this epoch (names relative to the run folder). */
  checkpoints: string[];
}

/** A line of history.jsonl. */
export type HistoryRecord = StepRecord | EpochRecord;

/** Appends one record as a JSON line (one write call, so a reader never sees half a line from a live run). */
export async function appendHistory(file: string, record: HistoryRecord): Promise<void> {
  await fs.appendFile(file, `${JSON.stringify(record)}\n`);
}

/**
 * The records of a history.jsonl file, in order. A last line cut short by a killed run is ignored;
 * a malformed line elsewhere is an error naming the line.
 */
export async function readHistory(file: string): Promise<HistoryRecord[]> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (err) {
    throw new ImgclsError(`cannot read training history: ${file}`, 'CHECKPOINT_NOT_FOUND', file,
      'Pass the history.jsonl of a run folder written by imgcls train.', { cause: err });
  }
  return parseHistory(text, file);
}

/** Parses the text of a history.jsonl file (see readHistory). */
export function parseHistory(text: string, file = 'history.jsonl'): HistoryRecord[] {
  const lines = text.split('\n');
  const complete = text.endsWith('\n') || text === '' ? lines.slice(0, -1) : lines;
  const records: HistoryRecord[] = [];
  complete.forEach((line, index) => {
    if (line.trim() === '') return;
    try {
      records.push(JSON.parse(line) as HistoryRecord);
    } catch (err) {
      // only the unterminated last line may be partial (a run killed mid-write)
      if (index === complete.length - 1 && !text.endsWith('\n')) return;
      throw new ImgclsError(`line ${index + 1} of the training history is not JSON`, 'CHECKPOINT_INVALID', file,
        'The file was edited or damaged; delete it to start the history afresh.', { cause: err });
    }
  });
  return records;
}

/** Rewrites the history keeping only records of epochs ≤ lastEpoch (used when a run resumes). */
export async function truncateHistory(file: string, lastEpoch: number): Promise<void> {
  let text = '';
  try {
    text = await fs.readFile(file, 'utf8');
  } catch {
    return; // no history yet
  }
  const kept = parseHistory(text, file).filter((record) => record.epoch <= lastEpoch);
  await writeFileAtomic(file, kept.map((record) => `${JSON.stringify(record)}\n`).join(''));
}
