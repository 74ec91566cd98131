import { scanDataset } from '../data/scan.js';
import type { Dataset } from '../data/types.js';
import { loadCheckpoint } from '../model/checkpoint.js';

/** What may override the split settings a checkpoint was trained with. */
export interface CheckpointSplitOverrides {
  /** Held-out share when the dataset has no val/ folder. Default: the checkpoint's, else scanDataset's. */
  validPct?: number;
  /** Seed of that split. Default: the checkpoint's, else scanDataset's. */
  seed?: number;
}

/**
 * Scans `data` the way the checkpoint's training run did (its validPct and seed unless overridden),
 * so that the 'valid' split of an auto-split dataset is the one training held out; also returns the
 * checkpoint's class names. Every front end evaluates through this, so they agree on the split.
 */
export async function scanForCheckpoint(checkpoint: string, data: string, overrides: CheckpointSplitOverrides = {}):
  Promise<{ dataset: Dataset; classNames: string[] }> {
  const { training, spec } = await loadCheckpoint(checkpoint);
  const config = training?.config ?? {};
  const validPct = overrides.validPct ?? (typeof config.validPct === 'number' ? config.validPct : undefined);
  const seed = overrides.seed ?? (typeof config.seed === 'number' ? config.seed : undefined);
  return { dataset: await scanDataset(data, { validPct, seed }), classNames: spec.classNames };
}
