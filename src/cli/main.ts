import { ImgclsError } from '../errors.js';

type CommandFn = (argv: string[]) => Promise<number>;

/** Each subcommand lives in its own file and is imported only when it runs. */
const COMMANDS: Record<string, { summary: string; load: () => Promise<CommandFn> }> = {
  // one entry per subcommand, kept in alphabetical order
  calibrate: { summary: 'add the open-set data (is an image unlike the training data?) to an older checkpoint', load: async () => (await import('./calibrate.js')).calibrateCommand },
  data: { summary: 'check a dataset: counts, unreadable files, duplicates, leaks', load: async () => (await import('./data.js')).dataCommand },
  doctor: { summary: 'check the setup: TF.js backend, weights, ONNX Runtime, Jupyter and tslab', load: async () => (await import('./doctor.js')).doctorCommand },
  eval: { summary: 'evaluate a checkpoint: classification report, confusion matrix, curves, threshold for a target recall', load: async () => (await import('./eval.js')).evalCommand },
  explain: { summary: 'show where the classifier looked: class activation map over the image (PNG)', load: async () => (await import('./explain.js')).explainCommand },
  export: { summary: 'write a checkpoint (or the backbone alone) as an ONNX model', load: async () => (await import('./export.js')).exportCommand },
  predict: { summary: 'classify files, folders or globs: one row per file (table, --json, --csv)', load: async () => (await import('./predict.js')).predictCommand },
  report: { summary: 'write a self-contained HTML evaluation report (plots, misclassified images)', load: async () => (await import('./report.js')).reportCommand },
  sample: { summary: 'write a small synthetic two-class dataset (logo / others)', load: async () => (await import('./sample.js')).sampleCommand },
  train: { summary: 'fine-tune EfficientNet-B0 on a dataset (head, top-k or full); history + checkpoints', load: async () => (await import('./train.js')).trainCommand },
};

/** The top-level usage text. */
export function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((name) => name.length), 8);
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`);
  return [
    'Usage: imgcls <command> [options]',
    '',
    'Commands:',
    ...lines,
    '',
    'Run "imgcls <command> --help" for the options of one command.',
  ].join('\n');
}

/** Prints an error the way every subcommand does and returns the exit code (2 for usage errors, 130 when interrupted, else 1). */
export function printError(err: unknown, options: { debug: boolean }): number {
  if (err instanceof ImgclsError) {
    process.stderr.write(`✖ ${err.message}\n`);
    if (err.file) process.stderr.write(`  file: ${err.file}\n`);
    if (err.hint) process.stderr.write(`  hint: ${err.hint}\n`);
    if (options.debug && err.stack) process.stderr.write(`${err.stack}\n`);
    // 130 = 128 + SIGINT, what shells report for a command stopped with Ctrl-C
    return err.code === 'USAGE' ? 2 : err.code === 'CANCELLED' ? 130 : 1;
  }
  const error = err instanceof Error ? err : new Error(String(err));
  process.stderr.write(`✖ unexpected error: ${error.message}\n`);
  process.stderr.write(options.debug ? `${error.stack}\n` : '  (run again with --debug for the stack trace)\n');
  return 1;
}

/** Runs the CLI with argv (without node and script) and returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(`${usage()}\n`);
    return name === undefined ? 2 : 0;
  }
  if (name === '--version') {
    const { createRequire } = await import('node:module');
    process.stdout.write(`${createRequire(import.meta.url)('../../../package.json').version}\n`);
    return 0;
  }
  const command = COMMANDS[name];
  if (!command) {
    process.stderr.write(`✖ unknown command "${name}"\n\n${usage()}\n`);
    return 2;
  }
  try {
    const run = await command.load();
    return await run(rest);
  } catch (err) {
    return printError(err, { debug: rest.includes('--debug') });
  }
}
