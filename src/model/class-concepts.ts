import { ImgclsError, usageError } from '../errors.js';
import { streamBatches } from '../data/stream.js';
import { DEFAULT_PREPROCESSING, type Dataset, type SkippedFile } from '../data/types.js';
import { seededRandom } from '../util/random.js';
import { headLogits } from './dense-head.js';
import { createBackboneEngine, type EngineChoice } from './engine.js';
import { imagenetLabels } from './imagenet.js';
import { imagenetHead } from './pretrained.js';
import type { BackboneEngine } from './types.js';

/**
 * A broad concept made of many fine-grained ImageNet classes (WordNet-like: ImageNet has 118 dog breeds
 * and 13 kinds of cat, so "10 different labels" can still be one kind of thing). Index ranges are inclusive,
 * in the standard ImageNet-1k order. ImageNet's object classes (398–923, 999) are already broad and stay
 * one concept each.
 */
export interface ConceptGroup {
  id: string;
  /** Used in messages: "ImageNet <label> classes". */
  label: string;
  /** Used in messages: "'<noun> vs. not <noun>'". */
  noun: string;
  ranges: readonly (readonly [number, number])[];
}

/** The concept groups, defined once. */
export const IMAGENET_CONCEPT_GROUPS: readonly ConceptGroup[] = Object.freeze([
  { id: 'fish', label: 'fish', noun: 'fish', ranges: [[0, 6], [389, 397]] },
  { id: 'bird', label: 'bird', noun: 'bird', ranges: [[7, 24], [80, 100], [127, 146]] },
  { id: 'reptile', label: 'reptile and amphibian', noun: 'reptile', ranges: [[25, 68]] },
  { id: 'invertebrate', label: 'insect, spider and other invertebrate', noun: 'bug', ranges: [[69, 79], [107, 126], [300, 329]] },
  { id: 'dog', label: 'dog, wolf and fox', noun: 'dog', ranges: [[151, 280]] },
  { id: 'cat', label: 'cat', noun: 'cat', ranges: [[281, 293]] },
  { id: 'mammal', label: 'other mammal', noun: 'mammal', ranges: [[101, 106], [147, 150], [294, 299], [330, 388]] },
  { id: 'food', label: 'food', noun: 'food', ranges: [[924, 969]] },
  { id: 'landscape', label: 'landscape', noun: 'landscape', ranges: [[970, 980]] },
  { id: 'person', label: 'person', noun: 'person', ranges: [[981, 983]] },
  { id: 'plant', label: 'plant and fungus', noun: 'plant', ranges: [[984, 998]] },
]);

/** The short name of an ImageNet label ("tabby, tabby cat" → "tabby"). */
function shortLabel(label: string): string {
  return label.split(',')[0].trim();
}

/** The concept an ImageNet class index belongs to: its group, or the class itself when it is in none. */
export function imagenetConcept(index: number, labels: readonly string[] = imagenetLabels()): Omit<ConceptCount, 'count' | 'imagenetLabels'> {
  const group = IMAGENET_CONCEPT_GROUPS.find((g) => g.ranges.some(([from, to]) => index >= from && index <= to));
  if (group) return { id: group.id, label: group.label, noun: group.noun, grouped: true };
  const name = shortLabel(labels[index] ?? `class ${index}`);
  return { id: `imagenet:${index}`, label: name, noun: name, grouped: false };
}

/** How many of a class's analysed images fall into one concept. */
export interface ConceptCount {
  /** Group id ("cat") or "imagenet:<index>" for an ungrouped ImageNet class. */
  id: string;
  label: string;
  noun: string;
  /** True for a concept group, false for a single ImageNet class. */
  grouped: boolean;
  count: number;
  /** The images' top-1 ImageNet labels inside this concept, most frequent first. */
  imagenetLabels: { label: string; count: number }[];
}

