import { promises as fs } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { ImgclsError, usageError } from '../errors.js';
import { seededRandom } from './scan.js';

/** Options of writeSampleDataset. */
export interface SampleOptions {
  /** Training images per class; validation gets a third as many (at least 2). Default 24. */
  imagesPerClass?: number;
  /** Seed of every random choice; the same seed writes byte-identical files. Default 42. */
  seed?: number;
  /**
   * How many classes, 2 to 4: the first `numClasses` of SAMPLE_ALL_CLASS_NAMES (logo, others, chart,
   * document). Default 2; the logo and others images are the same whatever the count.
   */
  numClasses?: number;
}

/** The class names of the default (two-class) sample dataset. */
export const SAMPLE_CLASS_NAMES: readonly string[] = Object.freeze(['logo', 'others']);

/** Every class the sample can draw, in the order numClasses takes them. */
export const SAMPLE_ALL_CLASS_NAMES: readonly string[] = Object.freeze(['logo', 'others', 'chart', 'document']);

/** Marker file that tells writeSampleDataset a folder is its own output and may be replaced. */
const MARKER = '.imgcls-sample';

type Random = () => number;

const between = (random: Random, low: number, high: number) => low + (high - low) * random();
const pick = <T>(random: Random, values: readonly T[]): T => values[Math.floor(random() * values.length)];
const hsl = (hue: number, saturation: number, lightness: number) =>
  `hsl(${hue.toFixed(0)},${saturation.toFixed(0)}%,${lightness.toFixed(0)}%)`;

/** Points of a star polygon centred at (cx, cy). */
function starPoints(cx: number, cy: number, outer: number, inner: number, spikes: number): string {
  const points: string[] = [];
  for (let i = 0; i < spikes * 2; i++) {
    const radius = i % 2 === 0 ? outer : inner;
    const angle = -Math.PI / 2 + (i * Math.PI) / spikes;
    points.push(`${(cx + radius * Math.cos(angle)).toFixed(1)},${(cy + radius * Math.sin(angle)).toFixed(1)}`);
  }
  return points.join(' ');
}

/**
 * The brand mark: a navy badge with a crimson ring, a gold six-point star and a white chevron. Its shape
 * is what identifies it; its colours also appear in the other class (red roofs, gold suns, navy skies).
 */
function brandMark(cx: number, cy: number, size: number, rotationDeg: number): string {
  const r = size / 2;
  return `<g transform="rotate(${rotationDeg.toFixed(1)} ${cx.toFixed(1)} ${cy.toFixed(1)})">
    <circle cx="${cx}" cy="${cy}" r="${r}" fill="#1b2a49"/>
    <circle cx="${cx}" cy="${cy}" r="${r * 0.86}" fill="none" stroke="#d7263d" stroke-width="${r * 0.12}"/>
    <polygon points="${starPoints(cx, cy - r * 0.1, r * 0.55, r * 0.25, 6)}" fill="#f4c430"/>
    <path d="M ${cx - r * 0.45} ${cy + r * 0.35} L ${cx} ${cy + r * 0.6} L ${cx + r * 0.45} ${cy + r * 0.35}"
      fill="none" stroke="#ffffff" stroke-width="${r * 0.1}" stroke-linejoin="round"/>
  </g>`;
}

