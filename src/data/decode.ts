import { promises as fs } from 'node:fs';
import sharp, { type Sharp } from 'sharp';
import { ImgclsError } from '../errors.js';
import { BmpError, decodeBmp } from './bmp.js';
import { IMAGE_EXTENSIONS } from './scan.js';

/** 8-bit sRGB pixels, 3 interleaved channels (R, G, B), top row first. */
export interface DecodedImage {
  data: Uint8Array;
  width: number;
  height: number;
}

/** Options of decodeImage. */
export interface DecodeOptions {
  /**
   * Shrink (never enlarge) so that neither side exceeds this many pixels, keeping the aspect ratio.
   * Large JPEGs are then decoded at reduced size directly (shrink-on-load). Default: full size.
   */
  maxSize?: number;
}

/** Image container formats recognised from a file's first bytes. */
export type ImageFormat = 'jpeg' | 'png' | 'gif' | 'webp' | 'tiff' | 'bmp';

/** Formats recognised but deliberately not decoded (they are not photos, or not in the supported list). */
type ForeignFormat = 'svg' | 'pdf' | 'heif' | 'jxl' | 'jp2';

/** What to do with a file that is not a supported image. */
export const SUPPORTED_HINT = `Convert it to JPEG or PNG (supported: ${IMAGE_EXTENSIONS.map((extension) => extension.slice(1)).join(' ')}), or remove it.`;

/** Recognises an image format from its magic bytes; undefined when the bytes are not a known image. */
export function sniffImageFormat(bytes: Uint8Array): ImageFormat | ForeignFormat | undefined {
  const ascii = (start: number, end: number) => String.fromCharCode(...bytes.subarray(start, end));
  if (bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'jpeg';
  if (bytes[0] === 0x89 && ascii(1, 4) === 'PNG') return 'png';
  if (ascii(0, 4) === 'GIF8') return 'gif';
  if (ascii(0, 4) === 'RIFF' && ascii(8, 12) === 'WEBP') return 'webp';
  if (ascii(0, 4) === 'II*\0' || ascii(0, 4) === 'MM\0*') return 'tiff';
  if (ascii(0, 2) === 'BM') return 'bmp';
  if (ascii(4, 8) === 'ftyp') return 'heif';
  if (ascii(0, 5) === '%PDF-') return 'pdf';
  if ((bytes[0] === 0xff && bytes[1] === 0x0a) || ascii(4, 8) === 'JXL ') return 'jxl';
  if (ascii(4, 8) === 'jP  ' || (bytes[0] === 0xff && bytes[1] === 0x4f && bytes[2] === 0xff)) return 'jp2';
  // an SVG may open with a byte-order mark, an XML declaration, comments or a DOCTYPE before <svg
  const head = Buffer.from(bytes.subarray(0, 4096)).toString('utf8').replace(/^\uFEFF/, '').trimStart().toLowerCase();
  if (head.startsWith('<svg') || (head.startsWith('<') && /<svg[\s>]/.test(head))) return 'svg';
  return undefined;
}

/** Reads a whole image file; IMAGE_UNREADABLE when it cannot be read, IMAGE_EMPTY when it has no bytes. */
export async function readImageFile(file: string): Promise<Buffer> {
  let bytes: Buffer;
  try {
    bytes = await fs.readFile(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const what = code === 'ENOENT' ? 'file not found' : code === 'EISDIR' ? 'is a folder, not a file' : `cannot read file (${code ?? err})`;
    throw new ImgclsError(`${what}: ${file}`, 'IMAGE_UNREADABLE', file, 'Check the path and its permissions.', { cause: err });
  }
  if (bytes.length === 0) {
    throw new ImgclsError(`image file is empty (0 bytes): ${file}`, 'IMAGE_EMPTY', file,
      'The file was probably not fully copied or downloaded; copy it again or remove it.');
  }
  return bytes;
}

/**
 * A sharp pipeline over an image's bytes that yields 8-bit sRGB RGB: EXIF orientation applied,
 * palette/grayscale/16-bit/CMYK converted, alpha flattened onto white, first frame of animations.
 * Resize steps may be added before `toRgb`; sharp then decodes large JPEGs at reduced size.
 */
export function openImage(file: string, bytes: Buffer): Sharp {
  const format = sniffImageFormat(bytes);
  if (format === undefined) {
    const printable = bytes.subarray(0, 64).every((b) => b === 9 || b === 10 || b === 13 || (b >= 32 && b < 127));
    throw new ImgclsError(
      `not an image: ${printable ? 'the file holds text' : 'its content is not a known image format'}: ${file}`,
      'IMAGE_UNREADABLE', file, `The extension says image but the bytes do not. ${SUPPORTED_HINT}`);
  }
  if (format === 'bmp') {
    try {
      const pixels = decodeBmp(bytes);
      return sharp(pixels.data, { raw: { width: pixels.width, height: pixels.height, channels: pixels.channels } });
    } catch (err) {
      if (!(err instanceof BmpError)) throw err;
      const code = err.kind === 'truncated' ? 'IMAGE_TRUNCATED' : err.kind === 'unsupported' ? 'IMAGE_UNSUPPORTED' : 'IMAGE_UNREADABLE';
      throw new ImgclsError(`${err.message}: ${file}`, code, file, SUPPORTED_HINT, { cause: err });
    }
  }
  if (format === 'svg' || format === 'pdf' || format === 'heif' || format === 'jxl' || format === 'jp2') {
    throw new ImgclsError(`${format.toUpperCase()} images are not supported: ${file}`, 'IMAGE_UNSUPPORTED', file, SUPPORTED_HINT);
  }
  // failOn 'error': truncated or corrupt data fails, harmless warnings (e.g. extraneous bytes) do not
  return sharp(bytes, { failOn: 'error', pages: 1 }).rotate();
}

/**
 * Finishes a pipeline from openImage as 8-bit sRGB RGB raw pixels, turning sharp failures into ImgclsErrors
 * (pass the file's bytes so a cut-off file is recognised as truncated from its structure).
 */
export async function toRgb(file: string, pipeline: Sharp, bytes?: Uint8Array): Promise<DecodedImage> {
  try {
    const { data, info } = await pipeline
      .toColourspace('srgb')
      .flatten({ background: '#ffffff' })
      .removeAlpha()
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) throw new Error(`expected 3 channels, got ${info.channels}`);
    return { data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), width: info.width, height: info.height };
  } catch (err) {
    throw decodeError(file, err, bytes);
  }
}

