import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { chromium } from 'playwright-core';
import { evaluationFromProbabilities } from '../../src/eval/index.js';
import { renderHtmlReport, reportThumbnails, type HistoryPoint } from '../../src/plots/index.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const lessonTrain = path.resolve(repoRoot, '../shared/lesson-data/train');
const LOGO = path.join(lessonTrain, 'logo', '06.jpeg');
const OTHERS_FILE = path.join(lessonTrain, 'logo', '07.jpg');
const MISSING = path.join(lessonTrain, 'logo', 'no-such-file.jpg');

const HISTORY: HistoryPoint[] = [
  { type: 'step', epoch: 1, step: 1, steps: 1, loss: 0.9, accuracy: 0.5 },
  { type: 'epoch', epoch: 1, loss: 0.9, accuracy: 0.5, val_loss: 0.7, val_accuracy: 0.6 },
];

async function sampleReport(): Promise<{ html: string; misclassified: string[] }> {
  // 4 images: 06 right, 07 and the missing file misclassified (the missing one has no thumbnail)
  const files = [LOGO, OTHERS_FILE, MISSING, LOGO];
  const evaluation = evaluationFromProbabilities({
    classNames: ['logo', 'others'],
    files,
    labels: [0, 0, 0, 1],
    probabilities: [0.9, 0.1, 0.3, 0.7, 0.25, 0.75, 0.2, 0.8],
    skipped: [{ file: '/data/broken <1>.jpg', reason: 'IMAGE_TRUNCATED: cut short' }],
    threshold: { className: 'logo', value: 0.35, targetRecall: 0.5 },
  });
  const misclassified = evaluation.images.filter((image) => image.predicted !== image.actual).map((image) => image.file);
  const thumbnails = await reportThumbnails(files);
  assert.equal(thumbnails.has(MISSING), false);
  assert.equal(thumbnails.has(OTHERS_FILE), true);
  const overlay = await sharp({ create: { width: 8, height: 8, channels: 3, background: { r: 255, g: 0, b: 0 } } }).png().toBuffer();
  const html = renderHtmlReport(evaluation, {
    history: HISTORY,
    thumbnails,
    overlays: new Map([[OTHERS_FILE, overlay]]),
    checkpoint: '/runs/x/best.imgcls',
  });
  return { html, misclassified };
}

test('the HTML report is one self-contained page: plotly inlined, images as data: URIs, nothing remote', async () => {
  const { html } = await sampleReport();
  // our own markup: everything but the inlined plotly.js bundle (whose code mentions URLs in strings)
  const scripts = [...html.matchAll(/<script[^>]*>/g)].map((m) => m[0]);
  assert.deepEqual(scripts, ['<script>', '<script type="application/json" id="imgcls-figures">', '<script>']);
  const markup = html.replace(/<script>[\s\S]*?<\/script>/g, '');
  assert.ok(!/(src|href)="(https?:)?\/\//i.test(markup), 'no remote src or href');
  assert.ok(!/<link/i.test(markup), 'no stylesheet links');
  assert.ok(html.includes('var Plotly=') && html.length > 3_000_000, 'plotly.js is inlined');
  assert.ok(/src="data:image\/jpeg;base64,/.test(html), String(/src="data:image\/jpeg;base64,/));
  assert.ok(/class="overlay" src="data:image\/png;base64,/.test(html), String(/class="overlay" src="data:image\/png;base64,/));
  assert.ok(/no preview/.test(html), String(/no preview/));
  // report text and file names are escaped
  assert.ok(/precision {4}recall {2}f1-score {3}support/.test(html), String(/precision {4}recall {2}f1-score {3}support/));
  assert.ok(/\/data\/broken &lt;1&gt;\.jpg/.test(html), String(/\/data\/broken &lt;1&gt;\.jpg/));
  assert.ok(/probability ≥ 0\.3500/.test(html), String(/probability ≥ 0\.3500/));
  const figures = JSON.parse(html.match(/<script type="application\/json" id="imgcls-figures">(.*?)<\/script>/s)![1]);
  assert.deepEqual(
    figures.map((f: { id: string }) => f.id),
    ['confusion', 'pr-0', 'roc-0', 'pr-1', 'roc-1', 'loss', 'accuracy'],
  );
});

test('the HTML report renders every plot in Chromium without a network request', { timeout: 120_000 }, async () => {
  const { html, misclassified } = await sampleReport();
  const dir = await mkdtemp(path.join(os.tmpdir(), 'imgcls-report-'));
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update'],
  });
  try {
    const file = path.join(dir, 'report.html');
    await writeFile(file, html);
    const page = await browser.newPage();
    const remote: string[] = [];
    await page.route('**/*', (route) => {
      const url = route.request().url();
      if (url.startsWith('file:') || url.startsWith('data:')) return route.continue();
      remote.push(url);
      return route.abort();
    });
    const errors: string[] = [];
    page.on('pageerror', (err) => errors.push(err.message));
    await page.goto(`file://${file}`);
    await page.waitForFunction("document.querySelectorAll('.plot .main-svg').length >= 7", undefined, { timeout: 60_000 });
    assert.deepEqual(errors, []);
    assert.deepEqual(remote, []);
    // the confusion matrix cells carry their counts: actual logo → [1 right, 2 wrong], others → [0, 1]
    const cellTexts = await page.locator('#confusion g.heatmap-label text').allTextContents();
    assert.deepEqual(cellTexts, ['1', '2', '0', '1']);
    const rows = await page.locator('table.images tbody tr').count();
    assert.equal(rows, misclassified.length);
  } finally {
    await browser.close();
    await rm(dir, { recursive: true, force: true });
  }
});
