import path from 'node:path';
import { usageError } from '../errors.js';
import type { EngineChoice } from '../model/engine.js';
import type { Classifier, OpenSetVerdict } from '../model/types.js';
import { isFileError, type PredictResult } from '../predict/predict.js';
import { parseOptions, toNumber } from './args.js';

const HELP = `Usage: imgcls predict <checkpoint> <paths…> [options]

Classifies image files, folders (recursively) and globs with a trained checkpoint, streaming in
batches. Prints one row per file: the predicted class and its softmax probability (the
checkpoint's decision threshold applies when it has one: stored by "imgcls eval --save-threshold",
it picks its class whenever that class's probability reaches it, even below 0.5; such rows are
marked), or the reason a file could not be read.
An image unlike the training data (its distance to the nearest training image is above the
threshold calibrated when training ended) is printed as "unknown (unlike the training data)":
its class is not to be trusted; add varied examples of what it is to a class folder and retrain.
A path that does not exist, or a glob that matches no image, is an error. Exit code 0 when at
least one file was classified, 1 when none could be, 2 on bad usage, 130 when interrupted (Ctrl-C).

Options:
  --json                 print a JSON array of {file, predicted, probability, probabilities, openSet} | {file, error}
  --csv                  print CSV: file, predicted, probability, one column per class, unfamiliar, score,
                         threshold, nearest, nearest_class, error
  --keep-class           print the most probable class even for images unlike the training data
  --no-verdict           skip the open-set verdict (a little faster; every image gets a class)
  --batch-size <n>       images per forward pass [default: 16]
  --concurrency <n>      images decoded at the same time [default: 4]
  --top-k <n>            classes listed per file (table and JSON) [default: 1 in the table, all in JSON]
  --engine <name>        auto | onnxruntime | tfjs [default: auto]
  --no-threshold         ignore the checkpoint's stored threshold: the most probable class wins
  --debug                print stack traces of unexpected errors
  -h, --help             show this help

Examples:
  imgcls predict runs/sample/checkpoints/best.imgcls poster.jpg
  imgcls predict runs/sample/checkpoints/best.imgcls incoming/ --csv > predictions.csv
  imgcls predict best.imgcls "photos/**/*.png" --json --batch-size 64`;

/** A path relative to the working directory when it lies inside it, else absolute. */
export function displayPath(file: string): string {
  const relative = path.relative(process.cwd(), file);
  return relative && !relative.startsWith('..') && !path.isAbsolute(relative) ? relative : file;
}

