import path from 'node:path';
import { ImgclsError, usageError } from '../errors.js';
import { openImage, readImageFile, toRgb } from './decode.js';
import { contentHashOfBytes, hammingDistance, perceptualHash } from './hash.js';
import { scanDataset, type ScanOptions } from './scan.js';
import { skipReason } from './stream.js';
import type { Dataset } from './types.js';
import { mapLimit } from '../util/limit.js';

/** The two splits of a dataset. */
export type SplitName = 'train' | 'valid';

/** Options of datasetReport. */
export interface ReportOptions extends ScanOptions {
  /** Largest Hamming distance between perceptual hashes that still counts as a near-duplicate. Default 4. */
  nearDuplicateDistance?: number;
  /** Files inspected at the same time. Default 4. */
  concurrency?: number;
  /** Called after each inspected file. */
  onProgress?: (progress: { done: number; total: number }) => void;
  /** Stops between files with an ImgclsError CANCELLED. */
  signal?: AbortSignal;
}

/** One image of the dataset, where it sits. */
export interface ReportedFile {
  /** Absolute path. */
  file: string;
  split: SplitName;
  className: string;
}

/** Byte-identical files (same sha256). */
export interface ExactDuplicateGroup {
  sha256: string;
  files: ReportedFile[];
  /** True when the group has files in both train and valid: a leak. */
  crossSplit: boolean;
  /** True when the copies carry different class labels. */
  labelConflict: boolean;
}

/** Two different files whose perceptual hashes are within nearDuplicateDistance bits. */
export interface NearDuplicatePair {
  first: ReportedFile;
  second: ReportedFile;
  /** Hamming distance of the 64-bit perceptual hashes. */
  distance: number;
  crossSplit: boolean;
  labelConflict: boolean;
}

/** A validation image that also appears (exactly or nearly) in train. */
export interface Leak {
  valid: ReportedFile;
  train: ReportedFile;
  kind: 'exact' | 'near';
  /** 0 for exact copies. */
  distance: number;
}

/** What datasetReport found: counts, unreadable files, duplicates, leaks and warnings. */
export interface DatasetReport {
  root: string;
  layout: Dataset['layout'];
  classNames: string[];
  /** Readable images per split and class name. */
  counts: Record<SplitName, Record<string, number>>;
  /** Readable images per split. */
  totals: Record<SplitName, number>;
  /** Largest over smallest class count in train (1 = balanced; Infinity when a class has no readable image). */
  imbalanceRatio: number;
  /** Files with an image extension that could not be decoded, each with its reason; training skips them. */
  unreadable: (ReportedFile & { reason: string })[];
  /** Files in class folders without an image extension (not counted). */
  ignored: string[];
  exactDuplicates: ExactDuplicateGroup[];
  nearDuplicates: NearDuplicatePair[];
  /** Validation images with a copy in train, exact first. */
  leaks: Leak[];
  nearDuplicateDistance: number;
  /** Human-readable findings, most serious first; a train/valid overlap starts with "LEAK". */
  warnings: string[];
}

/** Side of the small copy the perceptual hash is computed from (JPEGs shrink on load). */
const HASH_SOURCE_SIZE = 128;
/** How many file names a warning lists before "… and N more". */
const WARNING_LIST_LIMIT = 40;

interface Inspected {
  entry: ReportedFile;
  sha256?: string;
  dhash?: string;
  reason?: string;
}

async function inspect(entry: ReportedFile): Promise<Inspected> {
  try {
    const bytes = await readImageFile(entry.file);
    const sha256 = contentHashOfBytes(bytes);
    const pipeline = openImage(entry.file, bytes).resize(HASH_SOURCE_SIZE, HASH_SOURCE_SIZE, {
      fit: 'inside',
      withoutEnlargement: true,
      kernel: 'cubic',
    });
    const small = await toRgb(entry.file, pipeline, bytes);
    return { entry, sha256, dhash: perceptualHash(small) };
  } catch (err) {
    return { entry, reason: skipReason(err) };
  }
}

