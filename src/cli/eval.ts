import { usageError } from '../errors.js';
import type { Evaluation, EvaluationSplit } from '../eval/evaluate.js';
import type { Dataset } from '../data/types.js';
import type { OpenSetEvaluation } from '../eval/open-set.js';
import type { ThresholdChoice } from '../eval/curves.js';
import { scanForCheckpoint } from '../eval/checkpoint-split.js';
import { topLosses } from '../eval/top-losses.js';
import type { EngineChoice } from '../model/engine.js';
import { formatOpenSetThresholds } from '../model/open-set.js';
import { csvField, displayPath } from './predict.js';
import { parseOptions, toNumber } from './args.js';

const HELP = `Usage: imgcls eval <checkpoint> <data> [options]

Evaluates a checkpoint on a folder-per-class dataset: accuracy, per-class precision, recall, F1 and
support (scikit-learn's classification_report layout), confusion matrix, ROC AUC and average
precision per class, and the misclassified images with the highest loss. Unreadable files are
skipped and listed. Optionally picks the decision threshold that reaches a target recall for one
class, reports the precision it costs, and stores it in the checkpoint so predict uses it.

Options:
  --split <name>           valid | train | all: which images of <data> [default: valid]
  --valid-pct <x>          held-out share when <data> has no val/ folder [default: the checkpoint's, else 0.2]
  --seed <n>               seed of that split [default: the checkpoint's, else 42]
  --target-recall <x>      choose the threshold reaching this recall for --class (e.g. 0.95)
  --class <name>           the class of --target-recall (e.g. logo)
  --save-threshold         store the chosen threshold in the checkpoint (predict then applies it)
  --no-threshold           ignore a threshold stored in the checkpoint (plain argmax)
  --open-set <folder>      also score images that belong to no class (photos, graphics, …): AUROC of the
                           open-set score, false-positive rate at 95% true-positive rate, and the share
                           called each class before and after the verdict (needs the checkpoint's open-set data)
  --top-losses <n>         misclassified images listed [default: 10]
  --json                   print the whole evaluation as JSON
  --csv                    print one CSV row per image (file, actual, predicted, probabilities, loss)
  --batch-size <n>         images per forward pass [default: 16]
  --engine <name>          auto | onnxruntime | tfjs [default: auto]
  --debug                  print stack traces of unexpected errors
  -h, --help               show this help

Examples:
  imgcls eval runs/sample/checkpoints/best.imgcls sample-data
  imgcls eval best.imgcls ../shared/lesson-data --split all --json > eval.json
  imgcls eval best.imgcls sample-data --target-recall 0.95 --class logo --save-threshold
  imgcls eval best.imgcls ../shared/lesson-data --open-set other-images/`;

/** A split name, validated. */
export function splitOption(value: string | undefined): EvaluationSplit {
  const split = value ?? 'valid';
  if (split !== 'valid' && split !== 'train' && split !== 'all') throw usageError(`--split must be valid, train or all. Received: ${split}`);
  return split;
}

/**
 * The leak warning for an evaluation, or undefined: validation images that are byte-identical copies of
 * training images (the lesson data's val/ is one), or a split that includes the training images.
 */
export async function leakNotice(dataset: Dataset, split: EvaluationSplit): Promise<string | undefined> {
  if (split !== 'valid') {
    return `LEAK: the ${split} split includes the training images, so these scores are training scores and mean nothing about new images; evaluate the valid split for an honest score`;
  }
  const { findLeaks, leakWarning } = await import('../data/leaks.js');
  const { leaks, validCount } = await findLeaks(dataset);
  return leaks > 0 ? leakWarning(leaks, validCount, dataset.layout) : undefined;
}

