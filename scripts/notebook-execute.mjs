#!/usr/bin/env node
// Executes a notebook headless on the tslab kernel with the real Jupyter (/usr/bin/jupyter nbconvert)
// and checks it: nbconvert's exit code, its stderr, and every cell's outputs (tslab reports a failing
// cell as a stderr stream, not as an error output). Used by `npm run notebook:execute` and by
// test/notebook/notebook.test.ts.
//
// Usage: node scripts/notebook-execute.mjs [--quick] [--lang en|zh-CN] [--timeout SECONDS] [INPUT [OUTPUT]]
//   INPUT   default the lesson in --lang (default en): notebooks/image-classification[.zh-CN].ipynb
//   OUTPUT  default INPUT with .executed.ipynb (git-ignored); written only when every cell passed
//   --quick sets IMGCLS_QUICK=1: the generated sample and few epochs (what the tests run)
import { spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

/** The repository this script belongs to. */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** The lesson notebook. */
export const LESSON_NOTEBOOK = path.join(REPO_ROOT, 'notebooks', 'image-classification.ipynb');

/** The lesson notebook of each language (built from one source by scripts/notebook-build.mjs). */
export const LESSON_NOTEBOOKS = Object.freeze({
  en: LESSON_NOTEBOOK,
  'zh-CN': path.join(REPO_ROOT, 'notebooks', 'image-classification.zh-CN.ipynb'),
});

/** Debian's Jupyter (the pyenv python3 on PATH has no Jupyter); IMGCLS_JUPYTER overrides it. */
export const JUPYTER = process.env.IMGCLS_JUPYTER ?? '/usr/bin/jupyter';

/** Per-cell timeout in seconds, generous because the test machines are shared. Default 1800. */
export const DEFAULT_CELL_TIMEOUT_SECONDS = 1800;

/**
 * Registers the tslab kernel into a new temporary Jupyter data folder (via scripts/register-kernel.sh,
 * the README's registration) and returns that folder, to be used as JUPYTER_PATH.
 */
export async function prepareKernel() {
  const jupyterPath = await fs.mkdtemp(path.join(os.tmpdir(), 'imgcls-jupyter-'));
  const { exitCode, stderr } = await run('bash', [path.join(REPO_ROOT, 'scripts', 'register-kernel.sh'), jupyterPath], {});
  if (exitCode !== 0) throw new Error(`scripts/register-kernel.sh failed (exit ${exitCode}): ${stderr}`);
  return jupyterPath;
}

/**
 * Executes a notebook (parsed JSON) with nbconvert on the tslab kernel, in the notebooks/ folder so
 * `import … from 'imgcls'` resolves; returns nbconvert's exit code and stderr, the executed notebook
 * (undefined when nbconvert failed) and the problems found (empty when every cell passed).
 * With `diagnose`, a failed run is repeated with --allow-errors only to add tslab's error message to
 * the problems (nbconvert's own report of a tslab error names the cell but not the error).
 */
export async function executeNotebook(notebook, options = {}) {
  await fs.access(JUPYTER).catch(() => {
    throw new Error(`${JUPYTER} not found. Install Debian's Jupyter: apt-get install -y --no-install-recommends ` +
      'jupyter-nbconvert python3-nbclient python3-jupyter-client (npm run setup does it as root)');
  });
  const jupyterPath = options.jupyterPath ?? (await prepareKernel());
  try {
    const result = await runNbconvert(notebook, jupyterPath, options, []);
    const problems = executionProblems(result);
    if (result.exitCode !== 0 && options.diagnose) {
      const rerun = await runNbconvert(notebook, jupyterPath, options, ['--allow-errors']);
      problems.push(...executionProblems({ ...rerun, exitCode: 0, stderr: '' }).map((p) => `diagnostic re-run with --allow-errors: ${p}`));
    }
    return { ...result, problems };
  } finally {
    if (!options.jupyterPath) await fs.rm(jupyterPath, { recursive: true, force: true });
  }
}

async function runNbconvert(notebook, jupyterPath, options, extraArgs) {
  const timeoutSeconds = options.timeoutSeconds ?? DEFAULT_CELL_TIMEOUT_SECONDS;
  const args = [
    'nbconvert', '--stdin', '--stdout', '--to', 'notebook', '--execute',
    '--ExecutePreprocessor.kernel_name=tslab',
    `--ExecutePreprocessor.timeout=${timeoutSeconds}`,
    ...extraArgs,
  ];
  const result = await run(JUPYTER, args, {
    cwd: options.cwd ?? path.join(REPO_ROOT, 'notebooks'),
    // kernels from jupyterPath only; connection files and config kept out of $HOME (CI may not own it)
    env: {
      ...process.env,
      ...options.env,
      JUPYTER_PATH: jupyterPath,
      JUPYTER_RUNTIME_DIR: path.join(jupyterPath, 'runtime'),
      JUPYTER_CONFIG_DIR: path.join(jupyterPath, 'config'),
    },
    input: JSON.stringify(notebook),
  });
  let executed;
  if (result.exitCode === 0) {
    try {
      executed = JSON.parse(result.stdout);
    } catch {
      executed = undefined;
    }
  }
  return { exitCode: result.exitCode, stderr: result.stderr, executed };
}

/**
 * Every sign that a cell failed: a non-zero nbconvert exit, a cell error on nbconvert's stderr, and
 * any stderr stream or error output in the executed notebook (tslab's compile and runtime errors).
 */
export function executionProblems({ exitCode, stderr, executed }) {
  const problems = [];
  if (exitCode !== 0) problems.push(`nbconvert exited with code ${exitCode}${failedCellExcerpt(stderr)}`);
  if (/CellExecutionError|Traceback \(most recent call last\)/.test(stderr)) {
    problems.push('nbconvert stderr reports a cell execution error');
  }
  if (exitCode === 0 && executed === undefined) problems.push('nbconvert printed no executed notebook on stdout');
  for (const [index, cell] of (executed?.cells ?? []).entries()) {
    if (cell.cell_type !== 'code') continue;
    for (const output of cell.outputs ?? []) {
      if (output.output_type === 'error') {
        problems.push(`cell ${index} raised ${output.ename}: ${output.evalue}`);
      } else if (output.output_type === 'stream' && output.name === 'stderr') {
        problems.push(`cell ${index} wrote to stderr: ${joinText(output.text).slice(0, 600)}`);
      }
    }
  }
  return problems;
}

/** The source of the failing cell as nbconvert prints it, for the failure message. */
function failedCellExcerpt(stderr) {
  const at = stderr.indexOf('An error occurred while executing the following cell:');
  return at < 0 ? `; stderr ends: ${stderr.slice(-600)}` : `; ${stderr.slice(at, at + 1200)}`;
}

/** A notebook text field (string or list of lines) as one string. */
export function joinText(text) {
  return Array.isArray(text) ? text.join('') : String(text ?? '');
}

function run(command, args, { cwd, env, input }) {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, env, stdio: ['pipe', 'pipe', 'pipe'] });
    const stdout = [];
    const stderr = [];
    child.stdout.on('data', (chunk) => stdout.push(chunk));
    child.stderr.on('data', (chunk) => stderr.push(chunk));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      resolve({
        exitCode: code ?? (signal ? 128 : 1),
        stdout: Buffer.concat(stdout).toString('utf8'),
        stderr: Buffer.concat(stderr).toString('utf8'),
      });
    });
    child.stdin.on('error', () => {}); // nbconvert may exit before reading all of stdin
    child.stdin.end(input ?? '');
  });
}

