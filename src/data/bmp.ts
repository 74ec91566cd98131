/** Raw pixels of a decoded BMP: 3 (RGB) or 4 (RGBA) interleaved 8-bit channels, top row first. */
export interface BmpPixels {
  data: Uint8Array;
  width: number;
  height: number;
  channels: 3 | 4;
}

/** Why a BMP could not be decoded: 'truncated' (data ends early), 'unsupported' (e.g. RLE) or 'invalid'. */
export class BmpError extends Error {
  constructor(message: string, readonly kind: 'truncated' | 'unsupported' | 'invalid') {
    super(message);
    this.name = 'BmpError';
  }
}

const BI_RGB = 0;
const BI_BITFIELDS = 3;
const BI_ALPHABITFIELDS = 6;

/** Width in bits of a contiguous channel mask and its shift; used to expand 16/32-bit bitfields. */
function maskInfo(mask: number): { shift: number; max: number } {
  if (mask === 0) return { shift: 0, max: 0 };
  let shift = 0;
  while (((mask >>> shift) & 1) === 0) shift++;
  return { shift, max: mask >>> shift };
}

/**
 * Decodes an uncompressed Windows BMP (1/4/8-bit palette, 16/24/32-bit, BI_RGB or BI_BITFIELDS;
 * core, V3, V4 and V5 headers) into RGB or RGBA pixels. sharp's prebuilt libvips has no BMP loader.
 */
export function decodeBmp(bytes: Uint8Array): BmpPixels {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < 26) throw new BmpError('BMP header is cut short', 'truncated');
  if (bytes[0] !== 0x42 || bytes[1] !== 0x4d) throw new BmpError('not a BMP (no "BM" signature)', 'invalid');
  const pixelOffset = view.getUint32(10, true);
  const headerSize = view.getUint32(14, true);
  if (bytes.length < 14 + Math.min(headerSize, 40)) throw new BmpError('BMP header is cut short', 'truncated');

  let width: number;
  let rawHeight: number;
  let bitsPerPixel: number;
  let compression = BI_RGB;
  let paletteSize = 0;
  let paletteEntryBytes = 4;
  if (headerSize === 12) {
    // OS/2 BITMAPCOREHEADER: 16-bit sizes, 3-byte palette entries
    width = view.getUint16(18, true);
    rawHeight = view.getInt16(20, true);
    bitsPerPixel = view.getUint16(24, true);
    paletteEntryBytes = 3;
  } else if (headerSize >= 40) {
    width = view.getInt32(18, true);
    rawHeight = view.getInt32(22, true);
    bitsPerPixel = view.getUint16(28, true);
    compression = view.getUint32(30, true);
    paletteSize = view.getUint32(46, true);
  } else {
    throw new BmpError(`unknown BMP header size ${headerSize}`, 'unsupported');
  }
  const topDown = rawHeight < 0;
  const height = Math.abs(rawHeight);
  if (width <= 0 || height <= 0 || width > 65535 || height > 65535) {
    throw new BmpError(`invalid BMP size ${width}×${rawHeight}`, 'invalid');
  }
  if (![1, 4, 8, 16, 24, 32].includes(bitsPerPixel)) {
    throw new BmpError(`${bitsPerPixel}-bit BMP is not supported`, 'unsupported');
  }
  if (![BI_RGB, BI_BITFIELDS, BI_ALPHABITFIELDS].includes(compression)) {
    throw new BmpError(`compressed BMP (compression ${compression}, e.g. RLE) is not supported`, 'unsupported');
  }

  // channel masks: explicit bitfields, or the BI_RGB defaults
  let masks: number[] = bitsPerPixel === 16 ? [0x7c00, 0x03e0, 0x001f, 0] : [0x00ff0000, 0x0000ff00, 0x000000ff, 0];
  if (compression !== BI_RGB) {
    const maskStart = 14 + 40;
    const count = compression === BI_ALPHABITFIELDS || headerSize >= 56 ? 4 : 3;
    if (bytes.length < maskStart + count * 4) throw new BmpError('BMP bitfield masks are cut short', 'truncated');
    masks = [0, 1, 2, 3].map((i) => (i < count ? view.getUint32(maskStart + i * 4, true) : 0));
  } else if (bitsPerPixel === 32 && headerSize >= 56) {
    masks[3] = view.getUint32(14 + 52, true) === 0 ? 0 : 0xff000000;
  }

  // palette for ≤ 8 bits
  let palette: Uint8Array | undefined;
  if (bitsPerPixel <= 8) {
    const entries = paletteSize || 1 << bitsPerPixel;
    const start = 14 + headerSize + (compression === BI_BITFIELDS && headerSize === 40 ? 12 : 0);
    if (bytes.length < start + entries * paletteEntryBytes) throw new BmpError('BMP palette is cut short', 'truncated');
    palette = new Uint8Array(256 * 3);
    for (let i = 0; i < Math.min(entries, 256); i++) {
      const at = start + i * paletteEntryBytes;
      palette[i * 3] = bytes[at + 2];
      palette[i * 3 + 1] = bytes[at + 1];
      palette[i * 3 + 2] = bytes[at];
    }
  }

  const rowBytes = Math.floor((bitsPerPixel * width + 31) / 32) * 4;
  if (pixelOffset + rowBytes * height > bytes.length) {
    throw new BmpError(`BMP pixel data is cut short (${bytes.length} of ${pixelOffset + rowBytes * height} bytes)`, 'truncated');
  }

  const useAlpha = bitsPerPixel === 32 && masks[3] !== 0;
  const channels: 3 | 4 = useAlpha ? 4 : 3;
  const out = new Uint8Array(width * height * channels);
  const fields = masks.map(maskInfo);
  let anyAlpha = false;
  for (let y = 0; y < height; y++) {
    const rowStart = pixelOffset + (topDown ? y : height - 1 - y) * rowBytes;
    for (let x = 0; x < width; x++) {
      const o = (y * width + x) * channels;
      if (palette) {
        const bitPos = x * bitsPerPixel;
        const byte = bytes[rowStart + (bitPos >> 3)];
        const index = (byte >> (8 - bitsPerPixel - (bitPos & 7))) & ((1 << bitsPerPixel) - 1);
        out[o] = palette[index * 3];
        out[o + 1] = palette[index * 3 + 1];
        out[o + 2] = palette[index * 3 + 2];
      } else if (bitsPerPixel === 24 && compression === BI_RGB) {
        const at = rowStart + x * 3;
        out[o] = bytes[at + 2];
        out[o + 1] = bytes[at + 1];
        out[o + 2] = bytes[at];
      } else {
        const value = bitsPerPixel === 16 ? view.getUint16(rowStart + x * 2, true) : view.getUint32(rowStart + x * 4, true);
        for (let c = 0; c < channels; c++) {
          const { shift, max } = fields[c];
          out[o + c] = max === 0 ? 0 : Math.round((((value & masks[c]) >>> shift) * 255) / max);
        }
        if (useAlpha && out[o + 3] !== 0) anyAlpha = true;
      }
    }
  }
  if (useAlpha && !anyAlpha) {
    // an all-zero alpha channel means "unused" in most writers: treat the image as opaque
    for (let i = 3; i < out.length; i += 4) out[i] = 255;
  }
  return { data: out, width, height, channels };
}
