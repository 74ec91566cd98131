import path from 'node:path';
import { ImgclsError, isImgclsError, usageError } from '../errors.js';
import type { Normalization, ResizeMode } from '../data/types.js';
import type { EngineChoice } from '../model/engine.js';
import type { TrainMode } from '../model/types.js';
import { resolveTrainConfig, type MonitorMetric, type OptimizerName, type ResolvedTrainConfig, type TrainConfig } from '../train/config.js';
import type { TrainEngineChoice } from '../train/engines/index.js';
import { formatDuration } from '../util/duration.js';
import type { TrainProgress, TrainResult } from '../train/train.js';
import type { ClassConceptsReport } from '../model/class-concepts.js';
import { parseOptions, toNumber } from './args.js';

const HELP = `Usage: imgcls train <data> [options]

Fine-tunes the ImageNet-pretrained EfficientNet-B0 on a folder-per-class dataset
(<data>/train/<class> + <data>/val/<class>, or <data>/<class> with a seeded split).
Writes <out>/history.jsonl (every step and epoch) and <out>/checkpoints/{epoch-NNN,best,last}.imgcls.

Options:
  --out <dir>               run folder [default: runs/<data folder name>]
  --mode <mode>             head | top-k | full: which weights learn [default: head]
  --epochs <n>              passes over the training set [default: 10]
  --batch-size <n>          images per step [default: 10; full mode on TF.js 4]
  --lr <x>                  learning rate [default: 0.001]
  --momentum <x>            SGD momentum / Adam beta1 [default: 0.9]
  --weight-decay <x>        L2 penalty [default: 0.0001]
  --optimizer <name>        sgd | adam [default: sgd]
  --seed <n>                seed of split, init, shuffling, dropout [default: 42]
  --valid-pct <x>           share held out when <data> has no val/ folder [default: 0.2]
  --augment-views <n>       cached augmented views per training image [default: 0]
  --dropout <x>             dropout before the head [default: 0.2]
  --save-interval <n>       write epoch-NNN.imgcls every n epochs [default: 1]
  --keep-checkpoints <n>    newest epoch-NNN.imgcls files kept, or "all" (best and last always stay) [default: 3]
  --monitor <metric>        val_accuracy | val_loss, picks best.imgcls [default: val_accuracy]
  --class-weights <rule>    balanced | none [default: balanced]
  --top-k <n>               blocks trained in top-k mode [default: 2]
  --engine <name>           auto | onnxruntime | tfjs, for feature extraction [default: auto]
  --train-engine <name>     auto | libtorch | tfjs, trains top-k and full [default: auto:
                            $IMGCLS_TRAIN_ENGINE, else libtorch when its addon is built]
  --input-size <n>          input side in pixels [default: 224]
  --resize <mode>           squash | center-crop [default: squash]
  --normalization <name>    zero-one | advprop [default: zero-one]
  --cache-dir <dir>         feature cache [default: $IMGCLS_CACHE/features or <out>/../.imgcls-cache]
  --resume                  continue from <out>/checkpoints/last.imgcls
  --overwrite               replace the run already in <out> (without it, train refuses
                            to touch a folder that holds a run: exit 1, nothing changed)
  --no-concepts             skip the narrow-class check before training (ImageNet concepts per class;
                            not run with --resume)
  --json                    print the result as JSON on stdout
  --quiet                   no progress bar
  --debug                   print stack traces of unexpected errors
  -h, --help                show this help

Examples:
  imgcls train sample-data --out runs/sample
  imgcls train ../shared/lesson-data --epochs 20 --augment-views 4
  imgcls train photos --out runs/photos --resume`;

function bar(fraction: number, width = 20): string {
  const filled = Math.round(Math.min(Math.max(fraction, 0), 1) * width);
  return `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}]`;
}

/** One line of progress: phase, bar, counts, loss, speed and ETA. */
export function formatProgress(p: TrainProgress): string {
  const eta = p.etaMs !== undefined && Number.isFinite(p.etaMs) ? `  ETA ${formatDuration(p.etaMs)}` : '';
  if (p.phase === 'features') {
    return `features ${bar(p.step / Math.max(p.steps, 1))} ${p.step}/${p.steps} images  ${(p.imagesPerSec ?? 0).toFixed(1)} img/s${eta}`;
  }
  const stepsPerSec = p.stepsPerSec !== undefined ? `  ${p.stepsPerSec.toFixed(p.stepsPerSec < 10 ? 2 : 0)} steps/s` : '';
  const loss = p.loss !== undefined ? `  loss ${p.loss.toFixed(4)}` : '';
  const accuracy = p.accuracy !== undefined ? `  acc ${(p.accuracy * 100).toFixed(1)}%` : '';
  const overall = (p.epoch - 1 + p.step / Math.max(p.steps, 1)) / Math.max(p.epochs, 1);
  return `epoch ${p.epoch}/${p.epochs} ${bar(overall)} step ${p.step}/${p.steps}${loss}${accuracy}${stepsPerSec}${eta}`;
}

