import type { Normalization } from '../data/types.js';

/** Bumped whenever augmentImage changes, so cached views of the old recipe are not reused. */
export const AUGMENTATION_VERSION = 1;

/** The value range of each normalisation: augmentation clamps to it. */
const RANGES: Readonly<Record<Normalization, [number, number]>> = { 'zero-one': [0, 1], advprop: [-1, 1] };

/**
 * One augmented view of a normalised square NHWC image (size × size × 3), drawn from `random`:
 * horizontal flip (p = 0.5), a random resized crop (75–100% of the area, aspect 3/4–4/3, bilinear)
 * and brightness/contrast jitter of ±20%, clamped to the normalisation's range.
 */
export function augmentImage(image: Float32Array, size: number, normalization: Normalization, random: () => number): Float32Array {
  const [low, high] = RANGES[normalization];
  const flip = random() < 0.5;
  const area = 0.75 + random() * 0.25;
  const aspect = Math.exp(Math.log(3 / 4) + random() * (Math.log(4 / 3) - Math.log(3 / 4)));
  const cropWidth = Math.min(size, size * Math.sqrt(area * aspect));
  const cropHeight = Math.min(size, size * Math.sqrt(area / aspect));
  const left = random() * (size - cropWidth);
  const top = random() * (size - cropHeight);
  const brightness = 0.8 + random() * 0.4;
  const contrast = 0.8 + random() * 0.4;

  const out = new Float32Array(size * size * 3);
  // crop + resize (bilinear, pixel centres), flip by mirroring the output column
  for (let y = 0; y < size; y++) {
    const sy = Math.min(Math.max(top + ((y + 0.5) * cropHeight) / size - 0.5, 0), size - 1);
    const y0 = Math.floor(sy);
    const y1 = Math.min(y0 + 1, size - 1);
    const fy = sy - y0;
    for (let x = 0; x < size; x++) {
      const sx = Math.min(Math.max(left + ((x + 0.5) * cropWidth) / size - 0.5, 0), size - 1);
      const x0 = Math.floor(sx);
      const x1 = Math.min(x0 + 1, size - 1);
      const fx = sx - x0;
      const target = (y * size + (flip ? size - 1 - x : x)) * 3;
      for (let c = 0; c < 3; c++) {
        const a = image[(y0 * size + x0) * 3 + c];
        const b = image[(y0 * size + x1) * 3 + c];
        const d = image[(y1 * size + x0) * 3 + c];
        const e = image[(y1 * size + x1) * 3 + c];
        out[target + c] = (a * (1 - fx) + b * fx) * (1 - fy) + (d * (1 - fx) + e * fx) * fy;
      }
    }
  }
  // colour jitter around the mean, in [0, 1] units
  const span = high - low;
  let mean = 0;
  for (let i = 0; i < out.length; i++) mean += (out[i] - low) / span;
  mean /= out.length;
  for (let i = 0; i < out.length; i++) {
    const unit = ((out[i] - low) / span) * brightness;
    const jittered = (unit - mean * brightness) * contrast + mean * brightness;
    out[i] = low + span * Math.min(Math.max(jittered, 0), 1);
  }
  return out;
}
