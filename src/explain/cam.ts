import { ImgclsError, usageError } from '../errors.js';
import type { DenseHead } from '../model/types.js';

/**
 * The class activation map of one image: Σ_c kernel[c, classIndex] · featureMap[:, :, c], ReLU, divided
 * by its maximum, as mapSize × mapSize values in [0, 1] (row-major, top row first; all zeros when no
 * cell is positive). For a global-average-pool + dense head this is exactly Grad-CAM: the gradient of
 * the class logit with respect to every cell of channel c is kernel[c, class] / mapSize², the same for
 * every cell, so Grad-CAM's channel weights are the head's weights up to a factor the normalisation removes.
 * @param featureMap one image's NHWC map, mapSize × mapSize × channels values.
 */
export function classActivationMap(
  featureMap: Float32Array,
  mapSize: number,
  channels: number,
  head: DenseHead,
  classIndex: number,
): Float32Array {
  if (!(Number.isInteger(mapSize) && mapSize > 0)) throw usageError(`mapSize must be a positive integer. Received: ${mapSize}`);
  if (featureMap.length !== mapSize * mapSize * channels) {
    throw usageError(`featureMap has ${featureMap.length} values; ${mapSize}×${mapSize}×${channels} = ${mapSize * mapSize * channels} expected`);
  }
  if (head.inputDim !== channels || head.kernel.length !== head.inputDim * head.numClasses) {
    throw new ImgclsError(
      `the head takes ${head.inputDim} features (kernel of ${head.kernel.length} values for ${head.numClasses} classes) but the feature map has ${channels} channels`,
      'CHECKPOINT_INCOMPATIBLE', undefined, 'Explain with the classifier whose backbone produced this feature map.');
  }
  if (!(Number.isInteger(classIndex) && classIndex >= 0 && classIndex < head.numClasses)) {
    throw usageError(`classIndex must be an integer in [0, ${head.numClasses - 1}]. Received: ${classIndex}`);
  }
  const cells = mapSize * mapSize;
  const map = new Float32Array(cells);
  let max = 0;
  for (let cell = 0; cell < cells; cell++) {
    const offset = cell * channels;
    let sum = 0;
    for (let c = 0; c < channels; c++) sum += head.kernel[c * head.numClasses + classIndex] * featureMap[offset + c];
    map[cell] = sum > 0 ? sum : 0;
    if (map[cell] > max) max = map[cell];
  }
  if (max > 0) for (let cell = 0; cell < cells; cell++) map[cell] /= max;
  return map;
}

/** The global average of one image's NHWC feature map: the pooled features the dense head classifies (channels values). */
export function poolFeatureMap(featureMap: Float32Array, mapSize: number, channels: number): Float32Array {
  const cells = mapSize * mapSize;
  const sums = new Float64Array(channels);
  for (let cell = 0; cell < cells; cell++) {
    const offset = cell * channels;
    for (let c = 0; c < channels; c++) sums[c] += featureMap[offset + c];
  }
  return Float32Array.from(sums, (sum) => sum / cells);
}

/** Bilinear resampling of a mapSize × mapSize map to width × height, cell centres at pixel centres (edges clamped). */
export function upsampleMap(map: Float32Array, mapSize: number, width: number, height: number): Float32Array {
  const out = new Float32Array(width * height);
  const xs = axisWeights(mapSize, width);
  const ys = axisWeights(mapSize, height);
  for (let y = 0; y < height; y++) {
    const row0 = ys.low[y] * mapSize;
    const row1 = ys.high[y] * mapSize;
    const fy = ys.frac[y];
    for (let x = 0; x < width; x++) {
      const x0 = xs.low[x];
      const x1 = xs.high[x];
      const fx = xs.frac[x];
      const top = map[row0 + x0] * (1 - fx) + map[row0 + x1] * fx;
      const bottom = map[row1 + x0] * (1 - fx) + map[row1 + x1] * fx;
      out[y * width + x] = top * (1 - fy) + bottom * fy;
    }
  }
  return out;
}

/** For each output pixel along one axis: the two source cells and the weight of the second. */
function axisWeights(mapSize: number, length: number): { low: Int32Array; high: Int32Array; frac: Float32Array } {
  const low = new Int32Array(length);
  const high = new Int32Array(length);
  const frac = new Float32Array(length);
  for (let i = 0; i < length; i++) {
    const source = Math.min(Math.max(((i + 0.5) * mapSize) / length - 0.5, 0), mapSize - 1);
    low[i] = Math.floor(source);
    high[i] = Math.min(low[i] + 1, mapSize - 1);
    frac[i] = source - low[i];
  }
  return { low, high, frac };
}
