import { promises as fs } from 'node:fs';
import path from 'node:path';
import { usageError } from '../errors.js';
import type { EngineChoice } from '../model/engine.js';
import type { HistoryPoint } from '../plots/history-figures.js';
import type { OpenSetEvaluation } from '../eval/open-set.js';
import { leakNotice, splitOption } from './eval.js';
import { scanForCheckpoint } from '../eval/checkpoint-split.js';
import { parseOptions, toNumber } from './args.js';

const HELP = `Usage: imgcls report <checkpoint> <data> -o <report.html> [options]

Evaluates a checkpoint on a dataset and writes one self-contained HTML page for people who would
rather look than read: summary, classification report, confusion matrix, precision–recall and ROC
curves, the training loss and accuracy curves (from the run's history.jsonl), and the
misclassified images with thumbnails (and, with --explain, where the model looked). plotly.js
is inlined; the page fetches nothing.

Options:
  -o, --out <file>         the HTML file to write (required)
  --history <file>         history.jsonl to plot [default: found beside the checkpoint's run folder]
  --split <name>           valid | train | all [default: valid]
  --valid-pct <x>          held-out share when <data> has no val/ folder [default: the checkpoint's]
  --seed <n>               seed of that split [default: the checkpoint's]
  --max-images <n>         misclassified images shown, highest loss first [default: 50]
  --explain                add a class-activation-map overlay to each misclassified image
  --open-set <folder>      also score images that belong to no class: AUROC, share called each class
                           before and after the open-set verdict, the ones still given a class
  --title <text>           page title [default: imgcls evaluation report]
  --batch-size <n>         images per forward pass [default: 16]
  --engine <name>          auto | onnxruntime | tfjs [default: auto]
  --debug                  print stack traces of unexpected errors
  -h, --help               show this help

Examples:
  imgcls report runs/sample/checkpoints/best.imgcls sample-data -o report.html
  imgcls report best.imgcls ../shared/lesson-data --split all --explain -o lesson-report.html`;

/** The history.jsonl of the checkpoint's run: <run>/history.jsonl for <run>/checkpoints/x.imgcls, or beside it. */
export async function findHistory(checkpoint: string): Promise<string | undefined> {
  const dir = path.dirname(path.resolve(checkpoint));
  for (const candidate of [path.join(dir, 'history.jsonl'), path.join(path.dirname(dir), 'history.jsonl')]) {
    if (await fs.stat(candidate).then((s) => s.isFile(), () => false)) return candidate;
  }
  return undefined;
}

/** `imgcls report <checkpoint> <data> -o report.html`: writes the HTML report atomically. */
export async function reportCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseOptions('report', {
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      out: { type: 'string', short: 'o' }, history: { type: 'string' }, split: { type: 'string' },
      'valid-pct': { type: 'string' }, seed: { type: 'string' }, 'max-images': { type: 'string' },
      explain: { type: 'boolean', default: false }, title: { type: 'string' }, 'open-set': { type: 'string' },
      'batch-size': { type: 'string' }, engine: { type: 'string' },
      debug: { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(`${HELP}\n`);
    return 0;
  }
  if (positionals.length !== 2) {
    throw usageError(`expected a checkpoint and a data folder, got ${positionals.length} argument(s)`,
      'Run "imgcls report <checkpoint> <data> -o report.html"; see "imgcls report --help".');
  }
  const out = values.out;
  if (!out) throw usageError('missing -o <report.html>', 'Say where to write the page, e.g. -o report.html');
  const [checkpoint, data] = positionals;
  const split = splitOption(values.split);
  const maxImages = toNumber('max-images', values['max-images'], { integer: true, min: 0 }) ?? 50;
  const batchSize = toNumber('batch-size', values['batch-size'], { integer: true, min: 1 });
  const { dataset } = await scanForCheckpoint(checkpoint, data, {
    validPct: toNumber('valid-pct', values['valid-pct'], { min: 0, max: 0.99 }),
    seed: toNumber('seed', values.seed, { integer: true }),
  });
  const historyFile = values.history ?? (await findHistory(checkpoint));
  let history: HistoryPoint[] | undefined;
  if (historyFile) {
    const { readHistory } = await import('../train/history.js');
    history = await readHistory(historyFile);
  }

  const { loadClassifier } = await import('../model/classifier.js');
  const { evaluate } = await import('../eval/evaluate.js');
  const { topLosses } = await import('../eval/top-losses.js');
  const { renderHtmlReport, reportThumbnails } = await import('../plots/index.js');
  const classifier = await loadClassifier(checkpoint, { engine: values.engine as EngineChoice | undefined });
  let overlays = new Map<string, Uint8Array>();
  let html: string;
  try {
    const evaluation = await evaluate(classifier, dataset, { split, batchSize });
    const leak = await leakNotice(dataset, split);
    if (leak) process.stderr.write(`! ${leak}\n`);
    let openSet: OpenSetEvaluation | undefined;
    if (values['open-set'] !== undefined) {
      const { expandInputs } = await import('../predict/inputs.js');
      const { evaluateOpenSet } = await import('../eval/open-set.js');
      openSet = await evaluateOpenSet(classifier, evaluation.images.map((image) => image.file), await expandInputs(values['open-set']), { batchSize });
    }
    const shown = topLosses(evaluation.images, { k: maxImages }).map((image) => image.file);
    const passedOpenSet = (openSet?.images ?? []).filter((image) => !image.verdict.unfamiliar).slice(0, maxImages).map((image) => image.file);
    const thumbnails = await reportThumbnails([...shown, ...passedOpenSet]);
    if (values.explain) {
      // an image that cannot be explained keeps its plain thumbnail
      const { renderOverlayPngs } = await import('../explain/overlays.js');
      overlays = (await renderOverlayPngs(classifier, shown, { maxSize: 160 })).overlays;
    }
    html = renderHtmlReport(evaluation, {
      title: values.title,
      history,
      checkpoint: path.resolve(checkpoint),
      data: path.resolve(data),
      thumbnails,
      overlays,
      maxImages,
      warnings: leak ? [leak] : [],
      openSetSummary: classifier.openSet,
      openSet,
      generatedAt: new Date(),
    });
  } finally {
    await classifier.dispose();
  }
  const { writeFileAtomic } = await import('../util/atomic.js');
  await fs.mkdir(path.dirname(path.resolve(out)), { recursive: true });
  await writeFileAtomic(out, html);
  process.stdout.write(`wrote ${out} (${(Buffer.byteLength(html) / 1e6).toFixed(1)} MB${history ? `, history ${historyFile}` : ''})\n`);
  return 0;
}

