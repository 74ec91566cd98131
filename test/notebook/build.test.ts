// The two lesson notebooks come from one source (notebooks/image-classification.lesson.md) through
// scripts/notebook-build.mjs: the committed files must be exactly its output, and their code cells can
// differ only in the «English ‖ 中文» strings the source marks.
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { before, test } from 'node:test';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

interface Cell { cell_type: string; id: string; source: string[]; metadata: Record<string, unknown> }
interface Notebook { cells: Cell[]; metadata: Record<string, unknown> }
interface LessonCell { type: 'markdown' | 'code'; id: string; code?: string; text?: Record<string, string> }
interface Builder {
  LESSON_SOURCE: string;
  LESSON_LANGUAGES: Record<string, string>;
  parseLessonSource(text: string): LessonCell[];
  buildNotebook(cells: LessonCell[], lang: string): Notebook;
  localizeCode(code: string, lang: string): string;
  codeSkeleton(code: string): string;
  staleNotebooks(sourceText?: string): Promise<string[]>;
}

let builder: Builder;
let source: string;
before(async () => {
  builder = (await import(pathToFileURL(path.join(REPO_ROOT, 'scripts', 'notebook-build.mjs')).href)) as Builder;
  source = await fs.readFile(builder.LESSON_SOURCE, 'utf8');
});

const joined = (cell: Cell) => cell.source.join('');

test('the committed lesson notebooks are exactly what npm run notebook:build writes from the source', async () => {
  assert.deepEqual(await builder.staleNotebooks(), [], 'run npm run notebook:build and commit the notebooks');
});

test('the check fails when the source changes and the notebooks are not rebuilt', async () => {
  const edited = source.replace('console.table(imgcls.EFFICIENTNET_B0_BLOCKS);', 'console.table(imgcls.EFFICIENTNET_B0_BLOCKS.slice(0, 1));');
  assert.notEqual(edited, source);
  assert.deepEqual(await builder.staleNotebooks(edited), ['notebooks/image-classification.ipynb', 'notebooks/image-classification.zh-CN.ipynb']);
});

test('English and Chinese lessons have the same cells in the same order, the same code up to the marked strings, and different prose', async () => {
  const [en, zh] = await Promise.all(Object.values(builder.LESSON_LANGUAGES).map(async (file) => JSON.parse(await fs.readFile(file, 'utf8')) as Notebook));
  assert.deepEqual(zh.cells.map((c) => [c.cell_type, c.id, c.metadata]), en.cells.map((c) => [c.cell_type, c.id, c.metadata]));
  const cells = builder.parseLessonSource(source);
  let localized = 0;
  en.cells.forEach((cell, i) => {
    if (cell.cell_type === 'code') {
      const template = cells[i].code!;
      assert.equal(joined(cell), builder.localizeCode(template, 'en'));
      assert.equal(joined(zh.cells[i]), builder.localizeCode(template, 'zh-CN'));
      if (joined(cell) !== joined(zh.cells[i])) localized++;
    } else {
      assert.notEqual(joined(zh.cells[i]), joined(cell), `markdown cell ${cell.id} is not translated`);
      assert.match(joined(zh.cells[i]), /[\u4e00-\u9fff]/, `markdown cell ${cell.id} has no Chinese`);
    }
  });
  assert.ok(localized >= 4, `only ${localized} code cells carry Chinese figure titles`);
  // the Chinese figure titles are in the Chinese notebook only
  assert.match(en.cells.map(joined).join(''), /'Confusion matrix'/);
  assert.match(zh.cells.map(joined).join(''), /'混淆矩阵'/);
});

test('a Chinese code cell edited by hand (not through the source) is caught', async () => {
  const zhFile = builder.LESSON_LANGUAGES['zh-CN'];
  const notebook = JSON.parse(await fs.readFile(zhFile, 'utf8')) as Notebook;
  const cell = notebook.cells.find((c) => c.cell_type === 'code')!;
  cell.source = [...cell.source, '\nconsole.log(1);'];
  const built = builder.buildNotebook(builder.parseLessonSource(source), 'zh-CN');
  assert.notDeepEqual(notebook, built);
  assert.deepEqual(JSON.parse(JSON.stringify(built)), JSON.parse(await fs.readFile(zhFile, 'utf8')));
});

test('the source parser names the line of a mistake: a markdown cell without Chinese, an unknown directive', () => {
  assert.throws(() => builder.parseLessonSource('%% markdown id=a\n%% en\nHello\n'), /:1: markdown cell "a" has no zh-CN text/);
  assert.throws(() => builder.parseLessonSource('%% code id=a\nx\n%% codes id=b\n'), /:3: unknown directive/);
  assert.throws(() => builder.parseLessonSource('%% code id=a\nx\n%% code id=a\ny\n'), /duplicate cell id "a"/);
  assert.equal(builder.localizeCode("t('«Loss ‖ 损失»')", 'zh-CN'), "t('损失')");
  assert.equal(builder.codeSkeleton("t('«Loss ‖ 损失»')"), "t('«…»')");
});