/** What the ImageNet head and the feature space say about one class. */
export interface ClassConcepts {
  className: string;
  /** Images in the class. */
  total: number;
  /** Images analysed (a seeded sample of at most maxImagesPerClass; unreadable ones are left out). */
  analysed: number;
  /** Concepts of the analysed images, most frequent first. */
  concepts: ConceptCount[];
  /** Mean cosine distance of the images' L2-normalised pooled features to their centroid (0 = all alike). */
  spread: number;
  /** Why the class is narrow (undefined when it is not). */
  narrow?: 'concept' | 'spread';
  /** The warning text when narrow. */
  warning?: string;
}

/** The narrow-class analysis of a dataset's classes. */
export interface ClassConceptsReport {
  classes: ClassConcepts[];
  /** One line per narrow class. */
  warnings: string[];
  /** Share of a class's images in one concept from which it counts as narrow. */
  narrowShare: number;
  /** Ratio of a class's spread to the median spread of the other classes below which it counts as narrow. */
  narrowSpreadRatio: number;
  /** Files that could not be decoded (not analysed). */
  skipped: SkippedFile[];
  /** The backbone engine used. */
  engine: string;
}

/** One class's files. */
export interface ClassFiles {
  className: string;
  files: readonly string[];
}

/** The files of each class in one split of a scanned dataset, in class order. */
export function classFilesOf(dataset: Dataset, split: 'train' | 'valid' = 'train'): ClassFiles[] {
  return dataset.classNames.map((className, label) => ({
    className,
    files: dataset[split].filter((item) => item.label === label).map((item) => item.file),
  }));
}

/** Options of analyzeClassConcepts. */
export interface ClassConceptsOptions {
  /** A backbone engine to use (the caller keeps and disposes it); default: one made from `engineChoice` and disposed. */
  engine?: BackboneEngine;
  engineChoice?: EngineChoice;
  /** Images analysed per class at most (a seeded sample beyond). Default 50. */
  maxImagesPerClass?: number;
  /** Seed of that sample. Default 42. */
  seed?: number;
  /** Default 0.8: a class is narrow when at least this share of its images is one concept group. */
  narrowShare?: number;
  /** Default 0.5: a class is narrow when its spread is below this times the other classes' median spread. */
  narrowSpreadRatio?: number;
  /** Fewer analysed images than this are never called narrow. Default 5. */
  minImages?: number;
  onProgress?: (progress: { done: number; total: number }) => void;
  signal?: AbortSignal;
}

/** A seeded sample of at most n files, kept in their original order. */
function sample(files: readonly string[], n: number, seed: number): string[] {
  if (files.length <= n) return files.slice();
  const random = seededRandom(seed);
  const order = files.map((_, i) => i);
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  return order.slice(0, n).sort((a, b) => a - b).map((i) => files[i]);
}

/** Mean cosine distance of the rows (L2-normalised) to their normalised centroid. */
export function featureSpread(features: Float32Array, count: number, dim: number): number {
  if (count < 2) return 0;
  const normalised = new Float64Array(count * dim);
  const centroid = new Float64Array(dim);
  for (let r = 0; r < count; r++) {
    let norm = 0;
    for (let d = 0; d < dim; d++) norm += features[r * dim + d] ** 2;
    norm = Math.sqrt(norm) || 1;
    for (let d = 0; d < dim; d++) {
      const v = features[r * dim + d] / norm;
      normalised[r * dim + d] = v;
      centroid[d] += v;
    }
  }
  const centroidNorm = Math.sqrt(centroid.reduce((sum, v) => sum + v * v, 0)) || 1;
  let total = 0;
  for (let r = 0; r < count; r++) {
    let dot = 0;
    for (let d = 0; d < dim; d++) dot += normalised[r * dim + d] * centroid[d];
    total += 1 - dot / centroidNorm;
  }
  return total / count;
}

