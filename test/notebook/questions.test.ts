// Every question the lesson's readers asked has an answer a reader can find in both lesson notebooks:
// its anchor (<a id="q-…">) and the reader's own words, in English and in Chinese.
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const NOTEBOOKS = {
  en: path.join(REPO_ROOT, 'notebooks', 'image-classification.ipynb'),
  'zh-CN': path.join(REPO_ROOT, 'notebooks', 'image-classification.zh-CN.ipynb'),
};

/** The readers' questions (issue 18): the anchor of each answer, and words a reader would search for. */
export const READER_QUESTIONS: readonly { marker: string; en: string; zh: string; code?: string }[] = [
  { marker: 'q-logits', en: 'prints negative numbers', zh: '打印出来是负数', code: 'headLogits' },
  { marker: 'q-class-count', en: 'size mismatch for `_fc.weight`', zh: 'size mismatch', code: "'CLASS_COUNT_MISMATCH'" },
  { marker: 'q-args', en: '`args` is undefined', zh: '`args` 未定义', code: 'resolveTrainConfig' },
  { marker: 'q-batch', en: 'take a batch and not one image', zh: '而不是一张', code: 'largestDifference' },
  { marker: 'q-history', en: 'TensorBoard shows only the last epoch', zh: '只显示最后一轮', code: 'accuracyCurveFigure' },
  { marker: 'q-one-class', en: 'Everything is predicted as one class', zh: '都被预测成同一个类别', code: 'lessonClassifier' },
  { marker: 'q-evaluate', en: 'How do I evaluate after training?', zh: '训练完之后怎么评估' },
  { marker: 'q-confusion-matrix', en: 'There is no confusion matrix', zh: '没有混淆矩阵', code: 'confusionMatrixFigure' },
  { marker: 'q-download', en: 'The pretrained download fails', zh: '预训练权重下载失败', code: 'pretrainedWeightsSource' },
  { marker: 'q-advprop', en: 'What does `_norm_advprop`', zh: '`_norm_advprop`', code: "'advprop'" },
  { marker: 'q-four-classes', en: 'My dataset has 4 classes', zh: '我的数据集有 4 个类别', code: 'numClasses: 4' },
  { marker: 'q-where-images', en: 'Where are the images?', zh: '图片在哪里', code: 'LESSON_DATA' },
  { marker: 'q-device', en: 'CPU/GPU device mismatch', zh: 'CPU/GPU 设备不一致', code: "'doctor'" },
  { marker: 'q-recall', en: 'Recall or precision for finding every poster?', zh: '看召回率还是精确率', code: 'chooseThreshold' },
  { marker: 'q-resize', en: 'How are images resized?', zh: '图片是怎么缩放的', code: "kernel: 'linear'" },
];

interface Cell { cell_type: string; source: string | string[] }
const textOf = (cell: Cell) => (Array.isArray(cell.source) ? cell.source.join('') : cell.source);

async function readLesson(file: string): Promise<{ markdown: string; code: string }> {
  const cells = (JSON.parse(await fs.readFile(file, 'utf8')) as { cells: Cell[] }).cells;
  return {
    markdown: cells.filter((c) => c.cell_type === 'markdown').map(textOf).join('\n'),
    code: cells.filter((c) => c.cell_type === 'code').map(textOf).join('\n'),
  };
}

for (const [lang, file] of Object.entries(NOTEBOOKS)) {
  test(`every reader's question is answered in the ${lang} lesson: its anchor, its words, a link from section 7, and its cell`, async () => {
    const { markdown, code } = await readLesson(file);
    const missing: string[] = [];
    for (const question of READER_QUESTIONS) {
      const words = lang === 'en' ? question.en : question.zh;
      if (!markdown.includes(`<a id="${question.marker}"></a>`)) missing.push(`${question.marker}: no anchor`);
      if (!markdown.includes(`(#${question.marker})`)) missing.push(`${question.marker}: not linked from the questions list`);
      if (!markdown.includes(words)) missing.push(`${question.marker}: the words "${words}" are not in the text`);
      if (question.code && !code.includes(question.code)) missing.push(`${question.marker}: no cell with ${question.code}`);
    }
    assert.deepEqual(missing, []);
  });
}

test('the question check fails on a lesson without one answer', async () => {
  const { markdown } = await readLesson(NOTEBOOKS['zh-CN']);
  const cut = markdown.replace('<a id="q-device"></a>', '');
  assert.ok(!cut.includes('<a id="q-device"></a>') && markdown.includes('<a id="q-device"></a>'));
});
