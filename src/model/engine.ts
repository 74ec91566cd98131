import type { BackboneEngine } from './types.js';
import { createTfjsEngine } from './tfjs-engine.js';

/** Which engine to run the backbone on; 'auto' picks ONNX Runtime when it loads, else TF.js. */
export type EngineChoice = 'auto' | 'onnxruntime' | 'tfjs';

/** Creates the backbone engine every stage uses (feature extraction, predict, eval, Classify). */
export async function createBackboneEngine(choice: EngineChoice = 'auto'): Promise<BackboneEngine> {
  // TODO(issue 9): onnxruntime-node engine first when choice is 'auto' or 'onnxruntime'.
  void choice;
  return createTfjsEngine();
}