async function main(argv) {
  const { values, positionals } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: true,
    options: {
      quick: { type: 'boolean', default: false },
      lang: { type: 'string', default: 'en' },
      timeout: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help || positionals.length > 2) {
    console.log('Usage: node scripts/notebook-execute.mjs [--quick] [--lang en|zh-CN] [--timeout SECONDS] [INPUT [OUTPUT]]');
    return values.help ? 0 : 2;
  }
  if (!Object.hasOwn(LESSON_NOTEBOOKS, values.lang)) {
    console.error(`--lang must be one of ${Object.keys(LESSON_NOTEBOOKS).join(', ')}. Received: ${values.lang}`);
    return 2;
  }
  const input = path.resolve(positionals[0] ?? LESSON_NOTEBOOKS[values.lang]);
  const output = path.resolve(positionals[1] ?? input.replace(/\.ipynb$/, '') + '.executed.ipynb');
  const timeoutSeconds = values.timeout === undefined ? undefined : Number(values.timeout);
  if (timeoutSeconds !== undefined && !(timeoutSeconds > 0)) {
    console.error(`--timeout must be a positive number of seconds. Received: ${values.timeout}`);
    return 2;
  }
  const notebook = JSON.parse(await fs.readFile(input, 'utf8'));
  const env = values.quick ? { IMGCLS_QUICK: '1' } : {};
  console.log(`executing ${path.relative(process.cwd(), input)} on the tslab kernel${values.quick ? ' (quick mode)' : ''}…`);
  const result = await executeNotebook(notebook, { env, timeoutSeconds, cwd: path.dirname(input), diagnose: true });
  if (result.problems.length > 0) {
    console.error(`✖ the notebook failed:\n- ${result.problems.join('\n- ')}`);
    return 1;
  }
  // every plotly chart also as a PNG, for viewers without the plotly renderer
  const { addStaticFallback } = await import('./notebook-static.mjs');
  const rendered = await addStaticFallback(result.executed);
  console.log(`${rendered} plotly figure(s) rendered to PNG beside their plotly JSON`);
  const tmp = `${output}.${process.pid}.tmp`;
  await fs.writeFile(tmp, JSON.stringify(result.executed, null, 1) + '\n');
  await fs.rename(tmp, output);
  console.log(`wrote ${path.relative(process.cwd(), output)}`);
  return 0;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).then(
    (code) => { process.exitCode = code; },
    (err) => { console.error(`✖ ${err instanceof Error ? err.message : err}`); process.exitCode = 1; },
  );
}