/** The line printed after each epoch's validation. */
function epochLine(p: TrainProgress): string {
  return `epoch ${p.epoch}/${p.epochs}  val_loss ${(p.loss ?? NaN).toFixed(4)}  val_acc ${((p.accuracy ?? 0) * 100).toFixed(1)}%  ${formatDuration(p.elapsedMs)}`;
}

function summary(result: TrainResult): string {
  const f = result.final;
  const pct = (x: number | null) => (x === null ? 'n/a' : `${(x * 100).toFixed(1)}%`);
  const lines = [
    `Trained ${result.epochsRun} epoch(s) in ${result.config.mode} mode on ${result.trainCount} images (${result.validCount} validation, ${result.layout}) in ${formatDuration(result.timings.totalMs)}`,
    `  final: loss ${f.loss.toFixed(4)}, accuracy ${pct(f.accuracy)}, val_loss ${f.val_loss?.toFixed(4) ?? 'n/a'}, val_accuracy ${pct(f.val_accuracy)}`,
    `  best epoch ${result.bestEpoch}: ${result.checkpoints.best}`,
    `  history: ${result.historyFile}`,
    `  features: ${result.cache.computed} computed${result.engine ? ` on ${result.engine}` : ''}, ${result.cache.hits} from the cache (${result.cache.dir})`,
    ...(result.config.mode === 'head' ? [] : [`  trained on ${result.trainEngine}`]),
  ];
  if (result.skipped.length) lines.push(`  skipped ${result.skipped.length} unreadable file(s):`, ...result.skipped.map((s) => `    ${s.file}: ${s.reason}`));
  return lines.join('\n');
}

/** The flag of each TrainConfig field whose name differs from it (other fields: camelCase → kebab-case). */
const FLAG_OF: Record<string, string> = { learningRate: 'lr', inputSize: 'input-size', resize: 'resize', normalization: 'normalization' };

/** Validates the config as train() will, but names the command-line flag (--batch-size), not the field (batchSize). */
function checkFlags(config: TrainConfig): void {
  try {
    resolveTrainConfig(config);
  } catch (err) {
    if (!isImgclsError(err, 'USAGE')) throw err;
    const field = /^(\w+) must/.exec(err.message)?.[1];
    if (!field) throw err;
    const flag = FLAG_OF[field] ?? field.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
    throw usageError(err.message.replace(field, `--${flag}`), `See "imgcls train --help".`);
  }
}

/**
 * The narrow-class check before training: ImageNet concepts and feature spread of each class's training images.
 * Prints the table (unless quiet) and the NARROW warnings (always) on stderr. An advisory check: when it
 * cannot run, training goes on and the reason is printed.
 */
async function conceptCheck(config: ResolvedTrainConfig, quiet: boolean, signal: AbortSignal): Promise<ClassConceptsReport | undefined> {
  const { scanDataset } = await import('../data/scan.js');
  const { analyzeClassConcepts, classFilesOf, formatClassConcepts } = await import('../model/class-concepts.js');
  const dataset = await scanDataset(config.data, { validPct: config.validPct, seed: config.seed });
  try {
    const report = await analyzeClassConcepts(classFilesOf(dataset), { engineChoice: config.engine, seed: config.seed, signal });
    if (!quiet) process.stderr.write(`${formatClassConcepts(report, { warnings: false })}\n`);
    for (const warning of report.warnings) process.stderr.write(`! NARROW ${warning}\n`);
    if (!quiet || report.warnings.length > 0) process.stderr.write('  (--no-concepts skips this check)\n');
    return report;
  } catch (err) {
    if (signal.aborted) throw err;
    process.stderr.write(`narrow-class check skipped: ${err instanceof Error ? err.message : String(err)}\n`);
    return undefined;
  }
}