/** A CSV field, quoted when it holds a comma, quote or line break (RFC 4180). */
export function csvField(value: string | number): string {
  const text = String(value);
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** What predict prints for an image unlike the training data (unless --keep-class). */
export const UNKNOWN_CLASS = 'unknown';

/** The class shown for a row: UNKNOWN_CLASS when the verdict says unfamiliar and the class is not kept. */
function shownClass(predicted: string, verdict: OpenSetVerdict | undefined, keepClass: boolean): string {
  return verdict?.unfamiliar && !keepClass ? UNKNOWN_CLASS : predicted;
}

/** Writes rows as they come, in one of three formats. */
interface RowWriter {
  write(result: PredictResult): void;
  end(): void;
}

/**
 * Collects output and writes it to stdout in chunks; flush() waits for a slow reader (a pipe) to
 * drain, so memory stays bounded however many rows there are.
 */
function createOutput(): { out: (text: string) => void; flush: () => Promise<void> } {
  let pending = '';
  return {
    out: (text) => {
      pending += text;
    },
    async flush() {
      if (pending === '') return;
      const ok = process.stdout.write(pending);
      pending = '';
      if (!ok) await new Promise<void>((resolve) => process.stdout.once('drain', resolve));
    },
  };
}

function createWriter(format: 'table' | 'json' | 'csv', classNames: readonly string[], topK: number | undefined,
  out: (text: string) => void, options: { verdict: boolean; keepClass: boolean; threshold?: { className: string; value: number } }): RowWriter {
  if (format === 'json') {
    let first = true;
    return {
      write(result) {
        const row = isFileError(result) ? result : {
          ...result,
          predicted: shownClass(result.predicted, result.openSet, options.keepClass),
          probabilities: topK === undefined ? result.probabilities : result.probabilities.slice(0, topK),
        };
        out(`${first ? '[\n' : ',\n'}  ${JSON.stringify(row)}`);
        first = false;
      },
      end: () => out(first ? '[]\n' : '\n]\n'),
    };
  }
  if (format === 'csv') {
    const verdictColumns = options.verdict ? ['unfamiliar', 'score', 'threshold', 'nearest', 'nearest_class'] : [];
    out(`${['file', 'predicted', 'probability', ...classNames, ...verdictColumns, 'error'].map(csvField).join(',')}\n`);
    return {
      write(result) {
        const verdict = isFileError(result) ? undefined : result.openSet;
        const verdictCells = !options.verdict ? [] : verdict
          ? [String(verdict.unfamiliar), verdict.score.toFixed(6), verdict.threshold.toFixed(6), verdict.nearest[0]?.file ?? '', verdict.nearest[0]?.className ?? '']
          : verdictColumns.map(() => '');
        const cells = isFileError(result)
          ? [result.file, '', '', ...classNames.map(() => ''), ...verdictCells, result.error]
          : [
              result.file,
              shownClass(result.predicted, verdict, options.keepClass),
              result.probability.toFixed(6),
              ...classNames.map((name) => result.probabilities.find((p) => p.className === name)?.probability.toFixed(6) ?? ''),
              ...verdictCells,
              '',
            ];
        out(`${cells.map(csvField).join(',')}\n`);
      },
      end: () => undefined,
    };
  }
  const width = Math.max('predicted'.length, 'ERROR'.length, options.verdict ? UNKNOWN_CLASS.length : 0, ...classNames.map((name) => name.length));
  out(`${'predicted'.padEnd(width)}  ${'prob'.padStart(5)}  file\n`);
  return {
    write(result) {
      if (isFileError(result)) {
        out(`${'ERROR'.padEnd(width)}  ${'-'.padStart(5)}  ${displayPath(result.file)}  (${result.error})\n`);
        return;
      }
      const others = result.probabilities.slice(1, topK ?? 1).map((p) => `${p.className} ${p.probability.toFixed(3)}`);
      const verdict = result.openSet;
      // an unfamiliar image's row says so, names the class it would get and its nearest training image
      const unlike = verdict?.unfamiliar
        ? [`unlike the training data: score ${verdict.score.toFixed(3)} > ${verdict.threshold.toFixed(3)}` +
            `${options.keepClass ? '' : `, most probable ${result.predicted} ${result.probability.toFixed(3)}`}` +
            `${verdict.nearest[0] ? `, nearest ${verdict.nearest[0].className} ${displayPath(verdict.nearest[0].file)}` : ''}`]
        : [];
      const top = Math.max(...result.probabilities.map((p) => p.probability));
      const threshold = options.threshold;
      const decided = threshold && result.predicted === threshold.className && result.probability < top
        ? [`threshold ${threshold.value.toFixed(4)} decided`] : [];
      const notes = [...unlike, ...decided, ...others];
      const more = notes.length > 0 ? `  (${notes.join('; ')})` : '';
      out(`${shownClass(result.predicted, verdict, options.keepClass).padEnd(width)}  ${result.probability.toFixed(3)}  ${displayPath(result.file)}${more}\n`);
    },
    end: () => undefined,
  };
}

/** `imgcls predict <checkpoint> <paths…>`: one row per file; exit 1 only when nothing could be classified. */
export async function predictCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseOptions('predict', {
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      json: { type: 'boolean', default: false },
      csv: { type: 'boolean', default: false },
      'batch-size': { type: 'string' },
      concurrency: { type: 'string' },
      'top-k': { type: 'string' },
      engine: { type: 'string' },
      'no-threshold': { type: 'boolean', default: false },
      'keep-class': { type: 'boolean', default: false },
      'no-verdict': { type: 'boolean', default: false },
      debug: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(`${HELP}\n`);
    return 0;
  }
  const [checkpoint, ...inputs] = positionals;
  if (checkpoint === undefined || inputs.length === 0) {
    throw usageError(checkpoint === undefined ? 'missing checkpoint and paths' : 'missing paths to classify',
      'Run "imgcls predict <checkpoint> <paths…>"; see "imgcls predict --help".');
  }
  if (values.json && values.csv) throw usageError('--json and --csv cannot be combined.');
  const batchSize = toNumber('batch-size', values['batch-size'], { integer: true, min: 1 });
  const concurrency = toNumber('concurrency', values.concurrency, { integer: true, min: 1 });
  const topK = toNumber('top-k', values['top-k'], { integer: true, min: 1 });
  const engine = values.engine as EngineChoice | undefined;

  // a mistyped path or an empty glob fails before the model loads
  const { expandInputs } = await import('../predict/inputs.js');
  const files = await expandInputs(inputs, { strict: true });
  const { loadClassifier } = await import('../model/classifier.js');
  const { predict } = await import('../predict/predict.js');
  const classifier: Classifier = await loadClassifier(checkpoint, { engine, ignoreThreshold: values['no-threshold'] });
  const threshold = classifier.spec.threshold;
  if (threshold) {
    process.stderr.write(`note: ${displayPath(checkpoint)} holds a threshold: "${threshold.className}" is predicted whenever its probability ≥ ${threshold.value.toFixed(4)} ` +
      `(stored by eval --save-threshold), even below 0.5. Add --no-threshold for the most probable class.\n`);
  }
  const abort = new AbortController();
  const onSignal = () => abort.abort(new Error('interrupted'));
  process.once('SIGINT', onSignal);
  const verdict = !values['no-verdict'] && classifier.openSet !== undefined;
  if (!values['no-verdict'] && !verdict) {
    process.stderr.write(`note: ${displayPath(checkpoint)} carries no open-set data, so unfamiliar images get a class too; ` +
      'add it with "imgcls calibrate <checkpoint> <dataset>"\n');
  }
  let classified = 0;
  let failed = 0;
  let unsupported = false;
  let unfamiliar = 0;
  const started = performance.now();
  let flushedAt = started;
  try {
    const output = createOutput();
    const writer = createWriter(values.json ? 'json' : values.csv ? 'csv' : 'table', classifier.spec.classNames, topK, output.out,
      { verdict, keepClass: values['keep-class'], threshold });
    for await (const result of predict(classifier, files, { batchSize, concurrency, signal: abort.signal, verdict })) {
      writer.write(result);
      if (isFileError(result)) {
        failed++;
        unsupported ||= /^IMAGE_(UNSUPPORTED|UNREADABLE)/.test(result.error);
      }
      else classified++;
      if (!isFileError(result) && result.openSet?.unfamiliar) unfamiliar++;
      // rows reach the screen at least every 200 ms, in chunks of up to 64
      if ((classified + failed) % 64 === 0 || performance.now() - flushedAt > 200) {
        await output.flush();
        flushedAt = performance.now();
      }
    }
    writer.end();
    await output.flush();
  } finally {
    process.off('SIGINT', onSignal);
    await classifier.dispose();
  }
  const seconds = (performance.now() - started) / 1000;
  process.stderr.write(
    `${classified} classified, ${failed} could not be read, in ${seconds.toFixed(1)} s (${((classified + failed) / Math.max(seconds, 1e-9)).toFixed(1)} files/s)\n`,
  );
  if (unsupported) {
    const { SUPPORTED_HINT } = await import('../data/decode.js');
    process.stderr.write(`  hint for the files not read: ${SUPPORTED_HINT}\n`);
  }
  if (verdict) process.stderr.write(`${unfamiliar} of ${classified} images unlike the training data${unfamiliar > 0 && !values['keep-class'] ? ' (printed as unknown)' : ''}\n`);
  if (classified === 0) {
    process.stderr.write('✖ no file could be classified\n');
    return 1;
  }
  return 0;
}

