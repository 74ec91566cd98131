import { usageError } from '../errors.js';
import { datasetReport, formatDatasetReport } from '../data/report.js';
import { scanDataset } from '../data/scan.js';
import type { EngineChoice } from '../model/engine.js';
import { analyzeClassConcepts, classFilesOf, formatClassConcepts, type ClassConceptsReport } from '../model/class-concepts.js';
import { parseOptions, toNumber } from './args.js';

const HELP = `Usage: imgcls data report <root> [options]

Checks a dataset folder: images per class and split, class imbalance, unreadable files with
their reasons, exact and near-duplicate images, and train/validation leaks. Then, per class,
which ImageNet concepts its training images fall into (the pretrained model's own ImageNet head)
and how spread it is in feature space; a class that is mostly one concept (e.g. only cats) is
flagged NARROW: the model would learn that concept, not everything the class must cover.

Options:
  --json                   print the report as JSON instead of text
  --valid-pct <number>     share of each class held out when root has no val/ folder [default: 0.2]
  --seed <integer>         seed of that split [default: 42]
  --near-distance <bits>   largest perceptual-hash distance counted as a near-duplicate [default: 4]
  --strict                 exit with code 1 when the report has warnings (e.g. a leak)
  --no-concepts            skip the ImageNet-concept / narrow-class check (it runs the network)
  --engine <name>          auto | onnxruntime | tfjs, for the concept check [default: auto]
  --debug                  print stack traces of unexpected errors
  -h, --help               show this help

Examples:
  imgcls data report ../shared/lesson-data
  imgcls data report sample-data --json > report.json
  imgcls data report photos --valid-pct 0.25 --strict`;

/** `imgcls data report <root>`: prints the dataset report; exit 0, or 1 with --strict when there are warnings. */
export async function dataCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseOptions('data', {
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      json: { type: 'boolean', default: false },
      'valid-pct': { type: 'string' },
      seed: { type: 'string' },
      'near-distance': { type: 'string' },
      strict: { type: 'boolean', default: false },
      'no-concepts': { type: 'boolean', default: false },
      engine: { type: 'string' },
      debug: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(`${HELP}\n`);
    return 0;
  }
  const [action, root, ...extra] = positionals;
  if (action !== 'report') throw usageError(action ? `unknown data action "${action}"` : 'missing action', 'Run "imgcls data report <root>"; see "imgcls data --help".');
  if (root === undefined) throw usageError('missing dataset root', 'Run "imgcls data report <root>"; see "imgcls data --help".');
  if (extra.length > 0) throw usageError(`unexpected arguments: ${extra.join(' ')}`, 'Pass one dataset root.');
  const scan = {
    validPct: toNumber('valid-pct', values['valid-pct'], { command: 'data' }),
    seed: toNumber('seed', values.seed, { command: 'data' }),
  };
  const report = await datasetReport(root, {
    ...scan,
    nearDuplicateDistance: toNumber('near-distance', values['near-distance'], { command: 'data' }),
    // a live counter on an interactive terminal only, so piped output stays clean
    onProgress: process.stderr.isTTY ? ({ done, total }) => process.stderr.write(`\rinspecting images ${done}/${total}`) : undefined,
  });
  let concepts: ClassConceptsReport | undefined;
  if (!values['no-concepts']) {
    concepts = await analyzeClassConcepts(classFilesOf(await scanDataset(root, scan)), {
      engineChoice: values.engine as EngineChoice | undefined,
      seed: scan.seed,
      onProgress: process.stderr.isTTY ? ({ done, total }) => process.stderr.write(`\r\x1b[Kreading ImageNet concepts ${done}/${total}`) : undefined,
    });
  }
  if (process.stderr.isTTY) process.stderr.write('\r\x1b[K');
  const combined = concepts
    ? { ...report, warnings: [...report.warnings, ...concepts.warnings.map((w) => `NARROW ${w}`)], concepts }
    : report;
  const text = concepts ? `${formatDatasetReport(combined)}\n\n${formatClassConcepts(concepts, { warnings: false })}` : formatDatasetReport(report);
  process.stdout.write(values.json ? `${JSON.stringify(combined, null, 2)}\n` : `${text}\n`);
  return values.strict && combined.warnings.length > 0 ? 1 : 0;
}
