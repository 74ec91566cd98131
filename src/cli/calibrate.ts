import { parseArgs } from 'node:util';
import { usageError } from '../errors.js';
import type { EngineChoice } from '../model/engine.js';
import { displayPath } from './predict.js';
import { parseStrict } from './args.js';

const HELP = `Usage: imgcls calibrate <checkpoint> <data> [options]

Adds (or renews) a checkpoint's open-set data: the features of its training images (at most 256,
a seeded subsample beyond) and the threshold above which an image counts as unlike the training
data (leave-one-out distances, calibrated so that at least 95% of training-like images pass).
imgcls train does this by itself; use calibrate for checkpoints written before it did, or after
moving the dataset. <data> is the dataset the checkpoint was trained on (same split settings).
The checkpoint is rewritten atomically; its weights are unchanged.

Options:
  --cache-dir <dir>      feature cache [default: beside the run folder, as train uses]
  --engine <name>        auto | onnxruntime | tfjs [default: auto]
  --debug                print stack traces of unexpected errors
  -h, --help             show this help

Examples:
  imgcls calibrate runs/sample/checkpoints/best.imgcls sample-data`;

/** `imgcls calibrate <checkpoint> <data>`: writes the open-set calibration into the checkpoint. */
export async function calibrateCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseStrict('calibrate', () => parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      'cache-dir': { type: 'string' },
      engine: { type: 'string' },
      debug: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  }));
  if (values.help) {
    process.stdout.write(`${HELP}\n`);
    return 0;
  }
  const [checkpoint, data, ...extra] = positionals;
  if (checkpoint === undefined || data === undefined || extra.length > 0) {
    throw usageError(extra.length > 0 ? `unexpected arguments: ${extra.join(' ')}` : 'missing checkpoint or dataset',
      'Run "imgcls calibrate <checkpoint> <data>"; see "imgcls calibrate --help".');
  }
  const { calibrateCheckpoint } = await import('../train/open-set.js');
  const result = await calibrateCheckpoint(checkpoint, data, {
    cacheDir: values['cache-dir'],
    engine: values.engine as EngineChoice | undefined,
  });
  process.stdout.write(`${displayPath(result.file)}: open-set score calibrated on ${result.trainCount} training images ` +
    `(${result.storedImages} stored, ${result.addedBytes >= 0 ? '+' : ''}${(result.addedBytes / 1024).toFixed(0)} KB); ` +
    `images scoring above ${result.threshold.toFixed(4)} are unlike the training data\n`);
  return 0;
}