/** `imgcls train <data>`: trains with a progress bar on stderr and prints where the checkpoints are. */
export async function trainCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseOptions('train', {
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      out: { type: 'string' }, mode: { type: 'string' }, epochs: { type: 'string' }, 'batch-size': { type: 'string' },
      lr: { type: 'string' }, momentum: { type: 'string' }, 'weight-decay': { type: 'string' }, optimizer: { type: 'string' },
      seed: { type: 'string' }, 'valid-pct': { type: 'string' }, 'augment-views': { type: 'string' }, dropout: { type: 'string' },
      'save-interval': { type: 'string' }, 'keep-checkpoints': { type: 'string' }, monitor: { type: 'string' }, 'class-weights': { type: 'string' }, 'top-k': { type: 'string' },
      engine: { type: 'string' }, 'train-engine': { type: 'string' }, 'input-size': { type: 'string' }, resize: { type: 'string' }, normalization: { type: 'string' },
      'cache-dir': { type: 'string' }, resume: { type: 'boolean', default: false }, overwrite: { type: 'boolean', default: false }, 'no-concepts': { type: 'boolean', default: false }, json: { type: 'boolean', default: false },
      quiet: { type: 'boolean', default: false }, debug: { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(`${HELP}\n`);
    return 0;
  }
  if (positionals.length !== 1) {
    throw usageError(positionals.length === 0 ? 'missing dataset folder' : `expected one dataset folder, got ${positionals.length}`,
      'Run "imgcls train <data>"; see "imgcls train --help".');
  }
  const data = positionals[0];
  const preprocessing = {
    ...(values['input-size'] !== undefined ? { inputSize: toNumber('input-size', values['input-size'], { integer: true, command: 'train' }) } : {}),
    ...(values.resize !== undefined ? { resize: values.resize as ResizeMode } : {}),
    ...(values.normalization !== undefined ? { normalization: values.normalization as Normalization } : {}),
  };
  const config: TrainConfig = {
    data,
    outDir: values.out ?? path.join('runs', path.basename(path.resolve(data))),
    mode: values.mode as TrainMode | undefined,
    epochs: toNumber('epochs', values.epochs, { integer: true, min: 1, command: 'train' }),
    batchSize: toNumber('batch-size', values['batch-size'], { integer: true, min: 1, command: 'train' }),
    learningRate: toNumber('lr', values.lr, { command: 'train' }),
    momentum: toNumber('momentum', values.momentum, { command: 'train' }),
    weightDecay: toNumber('weight-decay', values['weight-decay'], { command: 'train' }),
    optimizer: values.optimizer as OptimizerName | undefined,
    seed: toNumber('seed', values.seed, { integer: true, command: 'train' }),
    validPct: toNumber('valid-pct', values['valid-pct'], { command: 'train' }),
    augmentViews: toNumber('augment-views', values['augment-views'], { integer: true, command: 'train' }),
    dropout: toNumber('dropout', values.dropout, { command: 'train' }),
    saveInterval: toNumber('save-interval', values['save-interval'], { integer: true, command: 'train' }),
    keepCheckpoints: values['keep-checkpoints'] === 'all' ? 'all' : toNumber('keep-checkpoints', values['keep-checkpoints'], { integer: true, min: 0, command: 'train' }),
    monitor: values.monitor as MonitorMetric | undefined,
    classWeights: values['class-weights'] as 'balanced' | 'none' | undefined,
    topK: toNumber('top-k', values['top-k'], { integer: true, command: 'train' }),
    engine: values.engine as EngineChoice | undefined,
    trainEngine: values['train-engine'] as TrainEngineChoice | undefined,
    cacheDir: values['cache-dir'],
    resume: values.resume,
    overwrite: values.overwrite,
    preprocessing,
  };
  checkFlags(config);
  const interactive = process.stderr.isTTY === true && !values.quiet;
  let lastLine = 0;
  let lastPhase = '';
  const onProgress = (p: TrainProgress) => {
    if (values.quiet) return;
    if (p.message) {
      if (interactive) process.stderr.write('\r\x1b[K');
      process.stderr.write(`${p.message}\n`);
      return;
    }
    if (p.phase === 'done') return;
    const line = formatProgress(p);
    if (interactive) {
      const now = performance.now();
      if (now - lastLine > 100 || p.phase !== lastPhase) process.stderr.write(`\r\x1b[K${line}`);
      lastLine = now;
      if (p.phase === 'validate' && p.loss !== undefined) process.stderr.write(`\r\x1b[K${epochLine(p)}\n`);
    } else if (p.phase === 'validate' && p.loss !== undefined) {
      process.stderr.write(`${epochLine(p)}\n`);
    } else if (p.phase === 'features' && p.step === p.steps) {
      process.stderr.write(`${line}\n`);
    }
    lastPhase = p.phase;
  };
  const abort = new AbortController();
  const onSignal = () => abort.abort(new Error('interrupted'));
  process.once('SIGINT', onSignal);
  try {
    const { train, refuseExistingRun } = await import('../train/train.js');
    // refuse at once, before the (slower) concept check
    await refuseExistingRun(config);
    // bad options are reported before the check runs the network; a resumed run was checked when it started
    const resolved = resolveTrainConfig(config);
    const concepts = values['no-concepts'] || values.resume ? undefined : await conceptCheck(resolved, values.quiet, abort.signal);
    const result = await train(config, { signal: abort.signal, onProgress }).catch((err: unknown) => {
      if (!isImgclsError(err, 'CANCELLED')) throw err;
      // the library's hint names the option; the command line gets the command to type
      const quote = (arg: string) => (/^[\w./:=@%+-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`);
      const resumeCommand = ['imgcls', 'train', ...argv.filter((arg) => arg !== '--resume' && arg !== '--overwrite'), ...(values.out ? [] : ['--out', config.outDir]), '--resume'].map(quote).join(' ');
      throw new ImgclsError(err.message, err.code, err.file, err.hint ? `Continue with: ${resumeCommand}` : undefined, { cause: err });
    });
    if (interactive) process.stderr.write('\r\x1b[K');
    process.stdout.write(values.json ? `${JSON.stringify(concepts ? { ...result, concepts } : result, null, 2)}\n` : `${summary(result)}\n`);
    return 0;
  } finally {
    process.off('SIGINT', onSignal);
  }
}
