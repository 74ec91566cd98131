// Benchmark: `imgcls train` (head, top-k and full modes; top-k/full on each training engine) against the
// PyTorch CPU peer (bench/peer_torch_train.py) on the same images, in one run. Every wall time runs from
// process start (spawn) to exit; training images/s = images × epochs / training time (validation included).
//
//   npm run bench:train                       # lesson data, 10 epochs: head, top-k (tfjs, libtorch), full (libtorch), peer
//   npm run bench:train -- --modes full@libtorch,full@tfjs --epochs 2
//   npm run bench:train -- --epochs 1 --quick # smoke run
import { spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

interface Run {
  name: string;
  wallSec: number;
  code: number | null;
  stdout: string;
  stderr: string;
}

function runTimed(name: string, command: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  return new Promise((resolve) => {
    const started = performance.now();
    const child = spawn(command, args, { cwd: repoRoot, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.on('exit', (code) => resolve({ name, wallSec: (performance.now() - started) / 1000, code, stdout, stderr }));
  });
}

function lastJson(text: string): Record<string, unknown> | undefined {
  const start = text.indexOf('{');
  if (start < 0) return undefined;
  try {
    return JSON.parse(text.slice(start)) as Record<string, unknown>;
  } catch {
    const line = text.trim().split('\n').reverse().find((l) => l.startsWith('{'));
    return line ? (JSON.parse(line) as Record<string, unknown>) : undefined;
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      data: { type: 'string', default: path.resolve(repoRoot, '../shared/lesson-data') },
      epochs: { type: 'string', default: '10' },
      // mode[@engine]: the engine that trains top-k/full (libtorch needs npm run build:native)
      modes: { type: 'string', default: 'head,top-k@tfjs,top-k@libtorch,full@libtorch' },
      'skip-peer': { type: 'boolean', default: false },
      'peer-validate': { type: 'boolean', default: false },
      quick: { type: 'boolean', default: false },
    },
  });
  const epochs = values.epochs;
  const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'imgcls-bench-train-'));
  const runs: Run[] = [];
  const details: Record<string, Record<string, unknown> | undefined> = {};
  process.stdout.write(`bench:train  data=${values.data}  epochs=${epochs}  cores=${os.availableParallelism()}  node ${process.version}\n`);
  try {
    for (const entry of values.modes.split(',').filter(Boolean)) {
      const [mode, engine] = entry.split('@');
      const label = engine ? `${mode} on ${engine}` : mode;
      const cache = path.join(tmp, `cache-${entry}`);
      const args = [path.join(repoRoot, 'bin/imgcls.js'), 'train', values.data, '--mode', mode, '--epochs', epochs, '--json', '--quiet', '--cache-dir', cache,
        ...(engine ? ['--train-engine', engine] : [])];
      // cold: empty feature cache (decode + model load + features + training); warm: every feature from the cache
      for (const temperature of values.quick ? ['cold'] : ['cold', 'warm']) {
        const name = `imgcls ${label} (${temperature} cache)`;
        const run = await runTimed(name, process.execPath, [...args, '--out', path.join(tmp, `${entry}-${temperature}`)]);
        runs.push(run);
        const result = lastJson(run.stdout);
        const timings = result?.timings as { trainMs: number } | undefined;
        details[name] = result && {
          engine: result.engine,
          trainEngine: result.trainEngine,
          final: result.final,
          cache: result.cache,
          timings: result.timings,
          trainImagesPerSec: timings ? ((result.trainCount as number) * Number(epochs) * 1000) / timings.trainMs : undefined,
        };
        if (run.code !== 0) process.stdout.write(`${name} failed (exit ${run.code}):\n${run.stderr.slice(-2000)}\n`);
      }
    }
    if (!values['skip-peer']) {
      const run = await runTimed('pytorch peer (efficientnet_b0 fine-tuning)', '/usr/bin/python3',
        [path.join(repoRoot, 'bench/peer_torch_train.py'), '--data', values.data, '--epochs', epochs, ...(values['peer-validate'] ? ['--validate'] : [])],
        { MALLOC_MMAP_MAX_: '0', MALLOC_TRIM_THRESHOLD_: '68719476736' });
      runs.push(run);
      details[run.name] = lastJson(run.stdout);
      if (run.code !== 0) process.stdout.write(`peer failed (exit ${run.code}):\n${run.stderr.slice(-2000)}\n`);
    }
  } finally {
    await fs.rm(tmp, { recursive: true, force: true });
  }

  const peer = runs.find((r) => r.name.startsWith('pytorch') && r.code === 0);
  const width = Math.max(...runs.map((r) => r.name.length));
  process.stdout.write(`\n${'run'.padEnd(width)}  wall s (from process start)  ratio to peer\n`);
  for (const run of runs) {
    const ratio = peer && run !== peer ? `${(run.wallSec / peer.wallSec).toFixed(3)}×` : run === peer ? '1' : 'n/a';
    process.stdout.write(`${run.name.padEnd(width)}  ${run.code === 0 ? run.wallSec.toFixed(2).padStart(8) : '  failed'}                     ${ratio}\n`);
  }
  process.stdout.write(`\ndetails:\n${JSON.stringify(details, null, 2)}\n`);
  const goal = runs.find((r) => r.name === 'imgcls head (cold cache)');
  if (goal && peer) {
    process.stdout.write(`\nhead mode end to end (cold cache) / peer = ${(goal.wallSec / peer.wallSec).toFixed(3)} (goal ≤ 0.25)\n`);
  }
  const peerImagesPerSec = peer ? (details[peer.name]?.train_images_per_s as number | undefined) : undefined;
  for (const run of runs) {
    const speed = details[run.name]?.trainImagesPerSec as number | undefined;
    if (!peer || run === peer || run.code !== 0 || speed === undefined || !/ on /.test(run.name)) continue;
    const line = `${run.name}: training ${speed.toFixed(2)} img/s = ${peerImagesPerSec ? (speed / peerImagesPerSec).toFixed(2) : 'n/a'}× the peer's ${peerImagesPerSec?.toFixed(2) ?? 'n/a'} img/s`;
    const endToEnd = `end to end ${(run.wallSec / peer.wallSec).toFixed(2)}× the peer's time`;
    const goals = /^imgcls full on libtorch \(cold/.test(run.name) ? ' (goals: ≥ 0.8× img/s, ≤ 1× time)' : '';
    process.stdout.write(`${line}; ${endToEnd}${goals}\n`);
  }
  if (runs.some((r) => r.code !== 0)) process.exitCode = 1;
}

await main();