/** Candidate pairs whose hashes may be within `maxDistance` bits: by pigeonhole they share one of maxDistance+1 bands. */
function nearPairs(hashes: string[], maxDistance: number): [number, number, number][] {
  const bits = hashes.map((hex) => [...hex].map((digit) => parseInt(digit, 16).toString(2).padStart(4, '0')).join(''));
  const bands = Math.min(maxDistance + 1, 64);
  const buckets = new Map<string, number[]>();
  bits.forEach((bitString, index) => {
    for (let band = 0; band < bands; band++) {
      const start = Math.floor((band * 64) / bands);
      const end = Math.floor(((band + 1) * 64) / bands);
      const key = `${band}:${bitString.slice(start, end)}`;
      const members = buckets.get(key) ?? [];
      members.push(index);
      buckets.set(key, members);
    }
  });
  const seen = new Set<number>();
  const pairs: [number, number, number][] = [];
  for (const members of buckets.values()) {
    for (let i = 0; i < members.length; i++) {
      for (let j = i + 1; j < members.length; j++) {
        const key = members[i] * hashes.length + members[j];
        if (seen.has(key)) continue;
        seen.add(key);
        const distance = hammingDistance(hashes[members[i]], hashes[members[j]]);
        if (distance <= maxDistance) pairs.push([members[i], members[j], distance]);
      }
    }
  }
  return pairs;
}

function listNames(names: string[]): string {
  const shown = names.slice(0, WARNING_LIST_LIMIT).join(', ');
  return names.length > WARNING_LIST_LIMIT ? `${shown}, … and ${names.length - WARNING_LIST_LIMIT} more` : shown;
}

/**
 * Inspects every image of a dataset (streamed, bounded memory) and returns counts per class and split,
 * the class imbalance, unreadable files with reasons, exact and near duplicates, train/valid leaks and warnings.
 */