/** A poster: gradient or blocked background, headline bars, a picture panel, and the brand mark. */
function posterSvg(random: Random, width: number, height: number): string {
  const hue = between(random, 0, 360);
  const hue2 = (hue + between(random, 40, 200)) % 360;
  const parts: string[] = [
    `<defs><linearGradient id="bg" x1="0" y1="0" x2="${random().toFixed(2)}" y2="1">
      <stop offset="0" stop-color="${hsl(hue, between(random, 30, 90), between(random, 25, 80))}"/>
      <stop offset="1" stop-color="${hsl(hue2, between(random, 30, 90), between(random, 20, 75))}"/></linearGradient></defs>`,
    `<rect width="${width}" height="${height}" fill="url(#bg)"/>`,
  ];
  // geometric decoration
  for (let i = 0, n = Math.floor(between(random, 2, 6)); i < n; i++) {
    const color = hsl(between(random, 0, 360), between(random, 40, 90), between(random, 30, 85));
    const x = between(random, -0.2, 1) * width;
    const y = between(random, -0.2, 1) * height;
    const s = between(random, 0.1, 0.5) * Math.min(width, height);
    parts.push(random() < 0.5
      ? `<rect x="${x.toFixed(0)}" y="${y.toFixed(0)}" width="${s.toFixed(0)}" height="${(s * between(random, 0.3, 1.5)).toFixed(0)}" fill="${color}" opacity="${between(random, 0.4, 0.9).toFixed(2)}"/>`
      : `<circle cx="${x.toFixed(0)}" cy="${y.toFixed(0)}" r="${(s / 2).toFixed(0)}" fill="${color}" opacity="${between(random, 0.4, 0.9).toFixed(2)}"/>`);
  }
  // headline and body "text" bars
  const ink = random() < 0.5 ? '#111111' : '#fafafa';
  const textTop = between(random, 0.05, 0.6) * height;
  const left = between(random, 0.05, 0.2) * width;
  for (let line = 0, y = textTop; line < Math.floor(between(random, 3, 7)) && y < height * 0.95; line++) {
    const barHeight = line === 0 ? height * between(random, 0.05, 0.08) : height * between(random, 0.02, 0.035);
    parts.push(`<rect x="${left.toFixed(0)}" y="${y.toFixed(0)}" width="${(between(random, 0.3, 0.75) * width).toFixed(0)}" height="${barHeight.toFixed(0)}" rx="${(barHeight / 3).toFixed(0)}" fill="${ink}" opacity="0.85"/>`);
    y += barHeight * 1.8;
  }
  // the brand mark at a varying position and size
  const size = between(random, 0.28, 0.5) * Math.min(width, height);
  const cx = between(random, size / 2 + 4, width - size / 2 - 4);
  const cy = between(random, size / 2 + 4, height - size / 2 - 4);
  parts.push(brandMark(cx, cy, size, between(random, -25, 25)));
  return parts.join('\n');
}

