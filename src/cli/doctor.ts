import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { promisify } from 'node:util';
import { backendInfo } from '../backend/backend.js';
import { usageError } from '../errors.js';
import { loadPretrainedBackbone, pretrainedWeightsSource } from '../model/pretrained.js';

/** Where imgcls finds Jupyter (Debian's; the pyenv python on PATH has none). */
export const JUPYTER_PATH = '/usr/bin/jupyter';

/** One line of the doctor report. */
export interface DoctorCheck {
  name: string;
  ok: boolean;
  /** False for checks that only some features need (ONNX Runtime, Jupyter, tslab). */
  required: boolean;
  detail: string;
  notes: string[];
}

/** Everything `imgcls doctor` reports, as plain data. */
export interface DoctorReport {
  imgclsVersion: string;
  node: string;
  platform: string;
  cpus: number;
  checks: DoctorCheck[];
}

const run = promisify(execFile);
const require = createRequire(import.meta.url);
/** The onnxruntime-node version imgcls is built and tested with (its optional peer dependency). */
const ONNXRUNTIME_VERSION = (({ peerDependencies, dependencies }) => peerDependencies?.['onnxruntime-node'] ?? dependencies?.['onnxruntime-node'])(
  require('../../../package.json') as { peerDependencies?: Record<string, string>; dependencies?: Record<string, string> });

function message(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n')[0];
}

function safeResolve(id: string): string | undefined {
  try {
    return require.resolve(id);
  } catch {
    return undefined;
  }
}

/** Jupyter's data folders, searched in its order: JUPYTER_PATH, the user's, then the system's. */
export function jupyterDataDirs(env: NodeJS.ProcessEnv = process.env): string[] {
  const user = env.JUPYTER_DATA_DIR ?? path.join(env.XDG_DATA_HOME ?? path.join(os.homedir(), '.local', 'share'), 'jupyter');
  return [...(env.JUPYTER_PATH ?? '').split(path.delimiter).filter(Boolean), user, '/usr/local/share/jupyter', '/usr/share/jupyter'];
}

/**
 * Where the `tslab` kernel Jupyter would start is registered and which tslab (so which checkout) it
 * runs; throws (a "!" line) when none is registered or it runs another checkout's tslab.
 */
export async function kernelRegistration(tslabPackageJson: string | undefined, env: NodeJS.ProcessEnv = process.env): Promise<{ detail: string; notes: string[] }> {
  for (const dir of jupyterDataDirs(env)) {
    const file = path.join(dir, 'kernels', 'tslab', 'kernel.json');
    const text = await fs.readFile(file, 'utf8').catch(() => undefined);
    if (text === undefined) continue;
    const argv = (JSON.parse(text) as { argv?: string[] }).argv ?? [];
    const tslab = argv.find((arg) => /tslab([\\/]bin[\\/]tslab)?$/.test(arg)) ?? argv.join(' ');
    const ours = tslabPackageJson ? path.join(path.dirname(tslabPackageJson), 'bin', 'tslab') : undefined;
    const checkout = tslab.replace(/[\\/]node_modules[\\/]tslab[\\/]bin[\\/]tslab$/, '');
    if (ours && path.resolve(tslab) !== path.resolve(ours)) {
      throw new Error(`tslab kernel (${file}) runs another checkout: ${checkout}. To use this one: bash scripts/register-kernel.sh --force`);
    }
    return { detail: `tslab kernel registered in ${file}`, notes: [`runs ${tslab}`] };
  }
  throw new Error('no tslab kernel registered for Jupyter: bash scripts/register-kernel.sh (npm run register-kernel)');
}

async function check(name: string, required: boolean, probe: () => Promise<{ detail: string; notes?: string[] }>): Promise<DoctorCheck> {
  try {
    const { detail, notes = [] } = await probe();
    return { name, ok: true, required, detail, notes };
  } catch (err) {
    return { name, ok: false, required, detail: message(err), notes: [] };
  }
}