export async function datasetReport(root: string, options: ReportOptions = {}): Promise<DatasetReport> {
  const nearDuplicateDistance = options.nearDuplicateDistance ?? 4;
  const concurrency = options.concurrency ?? 4;
  if (!(Number.isInteger(nearDuplicateDistance) && nearDuplicateDistance >= 0 && nearDuplicateDistance < 64)) {
    throw usageError(`nearDuplicateDistance must be an integer in [0, 63]. Received: ${nearDuplicateDistance}`);
  }
  if (!(Number.isInteger(concurrency) && concurrency > 0)) throw usageError(`concurrency must be a positive integer. Received: ${concurrency}`);
  const dataset = await scanDataset(root, options);
  const entries: ReportedFile[] = (['train', 'valid'] as const).flatMap((split) =>
    dataset[split].map((item) => ({ file: item.file, split, className: dataset.classNames[item.label] })),
  );

  // inspect every file with a bounded number in flight
  let done = 0;
  const inspected: Inspected[] = await mapLimit(entries, concurrency, async (entry) => {
    if (options.signal?.aborted) throw new ImgclsError('cancelled', 'CANCELLED', undefined, undefined, { cause: options.signal.reason });
    const result = await inspect(entry);
    options.onProgress?.({ done: ++done, total: entries.length });
    return result;
  });

  // counts and unreadable files
  const counts: Record<SplitName, Record<string, number>> = { train: {}, valid: {} };
  for (const split of ['train', 'valid'] as const) for (const name of dataset.classNames) counts[split][name] = 0;
  const unreadable: DatasetReport['unreadable'] = [];
  for (const result of inspected) {
    if (result.reason !== undefined) unreadable.push({ ...result.entry, reason: result.reason });
    else counts[result.entry.split][result.entry.className]++;
  }
  const totals = {
    train: Object.values(counts.train).reduce((a, b) => a + b, 0),
    valid: Object.values(counts.valid).reduce((a, b) => a + b, 0),
  };
  const trainCounts = Object.values(counts.train);
  const smallest = Math.min(...trainCounts);
  const imbalanceRatio = smallest === 0 ? Infinity : Math.max(...trainCounts) / smallest;

  // exact duplicates by content hash
  const readable = inspected.filter((result) => result.sha256 !== undefined);
  const bySha = new Map<string, ReportedFile[]>();
  for (const result of readable) bySha.set(result.sha256!, [...(bySha.get(result.sha256!) ?? []), result.entry]);
  const exactDuplicates: ExactDuplicateGroup[] = [...bySha.entries()]
    .filter(([, files]) => files.length > 1)
    .map(([sha256, files]) => ({
      sha256,
      files,
      crossSplit: new Set(files.map((f) => f.split)).size > 1,
      labelConflict: new Set(files.map((f) => f.className)).size > 1,
    }));

  // near duplicates by perceptual hash (pairs that are not byte-identical)
  const nearDuplicates: NearDuplicatePair[] = nearPairs(readable.map((r) => r.dhash!), nearDuplicateDistance)
    .filter(([i, j]) => readable[i].sha256 !== readable[j].sha256)
    .map(([i, j, distance]) => {
      const [first, second] = [readable[i].entry, readable[j].entry];
      return { first, second, distance, crossSplit: first.split !== second.split, labelConflict: first.className !== second.className };
    })
    .sort((a, b) => a.distance - b.distance || a.first.file.localeCompare(b.first.file));

  // leaks: each validation file with a copy in train, exact matches preferred
  const leakByValid = new Map<string, Leak>();
  for (const group of exactDuplicates.filter((g) => g.crossSplit)) {
    const train = group.files.find((f) => f.split === 'train')!;
    for (const valid of group.files.filter((f) => f.split === 'valid')) leakByValid.set(valid.file, { valid, train, kind: 'exact', distance: 0 });
  }
  for (const pair of nearDuplicates.filter((p) => p.crossSplit)) {
    const [valid, train] = pair.first.split === 'valid' ? [pair.first, pair.second] : [pair.second, pair.first];
    const known = leakByValid.get(valid.file);
    if (!known || (known.kind === 'near' && known.distance > pair.distance)) {
      leakByValid.set(valid.file, { valid, train, kind: 'near', distance: pair.distance });
    }
  }
  const leaks = [...leakByValid.values()].sort(
    (a, b) => (a.kind === b.kind ? 0 : a.kind === 'exact' ? -1 : 1) || a.valid.file.localeCompare(b.valid.file),
  );

  // warnings, most serious first
  const rel = (file: string) => path.relative(dataset.root, file) || file;
  const warnings: string[] = [];
  const exactLeaks = leaks.filter((leak) => leak.kind === 'exact');
  const nearLeaks = leaks.filter((leak) => leak.kind === 'near');
  if (exactLeaks.length > 0) {
    warnings.push(
      `LEAK: ${exactLeaks.length} of ${totals.valid} validation images are exact copies of training images, so validation ` +
        `scores will be inflated; remove them from one split: ${listNames(exactLeaks.map((l) => `${rel(l.valid.file)} = ${rel(l.train.file)}`))}`,
    );
  }
  if (nearLeaks.length > 0) {
    warnings.push(
      `LEAK: ${nearLeaks.length} validation images are near-duplicates of training images (perceptual hash within ` +
        `${nearDuplicateDistance} bits); check them: ${listNames(nearLeaks.map((l) => `${rel(l.valid.file)} ~ ${rel(l.train.file)} (${l.distance})`))}`,
    );
  }
  const conflicts = [
    ...exactDuplicates.filter((g) => g.labelConflict).map((g) => g.files.map((f) => rel(f.file)).join(' = ')),
    ...nearDuplicates.filter((p) => p.labelConflict).map((p) => `${rel(p.first.file)} ~ ${rel(p.second.file)}`),
  ];
  if (conflicts.length > 0) {
    warnings.push(`LABEL CONFLICT: ${conflicts.length} identical or near-identical images sit in different classes: ${listNames(conflicts)}`);
  }
  if (unreadable.length > 0) {
    warnings.push(`${unreadable.length} unreadable files will be skipped: ${listNames(unreadable.map((u) => `${rel(u.file)} (${u.reason})`))}`);
  }
  for (const split of ['train', 'valid'] as const) {
    const within = exactDuplicates.filter((g) => !g.crossSplit && g.files[0].split === split);
    if (within.length > 0) {
      warnings.push(`${within.length} groups of exact duplicates within ${split}: ${listNames(within.map((g) => g.files.map((f) => rel(f.file)).join(' = ')))}`);
    }
    const nearWithin = nearDuplicates.filter((p) => !p.crossSplit && p.first.split === split);
    if (nearWithin.length > 0) {
      warnings.push(`${nearWithin.length} near-duplicate pairs within ${split}: ${listNames(nearWithin.map((p) => `${rel(p.first.file)} ~ ${rel(p.second.file)} (${p.distance})`))}`);
    }
  }
  if (imbalanceRatio > 2) {
    warnings.push(`class imbalance: the largest training class has ${imbalanceRatio === Infinity ? 'images while another has none' : `${imbalanceRatio.toFixed(1)}× the images of the smallest`}; consider more data for the small classes or a class-weighted loss`);
  }
  if (totals.valid === 0) warnings.push('no validation images: metrics cannot be measured; add a val/ folder or use validPct > 0');
  if (dataset.ignored.length > 0) warnings.push(`${dataset.ignored.length} non-image files ignored: ${listNames(dataset.ignored.map(rel))}`);

  return {
    root: dataset.root,
    layout: dataset.layout,
    classNames: dataset.classNames,
    counts,
    totals,
    imbalanceRatio,
    unreadable,
    ignored: dataset.ignored,
    exactDuplicates,
    nearDuplicates,
    leaks,
    nearDuplicateDistance,
    warnings,
  };
}

