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
  /**
   * One top-k (k = 2) training step on cached boundary activations, per training image: README's
   * bench:train ran 10 epochs of the lesson's 19 images in 9.76 s cold, ~7 s of it training (≈ 37 ms).
   */
  trainTopKWasm: 40,
  /** The top-k part's forward pass on a cached validation activation, per image (about a third of a training step). */
  validTopKWasm: 13,
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
  work: {
    /** Backbone passes computed once: every cached view of every training image plus the validation images. */
    images: number;
    /** Training images (top-k: each trains once per epoch, one view chosen); default `images`. */
    trainImages?: number;
    validImages?: number;
    epochs: number;
    engine: EngineChoice;
    inputSize?: number;
    /** The TF.js backend that trains top-k/full ('wasm', 'cpu'), or 'libtorch' for the native engine. */
    backend?: string;
  },
): number {
  // network cost grows with the pixel count; the costs above are for 224 × 224 on wasm
  const scale = ((work.inputSize ?? 224) / 224) ** 2 * (work.backend === 'cpu' ? CPU_BACKEND_SLOWDOWN.train : 1);
  const torch = work.backend === 'libtorch';
  const forward = (work.engine === 'tfjs' ? COST_PER_IMAGE_MS.forwardWasm : COST_PER_IMAGE_MS.forwardOnnx) * scale;
  const once = COST_PER_IMAGE_MS.engineLoadMs + work.images * (COST_PER_IMAGE_MS.decode + forward);
  if (mode === 'head') return once;
  // an epoch trains each training image once (one of its cached views), then validates: not every view, not the validation images
  if (mode === 'top-k') {
    const perEpoch = (work.trainImages ?? work.images) * (torch ? COST_PER_IMAGE_MS.trainTopKTorch : COST_PER_IMAGE_MS.trainTopKWasm) + (work.validImages ?? 0) * (torch ? COST_PER_IMAGE_MS.trainTopKTorch / 3 : COST_PER_IMAGE_MS.validTopKWasm);
    return once + work.epochs * perEpoch * scale;
  }
  // full: images decoded once (cached), then every epoch trains the whole network and validates on wasm
  const valid = work.validImages ?? 0;
  return COST_PER_IMAGE_MS.engineLoadMs + work.images * COST_PER_IMAGE_MS.decode +
    work.epochs * scale * (torch
      ? work.images * COST_PER_IMAGE_MS.trainFullTorch + valid * COST_PER_IMAGE_MS.forwardTorch
      : work.images * COST_PER_IMAGE_MS.trainFullWasm + valid * COST_PER_IMAGE_MS.forwardWasm);
}