/** A photo-like outdoor scene: sky, sun, clouds, hills, trees and houses, some in the brand's colours. */
function sceneSvg(random: Random, width: number, height: number): string {
  const sky = pick(random, [
    ['#4a90d9', '#cfe8ff'], ['#1b2a49', '#4a6fa5'], ['#ff9a5a', '#6a4c93'], ['#9aa5b1', '#e4e7eb'], ['#2f80ed', '#f2f9ff'],
  ] as const);
  const ground = pick(random, [['#4c8c3a', '#2e5e24'], ['#c2a36b', '#8a6d3b'], ['#6b8e23', '#3b5323'], ['#a0a0a0', '#5a5a5a']] as const);
  const horizon = between(random, 0.45, 0.75) * height;
  const parts: string[] = [
    `<defs><linearGradient id="sky" x1="0" y1="0" x2="0" y2="1"><stop offset="0" stop-color="${sky[0]}"/><stop offset="1" stop-color="${sky[1]}"/></linearGradient>
      <linearGradient id="ground" x1="0" y1="0" x2="0" y2="1"><stop offset="0" stop-color="${ground[0]}"/><stop offset="1" stop-color="${ground[1]}"/></linearGradient></defs>`,
    `<rect width="${width}" height="${height}" fill="url(#sky)"/>`,
  ];
  if (random() < 0.7) {
    parts.push(`<circle cx="${(between(random, 0.1, 0.9) * width).toFixed(0)}" cy="${(between(random, 0.08, 0.35) * height).toFixed(0)}" r="${(between(random, 0.05, 0.1) * width).toFixed(0)}" fill="${pick(random, ['#f4c430', '#fff4c2', '#ffb347'])}"/>`);
  }
  for (let i = 0, n = Math.floor(between(random, 1, 5)); i < n; i++) {
    const cx = between(random, 0, 1) * width;
    const cy = between(random, 0.05, 0.4) * height;
    for (let k = 0; k < 3; k++) {
      parts.push(`<ellipse cx="${(cx + k * width * 0.04).toFixed(0)}" cy="${(cy + (k % 2) * 6).toFixed(0)}" rx="${(between(random, 0.05, 0.1) * width).toFixed(0)}" ry="${(between(random, 0.02, 0.05) * height).toFixed(0)}" fill="#ffffff" opacity="0.85"/>`);
    }
  }
  // hills
  for (let i = 0, n = Math.floor(between(random, 1, 4)); i < n; i++) {
    const cx = between(random, 0, 1) * width;
    parts.push(`<ellipse cx="${cx.toFixed(0)}" cy="${horizon.toFixed(0)}" rx="${(between(random, 0.25, 0.6) * width).toFixed(0)}" ry="${(between(random, 0.08, 0.2) * height).toFixed(0)}" fill="${hsl(between(random, 80, 140), between(random, 20, 50), between(random, 25, 45))}"/>`);
  }
  parts.push(`<rect y="${horizon.toFixed(0)}" width="${width}" height="${(height - horizon).toFixed(0)}" fill="url(#ground)"/>`);
  // trees and houses standing on the ground, nearer ones bigger
  for (let i = 0, n = Math.floor(between(random, 2, 8)); i < n; i++) {
    const base = between(random, horizon + 4, height * 0.98);
    const scale = (0.4 + (base - horizon) / (height - horizon + 1)) * Math.min(width, height) * 0.18;
    const x = between(random, 0, 1) * width;
    if (random() < 0.6) {
      parts.push(`<rect x="${(x - scale * 0.08).toFixed(0)}" y="${(base - scale * 0.5).toFixed(0)}" width="${(scale * 0.16).toFixed(0)}" height="${(scale * 0.5).toFixed(0)}" fill="#5b3a1e"/>`);
      parts.push(random() < 0.5
        ? `<polygon points="${x.toFixed(0)},${(base - scale * 1.6).toFixed(0)} ${(x - scale * 0.45).toFixed(0)},${(base - scale * 0.4).toFixed(0)} ${(x + scale * 0.45).toFixed(0)},${(base - scale * 0.4).toFixed(0)}" fill="${hsl(between(random, 90, 150), 45, between(random, 18, 35))}"/>`
        : `<circle cx="${x.toFixed(0)}" cy="${(base - scale * 0.85).toFixed(0)}" r="${(scale * 0.45).toFixed(0)}" fill="${hsl(between(random, 70, 140), 45, between(random, 22, 40))}"/>`);
    } else {
      const w = scale * 1.1;
      const h = scale * 0.7;
      parts.push(`<rect x="${(x - w / 2).toFixed(0)}" y="${(base - h).toFixed(0)}" width="${w.toFixed(0)}" height="${h.toFixed(0)}" fill="${pick(random, ['#e8dcc8', '#d9c9a8', '#f5f5f5', '#b0a090'])}"/>`);
      parts.push(`<polygon points="${(x - w * 0.6).toFixed(0)},${(base - h).toFixed(0)} ${x.toFixed(0)},${(base - h - scale * 0.5).toFixed(0)} ${(x + w * 0.6).toFixed(0)},${(base - h).toFixed(0)}" fill="${pick(random, ['#d7263d', '#8b2e1e', '#444444', '#1b2a49'])}"/>`);
      parts.push(`<rect x="${(x - w * 0.1).toFixed(0)}" y="${(base - h * 0.55).toFixed(0)}" width="${(w * 0.2).toFixed(0)}" height="${(h * 0.55).toFixed(0)}" fill="#4a3020"/>`);
    }
  }
  return parts.join('\n');
}