/** The report as plain text: a count table per class and split, then findings and warnings. */
export function formatDatasetReport(report: DatasetReport): string {
  const rel = (file: string) => path.relative(report.root, file) || file;
  const width = Math.max(5, ...report.classNames.map((name) => name.length));
  const row = (name: string, train: number | string, valid: number | string) =>
    `  ${name.padEnd(width)}  ${String(train).padStart(6)}  ${String(valid).padStart(6)}`;
  const lines = [
    `Dataset ${report.root} (${report.layout} layout, ${report.classNames.length} classes)`,
    '',
    row('class', 'train', 'valid'),
    ...report.classNames.map((name) => row(name, report.counts.train[name], report.counts.valid[name])),
    row('total', report.totals.train, report.totals.valid),
    '',
    `Class imbalance (largest / smallest training class): ${Number.isFinite(report.imbalanceRatio) ? report.imbalanceRatio.toFixed(2) : 'infinite'}`,
    `Unreadable files: ${report.unreadable.length === 0 ? 'none' : report.unreadable.length}`,
    ...report.unreadable.map((u) => `  ${rel(u.file)}: ${u.reason}`),
    `Exact duplicate groups: ${report.exactDuplicates.length} (${report.exactDuplicates.filter((g) => g.crossSplit).length} across train/valid)`,
    `Near-duplicate pairs (≤ ${report.nearDuplicateDistance} bits): ${report.nearDuplicates.length} (${report.nearDuplicates.filter((p) => p.crossSplit).length} across train/valid)`,
    `Validation images also in train: ${report.leaks.length}`,
  ];
  if (report.ignored.length > 0) lines.push(`Ignored non-image files: ${report.ignored.length}`);
  lines.push('', report.warnings.length === 0 ? 'No warnings.' : 'Warnings:');
  for (const warning of report.warnings) lines.push(`  ! ${warning}`);
  return lines.join('\n');
}
