import type { BackboneEngine } from './types.js';
import { createOnnxEngine } from './onnx/ort-engine.js';
import { usageError } from '../errors.js';

/** Which engine to run the backbone on; 'auto' picks ONNX Runtime when it loads, else TF.js. */
export type EngineChoice = 'auto' | 'onnxruntime' | 'tfjs';

const ENGINE_CHOICES: readonly EngineChoice[] = ['auto', 'onnxruntime', 'tfjs'];

/** A BackboneEngine that says why it is not the preferred one (set when 'auto' fell back to TF.js). */
export type SelectedEngine = BackboneEngine & { readonly fallbackReason?: string };

/**
 * Creates the backbone engine every stage uses (feature extraction, predict, eval, Classify):
 * ONNX Runtime for 'auto' and 'onnxruntime', TF.js for 'tfjs'. When 'auto' cannot start ONNX Runtime
 * it returns the TF.js engine with `fallbackReason` saying why. IMGCLS_ENGINE overrides 'auto'.
 */
export async function createBackboneEngine(choice: EngineChoice = 'auto'): Promise<SelectedEngine> {
  const effective = choice === 'auto' ? ((process.env.IMGCLS_ENGINE || 'auto') as EngineChoice) : choice;
  if (!ENGINE_CHOICES.includes(effective)) {
    throw usageError(`engine must be one of ${ENGINE_CHOICES.join(', ')}. Received: ${effective}`);
  }
  // TF.js loads only when it is the engine: the ONNX Runtime path never imports it
  const createTfjsEngine = async () => (await import('./tfjs-engine.js')).createTfjsEngine();
  if (effective === 'tfjs') return createTfjsEngine();
  try {
    return await createOnnxEngine();
  } catch (err) {
    if (effective === 'onnxruntime') throw err;
    const engine = await createTfjsEngine();
    const fallbackReason = `onnxruntime unavailable: ${err instanceof Error ? err.message : String(err)}`;
    return {
      name: engine.name,
      fallbackReason,
      run: (batch, options) => engine.run(batch, options),
      dispose: () => engine.dispose(),
    };
  }
}
