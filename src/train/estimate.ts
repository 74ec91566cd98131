import type { EngineChoice } from '../model/engine.js';
import type { TrainMode } from '../model/types.js';

/**
 * Per-image costs on this project's reference CPU (2-core EPYC, see FACTS.md), in milliseconds:
 * backbone forward on ONNX Runtime (~130 img/s) and TF.js wasm (~13 img/s), and one full training
 * step on wasm with the custom gradient kernels (~3 s per batch of 4).
 */
export const COST_PER_IMAGE_MS = Object.freeze({
  forwardOnnx: 1000 / 130,
  forwardWasm: 1000 / 13,
  trainFullWasm: 750,
  /** One top-k (k = 2) training step on cached boundary activations, per image (rough). */
  trainTopKWasm: 80,
  /** Decoding + resizing a large JPEG with sharp. */
  decode: 15,
  /** Loading the engine once. */
  engineLoadMs: 1500,
  /** The libtorch engine (backend 'libtorch'), FACTS.md: full training ~25 img/s at batch 8–10, forward ~100 img/s. */
  trainFullTorch: 40,
  trainTopKTorch: 4,
  forwardTorch: 10,
});

/** How much slower TF.js training and forward passes are on the pure-JS cpu backend than on wasm (FACTS.md: 0.5 vs 13 img/s forward, 584 s per b8 step). */
export const CPU_BACKEND_SLOWDOWN = Object.freeze({ forward: 26, train: 97 });

/** A rough wall time of a training run, for telling the user which mode is faster before it starts. */
export function estimateTrainingMs(
  mode: TrainMode,
  /** backend: the TF.js backend that trains top-k/full ('wasm', 'cpu'), or 'libtorch' for the native engine. */
  work: { images: number; validImages?: number; epochs: number; engine: EngineChoice; inputSize?: number; backend?: string },
): number {
  // network cost grows with the pixel count; the costs above are for 224 × 224 on wasm
  const scale = ((work.inputSize ?? 224) / 224) ** 2 * (work.backend === 'cpu' ? CPU_BACKEND_SLOWDOWN.train : 1);
  const torch = work.backend === 'libtorch';
  const forward = (work.engine === 'tfjs' ? COST_PER_IMAGE_MS.forwardWasm : COST_PER_IMAGE_MS.forwardOnnx) * scale;
  const once = COST_PER_IMAGE_MS.engineLoadMs + work.images * (COST_PER_IMAGE_MS.decode + forward);
  if (mode === 'head') return once;
  if (mode === 'top-k') return once + work.epochs * work.images * (torch ? COST_PER_IMAGE_MS.trainTopKTorch : COST_PER_IMAGE_MS.trainTopKWasm) * scale;
  // full: images decoded once (cached), then every epoch trains the whole network and validates on wasm
  const valid = work.validImages ?? 0;
  return COST_PER_IMAGE_MS.engineLoadMs + work.images * COST_PER_IMAGE_MS.decode +
    work.epochs * scale * (torch
      ? work.images * COST_PER_IMAGE_MS.trainFullTorch + valid * COST_PER_IMAGE_MS.forwardTorch
      : work.images * COST_PER_IMAGE_MS.trainFullWasm + valid * COST_PER_IMAGE_MS.forwardWasm);
}