/**
 * True when a JPEG, PNG or GIF does not end with its end marker (FFD9, IEND, 3B): the file was cut off.
 * Checked from the bytes because libvips' error text is global and can be lost under concurrency.
 */
export function endsEarly(bytes: Uint8Array): boolean {
  let end = bytes.length;
  while (end > 0 && (bytes[end - 1] === 0 || bytes[end - 1] === 0x0a || bytes[end - 1] === 0x0d)) end--; // padding some writers add
  const format = sniffImageFormat(bytes);
  if (format === 'jpeg') return !(bytes[end - 2] === 0xff && bytes[end - 1] === 0xd9);
  if (format === 'png') return String.fromCharCode(...bytes.subarray(Math.max(0, end - 8), end - 4)) !== 'IEND';
  if (format === 'gif') return bytes[end - 1] !== 0x3b;
  return false;
}

/** Maps a sharp/libvips failure to the matching ImgclsError. */
function decodeError(file: string, err: unknown, bytes?: Uint8Array): ImgclsError {
  if (err instanceof ImgclsError) return err;
  const message = err instanceof Error ? err.message : String(err);
  const firstLine = message.split('\n')[0];
  const cutOff = bytes !== undefined && endsEarly(bytes);
  if (cutOff || /premature end|truncated|end of (stream|file|data)|read error|not enough data|unexpected end|cut short/i.test(message)) {
    return new ImgclsError(`image data is truncated (${firstLine}): ${file}`, 'IMAGE_TRUNCATED', file,
      'The file is incomplete; copy or download it again, or remove it.', { cause: err });
  }
  if (/pixel limit/i.test(message)) {
    return new ImgclsError(`image is too large to decode safely (over 268 megapixels): ${file}`, 'IMAGE_UNSUPPORTED', file,
      'Downscale it with an image editor, or remove it.', { cause: err });
  }
  if (/unsupported image format/i.test(message)) {
    return new ImgclsError(`unsupported image (${firstLine}): ${file}`, 'IMAGE_UNSUPPORTED', file, SUPPORTED_HINT, { cause: err });
  }
  return new ImgclsError(`cannot decode image (${firstLine}): ${file}`, 'IMAGE_UNREADABLE', file,
    'The file is damaged or not really an image; open it in an image viewer, re-save it as JPEG or PNG, or remove it.',
    { cause: err });
}

/**
 * Decodes an image file into 8-bit sRGB RGB pixels (EXIF orientation applied, alpha flattened onto white).
 * Throws ImgclsError IMAGE_EMPTY, IMAGE_TRUNCATED, IMAGE_UNREADABLE or IMAGE_UNSUPPORTED naming the file.
 */
export async function decodeImage(file: string, options: DecodeOptions = {}): Promise<DecodedImage> {
  const { maxSize } = options;
  if (maxSize !== undefined && !(Number.isInteger(maxSize) && maxSize > 0)) {
    throw new ImgclsError(`maxSize must be a positive integer. Received: ${maxSize}`, 'USAGE');
  }
  const bytes = await readImageFile(file);
  let pipeline = openImage(file, bytes);
  if (maxSize !== undefined) {
    pipeline = pipeline.resize(maxSize, maxSize, { fit: 'inside', withoutEnlargement: true, kernel: 'cubic' });
  }
  return toRgb(file, pipeline, bytes);
}
