import sharp from 'sharp';
import { usageError } from '../errors.js';
import { decodeImage } from '../data/decode.js';
import { upsampleMap } from './cam.js';
import { colormapTable, JET_STOPS, type ColormapStops } from './colormap.js';
import type { Explanation } from './explain.js';

/** Options of renderOverlayPng. */
export interface OverlayPngOptions {
  /** Opacity of the colour map over the image, in [0, 1]. Default 0.45. */
  opacity?: number;
  /** Longest side of the PNG in pixels; larger images are shrunk, smaller ones kept. Default 1024. */
  maxSize?: number;
  /** Colour map stops. Default JET_STOPS (blue = no evidence, dark red = strongest). */
  colormap?: ColormapStops;
}

/**
 * A PNG of the explained image with its class activation map upsampled bilinearly to the image and
 * laid over it as a translucent colour map (only over the region the network saw).
 */
export async function renderOverlayPng(explanation: Explanation, options: OverlayPngOptions = {}): Promise<Buffer> {
  const opacity = options.opacity ?? 0.45;
  const maxSize = options.maxSize ?? 1024;
  if (!(typeof opacity === 'number' && opacity >= 0 && opacity <= 1)) throw usageError(`opacity must be a number in [0, 1]. Received: ${opacity}`);
  if (!(Number.isInteger(maxSize) && maxSize > 0)) throw usageError(`maxSize must be a positive integer. Received: ${maxSize}`);
  const image = await decodeImage(explanation.file, { maxSize });
  const { width, height } = image;
  const heat = heatLayer(explanation, width, height, Math.round(opacity * 255), colormapTable(options.colormap ?? JET_STOPS));
  return sharp(image.data, { raw: { width, height, channels: 3 } })
    .composite([{ input: heat, raw: { width, height, channels: 4 } }])
    .png()
    .toBuffer();
}

/** RGBA pixels, width × height: the coloured map over the explanation's region (scaled to this size), transparent elsewhere. */
function heatLayer(explanation: Explanation, width: number, height: number, alpha: number, table: Uint8Array): Buffer {
  const scaleX = width / explanation.imageWidth;
  const scaleY = height / explanation.imageHeight;
  const left = Math.round(explanation.region.left * scaleX);
  const top = Math.round(explanation.region.top * scaleY);
  const regionWidth = Math.max(1, Math.min(width - left, Math.round(explanation.region.width * scaleX)));
  const regionHeight = Math.max(1, Math.min(height - top, Math.round(explanation.region.height * scaleY)));
  const values = upsampleMap(explanation.map, explanation.mapSize, regionWidth, regionHeight);
  const layer = Buffer.alloc(width * height * 4);
  for (let y = 0; y < regionHeight; y++) {
    for (let x = 0; x < regionWidth; x++) {
      const entry = Math.round(Math.min(Math.max(values[y * regionWidth + x], 0), 1) * 255) * 3;
      const pixel = ((top + y) * width + left + x) * 4;
      layer[pixel] = table[entry];
      layer[pixel + 1] = table[entry + 1];
      layer[pixel + 2] = table[entry + 2];
      layer[pixel + 3] = alpha;
    }
  }
  return layer;
}