/** A business chart on a light background: axes, gridlines, and bars or a line series with markers. */
function chartSvg(random: Random, width: number, height: number): string {
  const paper = hsl(between(random, 0, 360), between(random, 0, 25), between(random, 90, 98));
  const left = width * between(random, 0.1, 0.16);
  const bottom = height * between(random, 0.82, 0.9);
  const top = height * between(random, 0.12, 0.22);
  const right = width * between(random, 0.9, 0.96);
  const parts: string[] = [`<rect width="${width}" height="${height}" fill="${paper}"/>`];
  // title bar and gridlines
  parts.push(`<rect x="${left.toFixed(0)}" y="${(top * 0.35).toFixed(0)}" width="${(between(random, 0.3, 0.6) * width).toFixed(0)}" height="${(top * 0.3).toFixed(0)}" rx="3" fill="#333333" opacity="0.8"/>`);
  for (let g = 0; g <= 4; g++) {
    const y = bottom - ((bottom - top) * g) / 4;
    parts.push(`<line x1="${left.toFixed(0)}" y1="${y.toFixed(0)}" x2="${right.toFixed(0)}" y2="${y.toFixed(0)}" stroke="#bbbbbb" stroke-width="1"/>`);
  }
  parts.push(`<line x1="${left.toFixed(0)}" y1="${top.toFixed(0)}" x2="${left.toFixed(0)}" y2="${bottom.toFixed(0)}" stroke="#222222" stroke-width="2"/>`);
  parts.push(`<line x1="${left.toFixed(0)}" y1="${bottom.toFixed(0)}" x2="${right.toFixed(0)}" y2="${bottom.toFixed(0)}" stroke="#222222" stroke-width="2"/>`);
  const n = Math.floor(between(random, 4, 10));
  const slot = (right - left) / n;
  const color = hsl(between(random, 0, 360), between(random, 50, 85), between(random, 35, 55));
  const values = Array.from({ length: n }, () => between(random, 0.1, 1));
  if (random() < 0.6) {
    values.forEach((v, i) => {
      const h = v * (bottom - top);
      parts.push(`<rect x="${(left + i * slot + slot * 0.15).toFixed(0)}" y="${(bottom - h).toFixed(0)}" width="${(slot * 0.7).toFixed(0)}" height="${h.toFixed(0)}" fill="${color}"/>`);
    });
  } else {
    const points = values.map((v, i) => `${(left + (i + 0.5) * slot).toFixed(0)},${(bottom - v * (bottom - top)).toFixed(0)}`);
    parts.push(`<polyline points="${points.join(' ')}" fill="none" stroke="${color}" stroke-width="${(between(random, 2, 5)).toFixed(1)}"/>`);
    for (const point of points) {
      const [x, y] = point.split(',');
      parts.push(`<circle cx="${x}" cy="${y}" r="4" fill="${color}"/>`);
    }
  }
  return parts.join('\n');
}

/** A page of a document: white paper, a heading, paragraphs of grey text lines, sometimes a table grid. */
function documentSvg(random: Random, width: number, height: number): string {
  const margin = width * between(random, 0.08, 0.14);
  const parts: string[] = [`<rect width="${width}" height="${height}" fill="${hsl(45, between(random, 0, 30), between(random, 94, 99))}"/>`];
  let y = height * between(random, 0.06, 0.1);
  parts.push(`<rect x="${margin.toFixed(0)}" y="${y.toFixed(0)}" width="${(between(random, 0.35, 0.7) * width).toFixed(0)}" height="${(height * 0.045).toFixed(0)}" fill="#1a1a1a"/>`);
  y += height * 0.09;
  const lineHeight = height * between(random, 0.022, 0.032);
  while (y < height * 0.92) {
    if (random() < 0.12) {
      // a small table
      const rows = Math.floor(between(random, 2, 5));
      const columns = Math.floor(between(random, 2, 5));
      const cellH = lineHeight * 1.6;
      const tableW = width - 2 * margin;
      for (let r = 0; r <= rows; r++) parts.push(`<line x1="${margin.toFixed(0)}" y1="${(y + r * cellH).toFixed(0)}" x2="${(margin + tableW).toFixed(0)}" y2="${(y + r * cellH).toFixed(0)}" stroke="#555555" stroke-width="1"/>`);
      for (let c = 0; c <= columns; c++) parts.push(`<line x1="${(margin + (c * tableW) / columns).toFixed(0)}" y1="${y.toFixed(0)}" x2="${(margin + (c * tableW) / columns).toFixed(0)}" y2="${(y + rows * cellH).toFixed(0)}" stroke="#555555" stroke-width="1"/>`);
      y += rows * cellH + lineHeight;
      continue;
    }
    // a paragraph: full lines, the last one shorter
    for (let line = 0, lines = Math.floor(between(random, 2, 6)); line < lines && y < height * 0.92; line++) {
      const lineWidth = (width - 2 * margin) * (line === lines - 1 ? between(random, 0.3, 0.8) : between(random, 0.92, 1));
      parts.push(`<rect x="${margin.toFixed(0)}" y="${y.toFixed(0)}" width="${lineWidth.toFixed(0)}" height="${(lineHeight * 0.55).toFixed(0)}" fill="#444444" opacity="${between(random, 0.6, 0.9).toFixed(2)}"/>`);
      y += lineHeight;
    }
    y += lineHeight * 0.8;
  }
  return parts.join('\n');
}

/** The SVG body of one image of a class. */
const DRAW: Readonly<Record<string, (random: Random, width: number, height: number) => string>> = {
  logo: posterSvg,
  others: sceneSvg,
  chart: chartSvg,
  document: documentSvg,
};

