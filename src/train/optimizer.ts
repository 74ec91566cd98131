import type { OptimizerName } from './config.js';

/** Hyperparameters of an optimizer, PyTorch semantics. */
export interface OptimizerSettings {
  name: OptimizerName;
  learningRate: number;
  /** SGD momentum, or Adam's beta1. */
  momentum: number;
  /** L2 penalty added to the gradient (PyTorch's weight_decay). */
  weightDecay: number;
}

/** Adam's beta2 and epsilon (PyTorch defaults). */
export const ADAM_BETA2 = 0.999;
export const ADAM_EPSILON = 1e-8;

/** Optimizer state as named arrays, stored in checkpoints so a resumed run continues exactly. */
export interface OptimizerState {
  /** Updates applied so far. */
  steps: number;
  /** 'sgd': '<param>/momentum'; 'adam': '<param>/m' and '<param>/v'. */
  buffers: Record<string, Float32Array>;
}

/** A new, empty optimizer state. */
export function createOptimizerState(): OptimizerState {
  return { steps: 0, buffers: {} };
}

/**
 * Applies one update to each named parameter in place (PyTorch's torch.optim.SGD / Adam rules, the
 * weight decay added to the gradient) and advances the state.
 */
export function applyOptimizer(
  settings: OptimizerSettings,
  state: OptimizerState,
  params: Record<string, Float32Array>,
  grads: Record<string, Float32Array>,
): void {
  const { learningRate, momentum, weightDecay } = settings;
  const first = state.steps === 0;
  const t = state.steps + 1;
  for (const [name, param] of Object.entries(params)) {
    const grad = grads[name];
    if (settings.name === 'sgd') {
      const buffer = (state.buffers[`${name}/momentum`] ??= new Float32Array(param.length));
      for (let i = 0; i < param.length; i++) {
        const g = grad[i] + weightDecay * param[i];
        // PyTorch: the first momentum buffer is the gradient itself, not momentum·0 + g·(1 − dampening)
        const b = momentum === 0 ? g : first ? g : momentum * buffer[i] + g;
        buffer[i] = b;
        param[i] -= learningRate * b;
      }
    } else {
      const m = (state.buffers[`${name}/m`] ??= new Float32Array(param.length));
      const v = (state.buffers[`${name}/v`] ??= new Float32Array(param.length));
      const correction1 = 1 - momentum ** t;
      const correction2 = 1 - ADAM_BETA2 ** t;
      for (let i = 0; i < param.length; i++) {
        const g = grad[i] + weightDecay * param[i];
        m[i] = momentum * m[i] + (1 - momentum) * g;
        v[i] = ADAM_BETA2 * v[i] + (1 - ADAM_BETA2) * g * g;
        param[i] -= (learningRate * (m[i] / correction1)) / (Math.sqrt(v[i] / correction2) + ADAM_EPSILON);
      }
    }
  }
  state.steps = t;
}
