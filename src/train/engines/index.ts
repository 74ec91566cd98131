import type { DenseHead } from '../../model/types.js';
import type { NamedTensor } from '../../model/checkpoint.js';
import { loadTorchAddon } from '../../model/libtorch/addon.js';
import { ImgclsError, usageError } from '../../errors.js';
import type { ResolvedTrainConfig } from '../config.js';
import { createHeadRunner, type ModeRunner } from '../head-runner.js';

/** Which engine trains 'top-k' and 'full': 'auto' picks libtorch when its addon loads, else TF.js. */
export type TrainEngineChoice = 'auto' | 'tfjs' | 'libtorch';
/** An engine that actually trains. */
export type TrainEngineName = 'tfjs' | 'libtorch';

export const TRAIN_ENGINE_CHOICES: readonly TrainEngineChoice[] = ['auto', 'tfjs', 'libtorch'];

/** The engine a choice resolves to, and why libtorch was not picked (when it was not). IMGCLS_TRAIN_ENGINE overrides 'auto'. */
export function resolveTrainEngine(choice: TrainEngineChoice = 'auto'): { engine: TrainEngineName; reason?: string } {
  const effective = choice === 'auto' ? ((process.env.IMGCLS_TRAIN_ENGINE || 'auto') as TrainEngineChoice) : choice;
  if (!TRAIN_ENGINE_CHOICES.includes(effective)) {
    throw usageError(`train engine must be one of ${TRAIN_ENGINE_CHOICES.join(', ')}. Received: ${effective} (IMGCLS_TRAIN_ENGINE?)`);
  }
  if (effective === 'tfjs') return { engine: 'tfjs', reason: choice === 'auto' ? 'IMGCLS_TRAIN_ENGINE=tfjs' : 'asked for tfjs' };
  const status = loadTorchAddon();
  if (status.addon) return { engine: 'libtorch' };
  if (effective === 'libtorch') {
    throw new ImgclsError(`the libtorch training engine is not available: ${status.reason}`, 'TRAIN_ENGINE_FAILED', status.file,
      'Build it with "npm run build:native" (needs Debian libtorch-dev, g++, make), or train with --train-engine tfjs.');
  }
  return { engine: 'tfjs', reason: status.reason };
}

/** What every runner needs besides the config. */
export interface ModeRunnerOptions {
  /** Values per sample (head mode: pooled features). */
  inputDim: number;
  numClasses: number;
  classWeights: number[];
  resumeFrom?: { head: DenseHead; weights: Record<string, NamedTensor>; steps: number };
}

/**
 * The runner of the config's mode: the dense head alone in JS ('head'), or 'top-k' / 'full' on the
 * resolved training engine (libtorch through the native addon, or TF.js). `engine` names it.
 */
export async function createModeRunner(config: ResolvedTrainConfig, options: ModeRunnerOptions): Promise<ModeRunner & { engine: string }> {
  if (config.mode === 'head') return Object.assign(createHeadRunner(config, options), { engine: 'js' });
  const { engine, reason } = resolveTrainEngine(config.trainEngine);
  const runner = engine === 'libtorch'
    ? await (await import('./libtorch.js')).createLibtorchRunner(config, options)
    : await (await import('../top-k.js')).createTopKRunner(config, options);
  const name = engine === 'libtorch' ? `libtorch ${loadTorchAddon().addon?.torchVersion ?? ''}`.trim() : 'tfjs';
  return Object.assign(runner, { engine: name, ...(engine === 'tfjs' && reason && config.trainEngine === 'auto' ? { engineNote: reason } : {}) });
}
