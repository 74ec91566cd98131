// Packs imgcls with `npm pack` and installs the tarball into an empty temporary project, the way a user
// adds the library: only the npm registry (or its cache), none of this repository's npm settings.
// Shared by the packaging tests and by anything that must run against the installed package.
import { execFile, spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

/** The repository root (this file runs from dist/test/packaging/). */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

/** The npm that ships with Node 20 (run through npx), and the newest npm (the one on PATH). */
export const NODE20_NPM = ['npx', '-y', 'npm@10.8.2'];
export const NEWEST_NPM = ['npm'];

/** The repository's pinned version of a package (dependencies or devDependencies). */
export async function pinnedVersion(name: string): Promise<string> {
  const pkg = JSON.parse(await fs.readFile(path.join(REPO_ROOT, 'package.json'), 'utf8')) as Record<string, Record<string, string>>;
  const version = pkg.dependencies[name] ?? pkg.devDependencies[name] ?? pkg.peerDependencies?.[name];
  if (!version) throw new Error(`${name} is not pinned in package.json`);
  return version;
}

/**
 * The environment of a user's shell: without the npm_* variables `npm test` sets (they carry this
 * repository's .npmrc, e.g. onnxruntime-node-install=skip, which an installing user does not have).
 */
export function userEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) if (!/^npm_/i.test(key)) env[key] = value;
  return { ...env, ...extra };
}

/** The output of a finished command. */
export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
  durationMs: number;
}

/** Runs a command to completion (never throws on a non-zero exit). */
export function runCommand(command: string, args: string[], options: { cwd: string; env?: NodeJS.ProcessEnv; timeoutMs?: number }): Promise<CommandResult> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: options.cwd, env: options.env ?? userEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 15 * 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr, durationMs: Date.now() - started });
    });
  });
}

/** `npm pack` of the built repository (run `npm run build` first) into `destDir`; returns the tarball's path. */
export async function packTarball(destDir: string): Promise<string> {
  // --ignore-scripts: the build already ran (prepack would run it again)
  const { stdout } = await promisify(execFile)('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', destDir],
    { cwd: REPO_ROOT, env: userEnv(), maxBuffer: 64 << 20 });
  const [{ filename }] = JSON.parse(stdout) as { filename: string }[];
  return path.join(destDir, filename);
}

/** A temporary project with imgcls installed from a tarball. */
export interface InstalledProject {
  /** The project folder (has package.json and node_modules/imgcls). */
  dir: string;
  /** The `npm install` that installed it. */
  install: CommandResult;
  /** Runs `npx imgcls ...args` in the project. */
  imgcls(args: string[], env?: Record<string, string>): Promise<CommandResult>;
  /** Removes the project folder. */
  cleanup(): Promise<void>;
}

/**
 * Creates an empty project in a temporary folder and runs `<npm> install <tarball> ...packages` there
 * (prefer-offline: the npm cache first, the registry for what it lacks). Returns even when the install
 * failed: check `install.code`.
 */
export async function installTarball(tarball: string, options: { npm?: string[]; packages?: string[]; npmArgs?: string[] } = {}): Promise<InstalledProject> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'imgcls-installed-'));
  await fs.writeFile(path.join(dir, 'package.json'), `${JSON.stringify({ name: 'imgcls-user', version: '1.0.0', private: true, type: 'module' }, null, 2)}\n`);
  const [command, ...prefix] = options.npm ?? NEWEST_NPM;
  const install = await runCommand(command, [...prefix, 'install', tarball, ...(options.packages ?? []), '--prefer-offline', '--no-audit',
    '--no-fund', ...(options.npmArgs ?? [])], { cwd: dir });
  return {
    dir,
    install,
    imgcls: (args, env = {}) => runCommand('npx', ['--no-install', 'imgcls', ...args], { cwd: dir, env: userEnv(env) }),
    cleanup: () => fs.rm(dir, { recursive: true, force: true }),
  };
}
