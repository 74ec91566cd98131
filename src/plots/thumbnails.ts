import sharp, { type OverlayOptions } from 'sharp';
import { usageError } from '../errors.js';
import { decodeImage } from '../data/decode.js';
import { mapLimit } from '../util/limit.js';

/** Options of thumbnailGrid. */
export interface ThumbnailGridOptions {
  /** Thumbnails per row. Default min(number of files, 6). */
  columns?: number;
  /** Side of each square thumbnail in pixels; images are shrunk to fit and letterboxed. Default 128. */
  size?: number;
  /** One caption per file, drawn under its thumbnail (same order as files). Default: no captions. */
  labels?: readonly string[];
  /** Files decoded at the same time. Default 4. */
  concurrency?: number;
}

/** Space between thumbnails and around the sheet, in pixels. */
export const THUMBNAIL_GAP = 4;
/** Height of the caption strip under each thumbnail when labels are given, in pixels. */
export const THUMBNAIL_CAPTION_HEIGHT = 18;

const BACKGROUND = { r: 255, g: 255, b: 255 };
/** Grey of the tile drawn in place of an image that could not be decoded. */
export const UNREADABLE_TILE_GREY = 200;

/**
 * A contact sheet as PNG bytes: the images in rows of `columns`, each shrunk into a size × size tile
 * (aspect kept, letterboxed on white), with an optional caption under each. A file that cannot be
 * decoded gets a grey tile captioned "unreadable" instead of failing the sheet.
 */
export async function thumbnailGrid(files: readonly string[], options: ThumbnailGridOptions = {}): Promise<Buffer> {
  const size = options.size ?? 128;
  const columns = options.columns ?? Math.min(files.length, 6);
  const concurrency = options.concurrency ?? 4;
  const { labels } = options;
  if (files.length === 0) throw usageError('thumbnailGrid needs at least one file. Received: 0 files');
  if (!(Number.isInteger(size) && size >= 16 && size <= 1024)) {
    throw usageError(`size must be an integer in [16, 1024]. Received: ${size}`);
  }
  if (!(Number.isInteger(columns) && columns > 0)) throw usageError(`columns must be a positive integer. Received: ${columns}`);
  if (!(Number.isInteger(concurrency) && concurrency > 0)) {
    throw usageError(`concurrency must be a positive integer. Received: ${concurrency}`);
  }
  if (labels !== undefined && labels.length !== files.length) {
    throw usageError(`labels must have one entry per file: ${files.length} files. Received: ${labels.length} labels`);
  }

  const captionHeight = labels ? THUMBNAIL_CAPTION_HEIGHT : 0;
  const rows = Math.ceil(files.length / columns);
  const usedColumns = Math.min(columns, files.length);
  const width = THUMBNAIL_GAP + usedColumns * (size + THUMBNAIL_GAP);
  const height = THUMBNAIL_GAP + rows * (size + captionHeight + THUMBNAIL_GAP);

  const tiles = await mapLimit(files, concurrency, (file) => renderTile(file, size));

  const layers: OverlayOptions[] = [];
  tiles.forEach((tile, index) => {
    const left = THUMBNAIL_GAP + (index % columns) * (size + THUMBNAIL_GAP);
    const top = THUMBNAIL_GAP + Math.floor(index / columns) * (size + captionHeight + THUMBNAIL_GAP);
    layers.push({ input: tile.png, left, top });
    const caption = labels ? labels[index] : tile.unreadable ? 'unreadable' : undefined;
    if (caption !== undefined) {
      // without labels the "unreadable" caption goes on the tile itself
      const captionTop = labels ? top + size : top + Math.floor((size - THUMBNAIL_CAPTION_HEIGHT) / 2);
      const text = labels && tile.unreadable ? `unreadable: ${caption}` : caption;
      layers.push({ input: captionSvg(text, size), left, top: captionTop });
    }
  });
  return sharp({ create: { width, height, channels: 3, background: BACKGROUND } })
    .composite(layers)
    .png()
    .toBuffer();
}

/** One size × size PNG tile: the image shrunk to fit and centred, or a grey tile when it cannot be decoded. */
async function renderTile(file: string, size: number): Promise<{ png: Buffer; unreadable: boolean }> {
  try {
    const rgb = await decodeImage(file, { maxSize: size });
    const png = await sharp(rgb.data, { raw: { width: rgb.width, height: rgb.height, channels: 3 } })
      .resize(size, size, { fit: 'contain', background: BACKGROUND, kernel: 'cubic' })
      .png()
      .toBuffer();
    return { png, unreadable: false };
  } catch {
    const grey = { r: UNREADABLE_TILE_GREY, g: UNREADABLE_TILE_GREY, b: UNREADABLE_TILE_GREY };
    const png = await sharp({ create: { width: size, height: size, channels: 3, background: grey } }).png().toBuffer();
    return { png, unreadable: true };
  }
}

/** A caption strip as SVG, centred, cut with an ellipsis to fit the tile width. */
function captionSvg(text: string, width: number): Buffer {
  const fontSize = 12;
  const maxChars = Math.max(3, Math.floor(width / (fontSize * 0.6))); // ~0.6 em per glyph in DejaVu Sans
  const shown = text.length > maxChars ? `${text.slice(0, maxChars - 1)}…` : text;
  const escaped = shown.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
  return Buffer.from(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${THUMBNAIL_CAPTION_HEIGHT}">` +
      `<text x="${width / 2}" y="${THUMBNAIL_CAPTION_HEIGHT - 5}" font-family="sans-serif" font-size="${fontSize}" ` +
      `text-anchor="middle" fill="#222">${escaped}</text></svg>`,
  );
}
