// The Chinese texts (the lesson, the extension's package.nls.zh-cn.json and l10n bundle) use one standard term
// per concept and Chinese quotation marks, so text added later by anyone reads like the rest.
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const LESSON_ZH = path.join(REPO_ROOT, 'notebooks', 'image-classification.zh-CN.ipynb');
const EXTENSION_ZH = [path.join(REPO_ROOT, 'package.nls.zh-cn.json'), path.join(REPO_ROOT, 'l10n', 'bundle.l10n.zh-cn.json')];

/** Variants we do not use → the term the project uses (the notebook's source header lists the standard terms). */
export const GLOSSARY: readonly { avoid: RegExp; use: string }[] = [
  { avoid: /主干网络/, use: '骨干网络 (backbone)' },
  { avoid: /查全率/, use: '召回率 (recall)' },
  { avoid: /查准率/, use: '精确率 (precision)' },
  { avoid: /校验集|验证组/, use: '验证集 (validation set)' },
  { avoid: /训练组/, use: '训练集 (training set)' },
  { avoid: /过度拟合/, use: '过拟合 (overfitting)' },
  { avoid: /混合矩阵/, use: '混淆矩阵 (confusion matrix)' },
  { avoid: /数据泄露/, use: '数据泄漏 (data leakage)' },
  { avoid: /单元(?!格)/, use: '单元格 (a notebook cell, as Jupyter and the extension say)' },
];

/** The prose of a markdown text: without fenced code, inline code and HTML tags. */
export function proseOf(markdown: string): string {
  return markdown.replace(/```[\s\S]*?```/g, '').replace(/`[^`\n]*`/g, '').replace(/<[^>\n]*>/g, '');
}

/** Problems in one Chinese text: terms to replace, and ASCII double quotes where “” belong. */
export function chineseProblems(name: string, text: string, { prose = true } = {}): string[] {
  const problems: string[] = [];
  const checked = prose ? proseOf(text) : text;
  for (const { avoid, use } of GLOSSARY) {
    const found = checked.match(avoid);
    if (found) problems.push(`${name}: "${found[0]}" → use ${use}`);
  }
  if (prose) {
    for (const line of checked.split('\n')) {
      if (/[\u4e00-\u9fff]/.test(line) && line.includes('"')) problems.push(`${name}: ASCII quotes in Chinese text, use “…”: ${line.trim()}`);
    }
  }
  return problems;
}

interface Cell { cell_type: string; id: string; source: string[] }

test('the Chinese lesson uses the standard terms and Chinese quotation marks', async () => {
  const cells = (JSON.parse(await fs.readFile(LESSON_ZH, 'utf8')) as { cells: Cell[] }).cells;
  const problems = cells.filter((cell) => cell.cell_type === 'markdown').flatMap((cell) => chineseProblems(`cell ${cell.id}`, cell.source.join('')));
  assert.deepEqual(problems, [], 'fix the zh-CN text in notebooks/image-classification.lesson.md, then npm run notebook:build');
});

test("the extension's Chinese strings use the same terms as the lesson", async () => {
  const problems: string[] = [];
  for (const file of EXTENSION_ZH) {
    const strings = JSON.parse(await fs.readFile(file, 'utf8')) as Record<string, string>;
    for (const [key, value] of Object.entries(strings)) problems.push(...chineseProblems(`${path.basename(file)} ${key}`, value, { prose: false }));
  }
  assert.deepEqual(problems, []);
});

test('the Chinese checks fail on a wrong term and on ASCII quotes, and leave code and anchors alone', () => {
  assert.equal(chineseProblems('t', '冻结主干网络，只训练分类头').length, 1);
  assert.equal(chineseProblems('t', '下面的单元打印结果').length, 1);
  assert.equal(chineseProblems('t', '模型学到的是"是不是猫"').length, 1);
  assert.deepEqual(chineseProblems('t', '<a id="q-logits"></a>\n**“预测结果”** 用 `"x"` 和\n```\nconst s = "单元";\n```\n运行下面的单元格'), []);
});