/** Renders one sample image as JPEG bytes: SVG drawing, seeded sensor-like noise, a slight blur for scenes. */
async function renderImage(className: string, random: Random): Promise<Buffer> {
  const width = Math.round(between(random, 224, 400));
  const height = Math.round(between(random, 224, 400));
  const body = DRAW[className](random, width, height);
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">${body}</svg>`;
  const { data, info } = await sharp(Buffer.from(svg)).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  const amplitude = className === 'others' ? 14 : 6;
  for (let i = 0; i < data.length; i++) {
    data[i] = Math.max(0, Math.min(255, data[i] + Math.round((random() + random() - 1) * amplitude)));
  }
  let image = sharp(data, { raw: { width: info.width, height: info.height, channels: 3 } });
  if (className === 'others') image = image.blur(0.6);
  return image.jpeg({ quality: 90 }).toBuffer();
}

/**
 * Writes a small deterministic synthetic dataset into dir/train/<class> and dir/val/<class> (no file in
 * both): "logo" posters carrying a brand mark at varying positions and sizes, "others" photo-like outdoor
 * scenes, and with numClasses 3–4 also "chart" (bar and line charts) and "document" (pages of text).
 * Replaces an earlier sample in dir; refuses other non-empty folders.
 */
export async function writeSampleDataset(dir: string, options: SampleOptions = {}): Promise<{ root: string; classNames: string[] }> {
  const imagesPerClass = options.imagesPerClass ?? 24;
  const seed = options.seed ?? 42;
  const numClasses = options.numClasses ?? 2;
  if (!(Number.isInteger(numClasses) && numClasses >= 2 && numClasses <= SAMPLE_ALL_CLASS_NAMES.length)) {
    throw usageError(`numClasses must be an integer in [2, ${SAMPLE_ALL_CLASS_NAMES.length}]. Received: ${numClasses}`,
      `The sample draws ${SAMPLE_ALL_CLASS_NAMES.join(', ')}; for other classes use your own folder-per-class dataset.`);
  }
  const classNames = SAMPLE_ALL_CLASS_NAMES.slice(0, numClasses);
  if (!(Number.isInteger(imagesPerClass) && imagesPerClass >= 2 && imagesPerClass <= 10000)) {
    throw usageError(`imagesPerClass must be an integer in [2, 10000]. Received: ${imagesPerClass}`);
  }
  if (!Number.isInteger(seed)) throw usageError(`seed must be an integer. Received: ${seed}`);
  const root = path.resolve(dir);
  if ((await fs.stat(root).catch(() => undefined))?.isFile()) {
    throw new ImgclsError(`a file is in the way: ${root}`, 'USAGE', root, 'Choose a folder path for the sample dataset.');
  }
  const existing = await fs.readdir(root).catch(() => undefined);
  if (existing && existing.length > 0 && !existing.includes(MARKER)) {
    throw new ImgclsError(`folder is not empty: ${root}`, 'USAGE', root,
      'Choose a new or empty folder; imgcls only replaces a sample it wrote itself.');
  }
  const validCount = Math.max(2, Math.round(imagesPerClass / 3));
  // write everything into a sibling temp folder, then swap it in, so a half-written sample never appears
  const staging = `${root}.partial-${process.pid}-${Date.now()}`;
  await fs.rm(staging, { recursive: true, force: true });
  try {
    for (const [classIndex, className] of classNames.entries()) {
      // one generator per class and split, so changing one count does not reshuffle the others
      for (const [split, count] of [['train', imagesPerClass], ['val', validCount]] as const) {
        const random = seededRandom((seed * 7919 + classIndex * 104729 + (split === 'train' ? 0 : 15485863)) | 0);
        const folder = path.join(staging, split, className);
        await fs.mkdir(folder, { recursive: true });
        for (let i = 0; i < count; i++) {
          const bytes = await renderImage(className, random);
          await fs.writeFile(path.join(folder, `${className}-${split}-${String(i).padStart(3, '0')}.jpg`), bytes);
        }
      }
    }
    await fs.writeFile(path.join(staging, MARKER), `imgcls sample dataset, seed ${seed}, ${numClasses} classes, ${imagesPerClass} training images per class\n`);
    if (existing) await fs.rm(root, { recursive: true, force: true });
    await fs.mkdir(path.dirname(root), { recursive: true });
    await fs.rename(staging, root);
  } catch (err) {
    await fs.rm(staging, { recursive: true, force: true });
    throw err;
  }
  return { root, classNames: [...classNames] };
}