/** Probes the backend, weights, ONNX Runtime, the libtorch training engine, Jupyter and tslab; never throws. */
export async function doctorReport(): Promise<DoctorReport> {
  const checks = [
    await check('backend', true, async () => {
      const info = await backendInfo();
      const versions = [`tfjs-core ${info.tfjsVersion}`];
      if (info.backendVersion) versions.push(`${info.name === 'wasm' ? 'tfjs-backend-wasm' : 'tfjs-node'} ${info.backendVersion}`);
      const threads = `${info.threads} thread${info.threads === 1 ? '' : 's'}`;
      return {
        detail: `${info.name} (${versions.join(', ')}, ${threads}${info.simd ? ', SIMD' : ''})`,
        notes: info.skipped.map((s) => `skipped ${s.name}: ${s.reason}`),
      };
    }),
    await check('weights', true, async () => {
      const source = pretrainedWeightsSource();
      const files = await fs.readdir(source.dir);
      let bytes = 0;
      for (const file of files) bytes += (await fs.stat(path.join(source.dir, file))).size;
      const model = await loadPretrainedBackbone();
      const parameters = model.countParams();
      model.dispose();
      return {
        detail: `${source.packageName}@${source.version}, ${(bytes / 1e6).toFixed(1)} MB, ${parameters.toLocaleString('en-US')} parameters mapped`,
        notes: [source.dir],
      };
    }),
    await check('onnxruntime', false, async () => {
      await import('onnxruntime-node').catch((err: unknown) => {
        // an optional peer dependency: without it the backbone runs on TF.js (several times slower)
        throw new Error(`${message(err)}. For the fast engine: npm install onnxruntime-node@${ONNXRUNTIME_VERSION} --onnxruntime-node-install=skip`);
      });
      const { version } = require('onnxruntime-node/package.json') as { version: string };
      return { detail: `onnxruntime-node ${version} loads` };
    }),
    await check('libtorch', false, async () => {
      // the optional engine that trains top-k/full at PyTorch speed (src/model/libtorch); TF.js wasm otherwise
      const { loadTorchAddon } = await import('../model/libtorch/addon.js');
      const { resolveTrainEngine } = await import('../train/engines/index.js');
      const status = loadTorchAddon();
      if (!status.addon) {
        throw new Error(`training engine skipped: ${status.reason}. top-k and full train on TF.js wasm (≈20× slower)`);
      }
      const size = (await fs.stat(status.file)).size;
      const selected = resolveTrainEngine('auto').engine;
      return {
        detail: `training engine built: libtorch ${status.addon.torchVersion}, ${status.addon.threads()} threads, addon ${Math.round(size / 1024)} KB; ` +
          `top-k/full train on ${selected}${process.env.IMGCLS_TRAIN_ENGINE ? ` (IMGCLS_TRAIN_ENGINE=${process.env.IMGCLS_TRAIN_ENGINE})` : ''}`,
        notes: [status.file],
      };
    }),
    await check('jupyter', false, async () => {
      const { stdout } = await run(JUPYTER_PATH, ['nbconvert', '--version'], { timeout: 30_000 });
      return { detail: `${JUPYTER_PATH} (nbconvert ${stdout.trim()})` };
    }),
    await check('tslab', false, async () => {
      const packageJson = require.resolve('tslab/package.json');
      const { version } = require(packageJson) as { version: string };
      const bin = path.join(path.dirname(packageJson), 'bin', 'tslab');
      await fs.access(bin);
      return { detail: `tslab ${version}`, notes: [bin] };
    }),
    await check('kernel', false, () => kernelRegistration(safeResolve('tslab/package.json'))),
  ];
  return {
    imgclsVersion: (require('../../../package.json') as { version: string }).version,
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
    cpus: os.availableParallelism(),
    checks,
  };
}

/** Formats the report as aligned text lines. */
export function formatDoctorReport(report: DoctorReport): string {
  const width = Math.max(...report.checks.map((c) => c.name.length));
  const lines = [`imgcls ${report.imgclsVersion} (node ${report.node}, ${report.platform}, ${report.cpus} CPUs)`];
  for (const c of report.checks) {
    const mark = c.ok ? '✔' : c.required ? '✖' : '!';
    lines.push(`${mark} ${c.name.padEnd(width)}  ${c.detail}`);
    for (const note of c.notes) lines.push(`  ${''.padEnd(width)}  ${note}`);
  }
  return lines.join('\n');
}

const HELP = `Usage: imgcls doctor [options]

Reports what imgcls runs on: the TF.js backend (versions, threads, SIMD, backends skipped and why),
where the pretrained weights come from, whether onnxruntime-node loads, and whether Jupyter and
tslab are ready for the notebook.

Options:
  --json        print the report as JSON
  --debug       print stack traces of unexpected errors
  -h, --help    show this help

Examples:
  imgcls doctor
  IMGCLS_BACKEND=cpu imgcls doctor --json`;

/** `imgcls doctor`: exit 0 when the backend and weights work, else 1. */
export async function doctorCommand(argv: string[]): Promise<number> {
  let values: { json: boolean; debug: boolean; help: boolean };
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      options: {
        json: { type: 'boolean', default: false },
        debug: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }));
  } catch (err) {
    throw usageError(message(err), 'See "imgcls doctor --help".');
  }
  if (values.help) {
    process.stdout.write(`${HELP}\n`);
    return 0;
  }
  const report = await doctorReport();
  process.stdout.write(values.json ? `${JSON.stringify(report, null, 2)}\n` : `${formatDoctorReport(report)}\n`);
  return report.checks.every((c) => c.ok || !c.required) ? 0 : 1;
}