/** The evaluation as text: header, classification report, confusion matrix, AUCs, top losses, skipped files. */
export function formatEvaluation(evaluation: Evaluation, context: { data: string; split: EvaluationSplit; topLosses: number }): string {
  const { classNames, metrics } = evaluation;
  const lines: string[] = [];
  lines.push(`Evaluated ${metrics.support} images of ${context.data} (${context.split} split); ${evaluation.skipped.length} unreadable skipped`);
  const t = evaluation.threshold;
  lines.push(t ? `Decision: "${t.className}" when its probability ≥ ${t.value.toFixed(4)}, else the most probable class` : 'Decision: the most probable class');
  lines.push('', evaluation.report.trimEnd(), '');
  for (const note of metrics.notes) lines.push(`note: ${note}`);
  if (metrics.notes.length > 0) lines.push('');
  const width = Math.max(6, ...classNames.map((name) => name.length));
  lines.push('Confusion matrix (rows: actual, columns: predicted)');
  lines.push(`${''.padEnd(width)}  ${classNames.map((name) => name.padStart(Math.max(name.length, 5))).join('  ')}`);
  evaluation.confusionMatrix.forEach((row, i) => {
    lines.push(`${classNames[i].padEnd(width)}  ${row.map((count, j) => String(count).padStart(Math.max(classNames[j].length, 5))).join('  ')}`);
  });
  lines.push('', 'One class against the rest:');
  for (const curves of evaluation.curves) {
    const roc = curves.rocAuc !== undefined ? `ROC AUC ${curves.rocAuc.toFixed(3)}` : 'ROC AUC n/a';
    const ap = curves.precisionRecall ? `average precision ${curves.precisionRecall.averagePrecision.toFixed(3)}` : 'average precision n/a (class absent)';
    lines.push(`  ${curves.className.padEnd(width)}  ${roc}  ${ap}`);
  }
  const wrong = topLosses(evaluation.images);
  if (context.topLosses > 0) {
    lines.push('', wrong.length === 0 ? 'No misclassified image.' : `Misclassified (${wrong.length}), highest loss first:`);
    for (const image of wrong.slice(0, context.topLosses)) {
      lines.push(`  loss ${image.loss.toFixed(3)}  actual ${image.actualClass}  predicted ${image.predictedClass} (${image.probability.toFixed(3)})  ${displayPath(image.file)}`);
    }
  }
  if (evaluation.skipped.length > 0) {
    lines.push('', 'Skipped (unreadable):');
    for (const skipped of evaluation.skipped) lines.push(`  ${displayPath(skipped.file)}: ${skipped.reason}`);
  }
  return lines.join('\n');
}

/** The open-set section of eval's text: AUROC, FPR@95%TPR, flagged shares, classes called before/after the verdict. */
export function formatOpenSetEvaluation(result: OpenSetEvaluation, folder: string): string {
  const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
  const names = Object.keys(result.calledAfter);
  const width = Math.max(8, ...names.map((name) => name.length));
  return [
    `Open set: ${result.outCount} images of ${folder} that belong to no class, against the ${result.inCount} evaluated images`,
    `  AUROC ${result.auroc.toFixed(3)}, false-positive rate at 95% true-positive rate ${pct(result.fprAt95Tpr)}`,
    ...(result.inCopies > 0.5 ? [`  note: ${pct(result.inCopies)} of the evaluated images are copies of training images, so AUROC and FPR are optimistic; evaluate a held-out split`] : []),
    `  stored threshold ${formatOpenSetThresholds(result, 4)}: flags ${pct(result.outFlagged)} of the open-set images and ${pct(result.inFlagged)} of the evaluated ones`,
    `  ${'called'.padEnd(width)}  ${'probability alone'.padStart(17)}  ${'with the verdict'.padStart(16)}`,
    ...names.map((name) => `  ${name.padEnd(width)}  ${pct(result.calledBefore[name] ?? 0).padStart(17)}  ${pct(result.calledAfter[name]).padStart(16)}`),
  ].join('\n');
}

/** One CSV row per evaluated image. */
export function evaluationCsv(evaluation: Evaluation): string {
  const header = ['file', 'actual', 'predicted', 'probability', ...evaluation.classNames.map((name) => `p_${name}`), 'loss'];
  const rows = evaluation.images.map((image) => [
    image.file, image.actualClass, image.predictedClass, image.probability.toFixed(6),
    ...image.probabilities.map((p) => p.toFixed(6)), image.loss.toFixed(6),
  ]);
  return [header, ...rows].map((row) => row.map(csvField).join(',')).join('\n');
}

