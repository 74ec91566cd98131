// The lesson notebook, executed for real: Debian's Jupyter (nbconvert) drives the tslab kernel, the
// cells import the built library by its package name. No mocks. Quick mode (IMGCLS_QUICK=1) uses the
// generated sample and few epochs.
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { after, before, test } from 'node:test';

/** This file runs from dist/test/notebook/. */
const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
/** Where the executed notebooks of the last run are kept for inspection (git-ignored). */
const ARTIFACTS: Record<string, string> = {
  en: path.join(REPO_ROOT, 'artifacts', 'notebook', 'image-classification.executed.ipynb'),
  'zh-CN': path.join(REPO_ROOT, 'artifacts', 'notebook', 'image-classification.zh-CN.executed.ipynb'),
};
const PLOTLY_MIME = 'application/vnd.plotly.v1+json';
/** A line of formatDatasetReport's output. */
const REPORT_TEXT = 'Validation images also in train:';

interface NotebookOutput {
  output_type: string;
  name?: string;
  text?: string | string[];
  data?: Record<string, unknown>;
}
interface NotebookCell {
  cell_type: 'code' | 'markdown' | 'raw';
  id?: string;
  source: string | string[];
  metadata: { tags?: string[] } & Record<string, unknown>;
  outputs?: NotebookOutput[];
}
interface Notebook {
  cells: NotebookCell[];
  metadata: { kernelspec?: { name?: string } } & Record<string, unknown>;
  nbformat: number;
  nbformat_minor: number;
}
interface ExecutionResult {
  exitCode: number;
  stderr: string;
  executed?: Notebook;
  problems: string[];
}
/** scripts/notebook-execute.mjs: the same harness `npm run notebook:execute` uses. */
interface NotebookHarness {
  LESSON_NOTEBOOK: string;
  LESSON_NOTEBOOKS: Record<string, string>;
  prepareKernel(): Promise<string>;
  executeNotebook(
    notebook: Notebook,
    options?: { env?: Record<string, string>; jupyterPath?: string; timeoutSeconds?: number; diagnose?: boolean },
  ): Promise<ExecutionResult>;
}

let harness: NotebookHarness;
let jupyterPath: string;
let lesson: Notebook;
const lessons: Record<string, Notebook> = {};

before(async () => {
  harness = (await import(pathToFileURL(path.join(REPO_ROOT, 'scripts', 'notebook-execute.mjs')).href)) as NotebookHarness;
  jupyterPath = await harness.prepareKernel();
  for (const [lang, file] of Object.entries(harness.LESSON_NOTEBOOKS)) lessons[lang] = JSON.parse(await fs.readFile(file, 'utf8')) as Notebook;
  lesson = lessons.en;
});

after(async () => {
  if (jupyterPath) await fs.rm(jupyterPath, { recursive: true, force: true });
});

const sourceOf = (cell: NotebookCell) => (Array.isArray(cell.source) ? cell.source.join('') : cell.source);
const textOf = (value: unknown) => (Array.isArray(value) ? value.join('') : typeof value === 'string' ? value : '');

/** Runs a notebook in quick mode with the kernel registered for this test file. */
function runQuick(notebook: Notebook, options: { diagnose?: boolean } = {}): Promise<ExecutionResult> {
  return harness.executeNotebook(notebook, { env: { IMGCLS_QUICK: '1' }, jupyterPath, ...options });
}

/** What the lesson must show once executed; one message per missing thing (empty when all is there). */
function lessonOutputProblems(executed: Notebook): string[] {
  const outputs = executed.cells.flatMap((cell) => cell.outputs ?? []);
  const text = outputs
    .map((output) => textOf(output.text) + textOf(output.data?.['text/plain']) + textOf(output.data?.['text/html']))
    .join('\n');
  const plotly = outputs.filter((output) => output.data?.[PLOTLY_MIME] !== undefined);
  const pngs = outputs.filter((output) => typeof output.data?.['image/png'] === 'string');
  const problems: string[] = [];
  if (!text.includes(REPORT_TEXT)) problems.push(`no dataset report text ("${REPORT_TEXT}") in any output`);
  // the open-set section's narrow-class check (on the lesson data when it is there, else on the sample)
  const concepts = executed.cells.find((cell) => cell.id === 'open-set-concepts');
  if (!(concepts?.outputs ?? []).some((output) => /ImageNet concepts per class[\s\S]*spread \d\.\d{3}/.test(textOf(output.text)))) {
    problems.push('no narrow-class table (ImageNet concepts per class) in the open-set section');
  }
  if (plotly.length < 3) problems.push(`${plotly.length} plotly figures (${PLOTLY_MIME}), expected at least 3`);
  if (pngs.length < 1) problems.push('no image/png output');
  // the four-class run (section 7): its per-class report and its confusion matrix
  const fourClasses = executed.cells.find((cell) => cell.id === 'four-classes-eval');
  const fourText = (fourClasses?.outputs ?? []).map((output) => textOf(output.text)).join('');
  for (const className of ['chart', 'document', 'logo', 'others']) {
    if (!new RegExp(`^\\s*${className}\\s+\\d\\.\\d\\d`, 'm').test(fourText)) problems.push(`no per-class report row for "${className}" in the four-class run`);
  }
  const fourMatrix = (fourClasses?.outputs ?? []).map((output) => output.data?.[PLOTLY_MIME] as { data?: { z?: number[][] }[] } | undefined).find(Boolean);
  if (fourMatrix?.data?.[0]?.z?.length !== 4) problems.push('no 4 × 4 confusion matrix in the four-class run');
  return problems;
}

