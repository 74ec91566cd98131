import { ImgclsError } from '../errors.js';
import { skipReason } from '../data/stream.js';
import type { SkippedFile } from '../data/types.js';
import type { Classifier } from '../model/types.js';
import { explain, type Explanation } from './explain.js';
import { renderOverlayPng, type OverlayPngOptions } from './overlay.js';

/** Progress of renderOverlayPngs: images done out of the total. */
export interface OverlayProgress {
  done: number;
  total: number;
  file: string;
}

/** Options of renderOverlayPngs. */
export interface OverlayPngsOptions extends OverlayPngOptions {
  /** Class to explain in every image. Default: each image's predicted class. */
  className?: string;
  onProgress?: (progress: OverlayProgress) => void;
  /** Stops between images with a CANCELLED error. */
  signal?: AbortSignal;
}

/** Overlays of many images, keyed by file (the shape renderHtmlReport's `overlays` option takes). */
export interface OverlayPngs {
  overlays: Map<string, Uint8Array>;
  explanations: Explanation[];
  /** Images that could not be explained, and why; the others are still returned. */
  skipped: SkippedFile[];
}

/**
 * Explains each image and renders its overlay PNG, one image at a time; an unreadable image is
 * skipped with its reason rather than failing the batch. Meant for a report's misclassified images.
 */
export async function renderOverlayPngs(classifier: Classifier, files: readonly string[], options: OverlayPngsOptions = {}): Promise<OverlayPngs> {
  const { className, onProgress, signal, ...overlayOptions } = options;
  const result: OverlayPngs = { overlays: new Map(), explanations: [], skipped: [] };
  for (const [index, file] of files.entries()) {
    if (signal?.aborted) {
      throw new ImgclsError(`explaining cancelled after ${index} of ${files.length} images`, 'CANCELLED', undefined, undefined, { cause: signal.reason });
    }
    try {
      const explanation = await explain(classifier, file, { className });
      result.overlays.set(file, await renderOverlayPng(explanation, overlayOptions));
      result.explanations.push(explanation);
    } catch (err) {
      // a bad argument is the caller's mistake, not the image's: fail loudly
      if (err instanceof ImgclsError && err.code === 'USAGE') throw err;
      result.skipped.push({ file, reason: skipReason(err) });
    }
    onProgress?.({ done: index + 1, total: files.length, file });
  }
  return result;
}
