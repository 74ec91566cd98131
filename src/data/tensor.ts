import * as tf from '@tensorflow/tfjs';
import type { ImageBatch } from './types.js';

/** The batch as a [count × inputSize × inputSize × 3] float32 tensor; the caller disposes it. */
export function batchToTensor(batch: ImageBatch): tf.Tensor4D {
  return tf.tensor4d(batch.data, [batch.count, batch.inputSize, batch.inputSize, 3], 'float32');
}