/** A copy of the lesson with `line` appended to the first code cell whose source includes `marker`. */
function breakCell(notebook: Notebook, marker: string, line: string): { broken: Notebook; index: number } {
  const broken = structuredClone(notebook);
  const index = broken.cells.findIndex((cell) => cell.cell_type === 'code' && sourceOf(cell).includes(marker));
  assert.ok(index >= 0, `no code cell contains ${marker}`);
  broken.cells[index].source = `${sourceOf(broken.cells[index])}\n${line}\n`;
  return { broken, index };
}

test('the lesson notebook uses the tslab kernel, has train-tagged cells, imports imgcls by package name and names each cell\'s inputs', () => {
  assert.equal(lesson.metadata.kernelspec?.name, 'tslab');
  const code = lesson.cells.filter((cell) => cell.cell_type === 'code');
  assert.ok(code.some((cell) => cell.metadata.tags?.includes('train')), 'some code cell should carry the "train" tag');
  const sources = code.map(sourceOf).join('\n');
  assert.match(sources, /from 'imgcls'/);
  assert.doesNotMatch(sources, /from '\.\.?\//, 'cells import the package, not relative source paths');
  for (const cell of lesson.cells) assert.deepEqual(cell.outputs ?? [], [], 'the committed notebook carries no outputs');
  // no hidden globals: every code cell opens by naming what it takes from earlier cells
  for (const cell of code) assert.match(sourceOf(cell), /^\/\/ Uses: /, `cell ${cell.id} should start with "// Uses: …"`);
});

for (const lang of ['en', 'zh-CN']) {
  test(`the ${lang} lesson notebook runs headless on the tslab kernel (quick mode) and shows the report, plotly figures, a PNG and the four-class run`, async () => {
    const result = await runQuick(lessons[lang], { diagnose: true });
    if (result.executed) {
      const artifact = ARTIFACTS[lang];
      await fs.mkdir(path.dirname(artifact), { recursive: true });
      const partial = `${artifact}.${process.pid}.partial`;
      await fs.writeFile(partial, JSON.stringify(result.executed, null, 1));
      await fs.rename(partial, artifact);
    }
    assert.deepEqual(result.problems, [], `cells failed:\n${result.problems.join('\n')}`);
    assert.equal(result.exitCode, 0);
    assert.ok(result.executed, 'nbconvert should print the executed notebook');
    assert.deepEqual(lessonOutputProblems(result.executed), []);
    if (lang === 'zh-CN') {
      const titles = result.executed.cells.flatMap((cell) => cell.outputs ?? [])
        .map((output) => (output.data?.[PLOTLY_MIME] as { layout?: { title?: { text?: string } } } | undefined)?.layout?.title?.text)
        .filter((title): title is string => typeof title === 'string');
      assert.ok(titles.length >= 3 && titles.every((title) => /[\u4e00-\u9fff]/.test(title)), `figure titles not in Chinese: ${titles.join(' | ')}`);
    }
  });
}

test('the output check fails on a notebook without outputs (the unexecuted lesson)', () => {
  const problems = lessonOutputProblems(lesson);
  assert.equal(problems.length, 9, problems.join('\n'));
});

test('a cell calling an undefined function makes the execution check fail, naming that cell', async () => {
  const { broken } = breakCell(lesson, 'formatDatasetReport', 'deliberatelyUndefinedFunction();');
  const result = await runQuick(broken);
  assert.notEqual(result.exitCode, 0, 'nbconvert should exit non-zero');
  assert.ok(result.problems.length > 0);
  assert.match(result.problems.join('\n'), /deliberatelyUndefinedFunction/, 'the failure should quote the broken cell');
});

test('a type error in a cell makes the execution check fail', async () => {
  const { broken } = breakCell(lesson, 'formatDatasetReport', "const deliberatelyWrong: number = 'not a number';");
  const result = await runQuick(broken);
  assert.notEqual(result.exitCode, 0);
  assert.match(result.problems.join('\n'), /deliberatelyWrong/);
});

test('a cell that throws at run time makes the execution check fail', async () => {
  const { broken } = breakCell(lesson, 'formatDatasetReport', "throw new Error('deliberately broken cell');");
  const result = await runQuick(broken);
  assert.notEqual(result.exitCode, 0);
  assert.match(result.problems.join('\n'), /deliberately broken cell/);
});

test('a cell that only writes to stderr (nbconvert exits 0) still fails the check', async () => {
  // cut the lesson after the broken cell: this failure does not stop nbconvert, and the rest is not needed
  const { broken, index } = breakCell(lesson, 'formatDatasetReport', "console.error('deliberate stderr output');");
  broken.cells = broken.cells.slice(0, index + 1);
  const result = await runQuick(broken);
  assert.equal(result.exitCode, 0, 'tslab does not fail the cell, so nbconvert succeeds');
  assert.match(result.problems.join('\n'), new RegExp(`cell ${index} wrote to stderr: deliberate stderr output`));
});