function median(values: number[]): number {
  const sorted = values.slice().sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

function listLabels(concept: ConceptCount, max = 3): string {
  const names = concept.imagenetLabels.map((l) => l.label);
  return names.length > max ? `${names.slice(0, max).join(', ')}, …` : names.join(', ');
}

function conceptWarning(cls: ClassConcepts, top: ConceptCount): string {
  const what = top.grouped
    ? `ImageNet ${top.label} classes (${listLabels(top)})`
    : `the ImageNet class '${top.label}'`;
  return `${cls.className}: ${top.count}/${cls.analysed} images are ${what}: the model will learn '${top.noun} vs. not ${top.noun}'; ` +
    `if '${cls.className}' must cover more than that, add examples of everything else it must cover`;
}

function spreadWarning(cls: ClassConcepts, others: number): string {
  return `${cls.className}: its images are much alike in feature space (spread ${cls.spread.toFixed(3)}, other classes ${others.toFixed(3)}): ` +
    `the model will learn this one look; if '${cls.className}' must cover more, add varied examples of everything it must cover`;
}

/**
 * Sets `narrow` and `warning` on each class that is mostly one concept (share ≥ narrowShare of its analysed images)
 * or whose spread is below narrowSpreadRatio × the other classes' median spread; classes with fewer than
 * minImages analysed images are left alone.
 */
export function markNarrowClasses(
  classes: ClassConcepts[],
  options: { narrowShare: number; narrowSpreadRatio: number; minImages: number },
): void {
  for (const cls of classes) {
    delete cls.narrow;
    delete cls.warning;
    if (cls.analysed < options.minImages) continue;
    const top = cls.concepts[0];
    // a single ImageNet object class counts too: "9/10 images are 'web site'" is as narrow as "9/10 are cats"
    if (top && top.count / cls.analysed >= options.narrowShare) {
      cls.narrow = 'concept';
      cls.warning = conceptWarning(cls, top);
      continue;
    }
    const otherSpreads = classes.filter((o) => o !== cls && o.analysed >= 2).map((o) => o.spread);
    if (otherSpreads.length > 0 && cls.spread < options.narrowSpreadRatio * median(otherSpreads)) {
      cls.narrow = 'spread';
      cls.warning = spreadWarning(cls, median(otherSpreads));
    }
  }
}

/**
 * Per class: the top-1 ImageNet label of each image (the pretrained backbone's own ImageNet head), grouped into
 * broad concepts, and the spread of the class in the pooled feature space; marks a class narrow when most of its
 * images are one concept group or its spread is far below the other classes'. Returns data; never prints.
 */
export async function analyzeClassConcepts(classes: readonly ClassFiles[], options: ClassConceptsOptions = {}): Promise<ClassConceptsReport> {
  const maxImages = options.maxImagesPerClass ?? 50;
  const narrowShare = options.narrowShare ?? 0.8;
  const narrowSpreadRatio = options.narrowSpreadRatio ?? 0.5;
  const minImages = options.minImages ?? 5;
  const seed = options.seed ?? 42;
  if (!(Number.isInteger(maxImages) && maxImages >= 1)) throw usageError(`maxImagesPerClass must be a positive integer. Received: ${maxImages}`);
  if (!(narrowShare > 0 && narrowShare <= 1)) throw usageError(`narrowShare must be in (0, 1]. Received: ${narrowShare}`);
  if (!(narrowSpreadRatio >= 0 && narrowSpreadRatio <= 1)) throw usageError(`narrowSpreadRatio must be in [0, 1]. Received: ${narrowSpreadRatio}`);

  const items = classes.flatMap((cls, label) => sample(cls.files, maxImages, seed + label).map((file) => ({ file, label })));
  const head = await imagenetHead();
  const labels = imagenetLabels();
  const engine = options.engine ?? (await createBackboneEngine(options.engineChoice ?? 'auto'));
  const pooledByClass: number[][][] = classes.map(() => []);
  const top1ByClass: number[][] = classes.map(() => []);
  const skipped: SkippedFile[] = [];
  let done = 0;
  try {
    for await (const batch of streamBatches(items, { batchSize: 8, preprocessing: DEFAULT_PREPROCESSING, signal: options.signal })) {
      skipped.push(...batch.skipped);
      if (batch.count > 0) {
        const { pooled } = await engine.run(batch);
        const dim = pooled.length / batch.count;
        if (dim !== head.inputDim) {
          throw new ImgclsError(`the backbone gave ${dim}-d features; the ImageNet head takes ${head.inputDim}`, 'INTERNAL');
        }
        const logits = headLogits(head, pooled, batch.count);
        for (let i = 0; i < batch.count; i++) {
          const row = logits.subarray(i * head.numClasses, (i + 1) * head.numClasses);
          let best = 0;
          for (let k = 1; k < row.length; k++) if (row[k] > row[best]) best = k;
          top1ByClass[batch.labels[i]].push(best);
          pooledByClass[batch.labels[i]].push(Array.from(pooled.subarray(i * dim, (i + 1) * dim)));
        }
      }
      done += batch.count + batch.skipped.length;
      options.onProgress?.({ done, total: items.length });
    }
  } finally {
    if (!options.engine) await engine.dispose();
  }

  const result: ClassConcepts[] = classes.map((cls, label) => {
    const concepts = new Map<string, ConceptCount>();
    for (const index of top1ByClass[label]) {
      const concept = imagenetConcept(index, labels);
      const entry = concepts.get(concept.id) ?? { ...concept, count: 0, imagenetLabels: [] };
      entry.count++;
      const name = shortLabel(labels[index]);
      const labelEntry = entry.imagenetLabels.find((l) => l.label === name);
      if (labelEntry) labelEntry.count++;
      else entry.imagenetLabels.push({ label: name, count: 1 });
      concepts.set(concept.id, entry);
    }
    const sorted = [...concepts.values()].sort((a, b) => b.count - a.count || a.label.localeCompare(b.label));
    for (const c of sorted) c.imagenetLabels.sort((a, b) => b.count - a.count || a.label.localeCompare(b.label));
    const rows = pooledByClass[label];
    const dim = head.inputDim;
    const flat = new Float32Array(rows.length * dim);
    rows.forEach((row, i) => flat.set(row, i * dim));
    return { className: cls.className, total: cls.files.length, analysed: rows.length, concepts: sorted, spread: featureSpread(flat, rows.length, dim) };
  });

  markNarrowClasses(result, { narrowShare, narrowSpreadRatio, minImages });
  return {
    classes: result,
    warnings: result.flatMap((cls) => (cls.warning ? [cls.warning] : [])),
    narrowShare,
    narrowSpreadRatio,
    skipped,
    engine: engine.name,
  };
}

/** The report as text: one line per class (concepts and spread), then the warnings (unless `warnings: false`). */
export function formatClassConcepts(report: ClassConceptsReport, options: { warnings?: boolean } = {}): string {
  const width = Math.max(...report.classes.map((c) => c.className.length), 5);
  const lines = [`ImageNet concepts per class (top-1 label of the pretrained ImageNet head; spread = mean cosine distance to the class centroid):`];
  for (const cls of report.classes) {
    const concepts = cls.concepts.slice(0, 4).map((c) => (c.grouped ? `${c.label} ${c.count} (${listLabels(c)})` : `${c.label} ${c.count}`));
    if (cls.concepts.length > 4) concepts.push(`${cls.concepts.length - 4} more`);
    const sampled = cls.analysed < cls.total ? ` of ${cls.total}` : '';
    lines.push(`  ${cls.className.padEnd(width)}  ${String(cls.analysed).padStart(3)}${sampled} images  spread ${cls.spread.toFixed(3)}  ${concepts.join('; ') || '-'}`);
  }
  if (options.warnings !== false && report.warnings.length > 0) lines.push('Narrow classes:', ...report.warnings.map((w) => `  NARROW ${w}`));
  if (report.skipped.length > 0) lines.push(`  (${report.skipped.length} unreadable file(s) left out)`);
  return lines.join('\n');
}