/** `imgcls eval <checkpoint> <data>`: prints the evaluation; optionally chooses and stores a threshold. */
export async function evalCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseOptions('eval', {
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      split: { type: 'string' }, 'valid-pct': { type: 'string' }, seed: { type: 'string' },
      'target-recall': { type: 'string' }, class: { type: 'string' }, 'save-threshold': { type: 'boolean', default: false },
      'no-threshold': { type: 'boolean', default: false }, 'top-losses': { type: 'string' }, 'open-set': { type: 'string' },
      json: { type: 'boolean', default: false }, csv: { type: 'boolean', default: false },
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
      'Run "imgcls eval <checkpoint> <data>"; see "imgcls eval --help".');
  }
  const [checkpoint, data] = positionals;
  if (values.json && values.csv) throw usageError('--json and --csv cannot be combined.');
  const split = splitOption(values.split);
  const targetRecall = toNumber('target-recall', values['target-recall'], { min: Number.MIN_VALUE, max: 1 });
  const className = values.class;
  if ((targetRecall === undefined) !== (className === undefined)) {
    throw usageError('--target-recall and --class go together.', 'For example: --target-recall 0.95 --class logo');
  }
  if (values['save-threshold'] && targetRecall === undefined) {
    throw usageError('--save-threshold needs --target-recall and --class.', 'For example: --target-recall 0.95 --class logo --save-threshold');
  }
  const topLossCount = toNumber('top-losses', values['top-losses'], { integer: true, min: 0 }) ?? 10;
  const batchSize = toNumber('batch-size', values['batch-size'], { integer: true, min: 1 });
  const { dataset, classNames } = await scanForCheckpoint(checkpoint, data, {
    validPct: toNumber('valid-pct', values['valid-pct'], { min: 0, max: 0.99 }),
    seed: toNumber('seed', values.seed, { integer: true }),
  });

  if (className !== undefined && !classNames.includes(className)) {
    throw usageError(`unknown class "${className}". Classes: ${classNames.join(', ')}`);
  }
  const { loadClassifier } = await import('../model/classifier.js');
  const { evaluate, chooseThreshold } = await import('../eval/evaluate.js');
  const classifier = await loadClassifier(checkpoint, { engine: values.engine as EngineChoice | undefined });
  let evaluation: Evaluation;
  let openSet: OpenSetEvaluation | undefined;
  try {
    evaluation = await evaluate(classifier, dataset, { split, batchSize, ...(values['no-threshold'] ? { threshold: null } : {}) });
    if (values['open-set'] !== undefined) {
      const { expandInputs } = await import('../predict/inputs.js');
      const { evaluateOpenSet } = await import('../eval/open-set.js');
      openSet = await evaluateOpenSet(classifier, evaluation.images.map((image) => image.file), await expandInputs(values['open-set']), { batchSize });
    }
  } finally {
    await classifier.dispose();
  }

  let choice: ThresholdChoice | undefined;
  let saved = false;
  if (targetRecall !== undefined && className !== undefined) {
    choice = chooseThreshold(evaluation, className, targetRecall);
    if (values['save-threshold']) {
      const { updateCheckpointSpec } = await import('../model/checkpoint.js');
      await updateCheckpointSpec(checkpoint, { threshold: { className, value: choice.threshold, targetRecall } });
      saved = true;
    }
  }

  const leak = await leakNotice(dataset, split);
  if (leak) process.stderr.write(`! ${leak}\n`);
  if (values.json) {
    process.stdout.write(`${JSON.stringify({ ...evaluation, ...(choice ? { thresholdChoice: { className, ...choice, saved } } : {}), ...(openSet ? { openSet } : {}) }, null, 2)}\n`);
  } else if (values.csv) {
    process.stdout.write(`${evaluationCsv(evaluation)}\n`);
  } else {
    process.stdout.write(`${formatEvaluation(evaluation, { data, split, topLosses: topLossCount })}\n`);
    if (openSet) process.stdout.write(`\n${formatOpenSetEvaluation(openSet, values['open-set']!)}\n`);
    if (choice && className !== undefined) {
      process.stdout.write(
        `\nThreshold for recall ≥ ${targetRecall} on "${className}": ${choice.threshold.toFixed(4)} → recall ${choice.recall.toFixed(3)}, ` +
          `precision ${choice.precision.toFixed(3)} (${choice.truePositives} found, ${choice.falsePositives} false alarms)\n`,
      );
      process.stdout.write(saved
        ? `Saved in ${checkpoint}: predict now says "${className}" when its probability ≥ ${choice.threshold.toFixed(4)}.\n`
        : 'Add --save-threshold to store it in the checkpoint.\n');
    }
  }
  if (choice && (values.json || values.csv)) {
    process.stderr.write(`threshold ${choice.threshold} for recall ≥ ${targetRecall} on "${className}": precision ${choice.precision.toFixed(3)}${saved ? ' (saved)' : ''}\n`);
  }
  return 0;
}

