import { usageError } from '../errors.js';
import { writeSampleDataset } from '../data/sample.js';
import { parseOptions, toNumber } from './args.js';

const HELP = `Usage: imgcls sample <dir> [options]

Writes a small deterministic synthetic dataset: "logo" posters carrying a brand mark and "others"
photo-like scenes, in <dir>/train/{logo,others} and <dir>/val/{logo,others}; with --classes 3 or 4
also "chart" (bar and line charts) and "document" (pages of text).

Options:
  --images-per-class <n>   training images per class; validation gets a third as many [default: 24]
  --seed <integer>         seed of every random choice (same seed, same files) [default: 42]
  --classes <n>            number of classes, 2 to 4: logo, others, chart, document [default: 2]
  --debug                  print stack traces of unexpected errors
  -h, --help               show this help

Examples:
  imgcls sample sample-data
  imgcls sample /tmp/bigger-sample --images-per-class 120 --seed 7
  imgcls sample four-classes --classes 4`;

/** `imgcls sample <dir>`: writes the sample dataset and prints where it is. */
export async function sampleCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseOptions('sample', {
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      'images-per-class': { type: 'string' },
      seed: { type: 'string' },
      classes: { type: 'string' },
      debug: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(`${HELP}\n`);
    return 0;
  }
  if (positionals.length !== 1) {
    throw usageError(positionals.length === 0 ? 'missing output folder' : `expected one folder, got ${positionals.length}`,
      'Run "imgcls sample <dir>"; see "imgcls sample --help".');
  }
  const { root, classNames } = await writeSampleDataset(positionals[0], {
    imagesPerClass: toNumber('images-per-class', values['images-per-class'], { integer: true, command: 'sample' }),
    seed: toNumber('seed', values.seed, { integer: true, command: 'sample' }),
    numClasses: toNumber('classes', values.classes, { integer: true, command: 'sample' }),
  });
  process.stdout.write(`Wrote the sample dataset (${classNames.join(', ')}) to ${root}\n`);
  return 0;
}

