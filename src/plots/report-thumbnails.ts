import sharp from 'sharp';
import { usageError } from '../errors.js';
import { decodeImage } from '../data/decode.js';
import { mapLimit } from '../util/limit.js';

/** Options of reportThumbnails. */
export interface ReportThumbnailOptions {
  /** Longest side of a thumbnail in pixels. Default 160. */
  size?: number;
  /** Files decoded at the same time. Default 4. */
  concurrency?: number;
}

/**
 * JPEG thumbnails (longest side `size`) of the given files, keyed by file, for the HTML report;
 * a file that cannot be decoded is left out.
 */
export async function reportThumbnails(
  files: readonly string[],
  options: ReportThumbnailOptions = {},
): Promise<Map<string, Buffer>> {
  const size = options.size ?? 160;
  const concurrency = options.concurrency ?? 4;
  if (!(Number.isInteger(size) && size >= 16 && size <= 1024)) throw usageError(`size must be an integer in [16, 1024]. Received: ${size}`);
  if (!(Number.isInteger(concurrency) && concurrency > 0)) {
    throw usageError(`concurrency must be a positive integer. Received: ${concurrency}`);
  }
  const thumbnails = new Map<string, Buffer>();
  await mapLimit(files, concurrency, async (file) => {
    try {
      const rgb = await decodeImage(file, { maxSize: size });
      const jpeg = await sharp(rgb.data, { raw: { width: rgb.width, height: rgb.height, channels: 3 } })
        .resize(size, size, { fit: 'inside' })
        .jpeg({ quality: 80 })
        .toBuffer();
      thumbnails.set(file, jpeg);
    } catch {
      // unreadable: the report shows the row without a picture
    }
  });
  return thumbnails;
}
