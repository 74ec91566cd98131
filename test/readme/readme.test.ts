// The README's tour runs as pasted: its marked shell blocks (line by line) and its TypeScript example run
// in a temporary project where the packed imgcls is installed, the TypeScript compiled with the settings
// the README states. A README line that stops working fails this test.
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { NEWEST_NPM, REPO_ROOT, installTarball, packTarball, pinnedVersion, runCommand, userEnv, type InstalledProject } from '../packaging/install.js';

const TIMEOUT_MS = 20 * 60_000;

/** One block the README marks for this test: `<!-- readme-test: shell -->` or `<!-- readme-test: ts <file> -->` before a fenced block. */
export interface ReadmeBlock {
  kind: 'shell' | 'ts';
  /** For 'ts': the file name the README tells the reader to save it as. */
  file?: string;
  /** The block's lines (shell: commands without comments and blank lines). */
  lines: string[];
  /** 1-based line of the README where the block starts. */
  line: number;
}

/** The marked blocks of a README, in order. */
export function readmeBlocks(markdown: string): ReadmeBlock[] {
  const blocks: ReadmeBlock[] = [];
  const marker = /<!-- readme-test: (shell|ts)(?: (\S+))? -->\n```(\w+)\n([\s\S]*?)\n```/g;
  for (const match of markdown.matchAll(marker)) {
    const kind = match[1] as 'shell' | 'ts';
    const line = markdown.slice(0, match.index).split('\n').length + 2;
    const body = match[4].split('\n');
    const lines = kind === 'shell' ? body.map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#')) : body;
    blocks.push({ kind, ...(match[2] ? { file: match[2] } : {}), lines, line });
  }
  return blocks;
}

describe('README: the tour runs as pasted against the installed package', () => {
  let packDir: string;
  let project: InstalledProject;

  before(async () => {
    packDir = await fs.mkdtemp(path.join(os.tmpdir(), 'imgcls-readme-pack-'));
    const tarball = await packTarball(packDir);
    const packages = [`onnxruntime-node@${await pinnedVersion('onnxruntime-node')}`, `typescript@${await pinnedVersion('typescript')}`,
      `@types/node@${await pinnedVersion('@types/node')}`];
    project = await installTarball(tarball, { npm: NEWEST_NPM, packages, npmArgs: ['--onnxruntime-node-install=skip'] });
    assert.equal(project.install.code, 0, `npm install failed:\n${project.install.stdout}\n${project.install.stderr}`);
  }, { timeout: TIMEOUT_MS });

  after(async () => {
    await project?.cleanup();
    if (packDir) await fs.rm(packDir, { recursive: true, force: true });
  });

  it('finds the marked blocks: the tour, the TypeScript example and its compile-and-run lines', async () => {
    const blocks = readmeBlocks(await fs.readFile(path.join(REPO_ROOT, 'README.md'), 'utf8'));
    assert.deepEqual(blocks.map((b) => b.kind), ['shell', 'ts', 'shell']);
    assert.ok(blocks[0].lines.every((line) => line.startsWith('npx imgcls ')), 'the tour calls the installed CLI');
    assert.ok(blocks[0].lines.length >= 8);
  });

  it('runs every line of every marked block, writing only under sample-data/ and runs/', { timeout: TIMEOUT_MS }, async (t) => {
    const blocks = readmeBlocks(await fs.readFile(path.join(REPO_ROOT, 'README.md'), 'utf8'));
    const before = new Set(await fs.readdir(project.dir));
    const written = new Set<string>();
    for (const block of blocks) {
      if (block.kind === 'ts') {
        await fs.writeFile(path.join(project.dir, block.file!), `${block.lines.join('\n')}\n`);
        written.add(block.file!);
        continue;
      }
      for (const [i, line] of block.lines.entries()) {
        const result = await runCommand('bash', ['-o', 'pipefail', '-c', line], { cwd: project.dir, env: userEnv({ IMGCLS_CACHE: path.join(project.dir, 'runs', '.cache') }) });
        t.diagnostic(`README line ${block.line + i}: ${(result.durationMs / 1000).toFixed(1)} s  ${line.slice(0, 80)}`);
        assert.equal(result.code, 0, `README.md line ~${block.line + i} failed as pasted:\n$ ${line}\n${result.stdout}\n${result.stderr}`);
        if (line.startsWith('npx tsc ')) written.add(`${block.lines.find((l) => l.startsWith('node '))?.split(' ')[1]}`);
      }
    }
    const created = (await fs.readdir(project.dir)).filter((name) => !before.has(name) && !written.has(name));
    assert.deepEqual(created.sort(), ['runs', 'sample-data'], 'the tour writes only under sample-data/ and runs/');
    for (const file of ['report.html', 'overlay.png', 'classifier.onnx', 'predictions.csv']) await fs.access(path.join(project.dir, 'runs', 'tour', file));
    const csv = await fs.readFile(path.join(project.dir, 'runs', 'tour', 'predictions.csv'), 'utf8');
    assert.match(csv.split("\n")[0], /^file,predicted,probability,logo,others,/);
  });
});
