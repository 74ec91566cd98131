import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Evaluation } from '../eval/evaluate.js';
import type { OpenSetEvaluation } from '../eval/open-set.js';
import type { OpenSetSummary } from '../model/types.js';
import { formatOpenSetThresholds } from '../model/open-set.js';
import { topLosses } from '../eval/top-losses.js';
import type { HistoryPoint } from './history-figures.js';
import { evaluationFigures, type NamedFigure } from './report-figures.js';

/** Options of renderHtmlReport. */
export interface HtmlReportOptions {
  /** Page title. Default 'imgcls evaluation report'. */
  title?: string;
  /** Training history (history.jsonl records): adds the loss and accuracy curves. */
  history?: readonly HistoryPoint[];
  /** Checkpoint path shown in the header. */
  checkpoint?: string;
  /** Data folder shown in the header. */
  data?: string;
  /** Thumbnail bytes (JPEG or PNG) per file for the misclassified images, e.g. from reportThumbnails. */
  thumbnails?: ReadonlyMap<string, Uint8Array>;
  /** Explanation overlays (PNG bytes, e.g. a class activation map) per file, shown beside the thumbnail. */
  overlays?: ReadonlyMap<string, Uint8Array>;
  /** How many misclassified images to list, highest loss first. Default 50. */
  maxImages?: number;
  /** Warnings shown above everything else, e.g. the leak warning when evaluation images are copies of training images. */
  warnings?: readonly string[];
  /** The checkpoint's open-set calibration (undefined: it carries none, and the page says how to add it). */
  openSetSummary?: OpenSetSummary;
  /** Results on images that belong to no class (imgcls report --open-set), with thumbnails of the ones still called a class. */
  openSet?: OpenSetEvaluation;
  /** Time stamp shown in the header. Default: none (the page is then a pure function of its inputs). */
  generatedAt?: Date;
}

let plotlySource: string | undefined;

/** The minified plotly.js bundle shipped in node_modules/plotly.js-dist-min, read once. */
export function plotlyScript(): string {
  if (plotlySource === undefined) {
    const require = createRequire(import.meta.url);
    const text = readFileSync(require.resolve('plotly.js-dist-min'), 'utf8');
    // an inline <script> ends at the first "</script": keep the bundle from closing it early
    plotlySource = text.replace(/<\/script/gi, '<\\/script');
  }
  return plotlySource;
}

/**
 * One self-contained HTML page for an evaluation: summary, classification report, confusion matrix,
 * PR and ROC curves, training curves (with history), the misclassified images with thumbnails and
 * optional explanation overlays, and the skipped files. plotly.js is inlined; nothing is fetched.
 */
export function renderHtmlReport(evaluation: Evaluation, options: HtmlReportOptions = {}): string {
  const title = options.title ?? 'imgcls evaluation report';
  const maxImages = options.maxImages ?? 50;
  const figures = evaluationFigures(evaluation, { history: options.history });
  const div = (figure: NamedFigure): string => `<div class="plot" id="${figure.id}"></div>`;
  const { metrics } = evaluation;
  const threshold = evaluation.threshold;
  const confusionSection = `<div class="row">${figures.filter((f) => f.section === 'confusion').map(div).join('')}</div>`;

  const header: string[] = [];
  if (options.checkpoint) header.push(`checkpoint <code>${escapeHtml(options.checkpoint)}</code>`);
  if (options.data) header.push(`data <code>${escapeHtml(options.data)}</code>`);
  if (options.generatedAt) header.push(`generated ${escapeHtml(options.generatedAt.toISOString())}`);

  const summary = [
    `<li>accuracy <b>${(metrics.accuracy * 100).toFixed(1)}%</b> on ${metrics.support} images</li>`,
    `<li>${evaluation.images.filter((image) => image.predicted !== image.actual).length} misclassified, ${evaluation.skipped.length} unreadable files skipped</li>`,
    threshold
      ? `<li>decision threshold: predict <b>${escapeHtml(threshold.className)}</b> when its probability ≥ ${threshold.value.toFixed(4)}` +
        `${threshold.targetRecall !== undefined ? ` (chosen for recall ≥ ${threshold.targetRecall})` : ''}</li>`
      : '<li>decision: the most probable class</li>',
    ...metrics.notes.map((note) => `<li class="note">${escapeHtml(note)}</li>`),
  ];

  // one row per class: its PR and ROC curves side by side
  const curveSections = evaluation.curves
    .map((curves) => figures.filter((f) => f.section === 'curves' && f.className === curves.className).map(div).join(''))
    .filter((row) => row !== '')
    .map((row) => `<div class="row">${row}</div>`);

  const training = figures.filter((f) => f.section === 'training');
  const historySection = training.length > 0 ? `<h2>Training</h2><div class="row">${training.map(div).join('')}</div>` : '';

  const worst = topLosses(evaluation.images, { k: maxImages });
  const imageRows = worst.map((image) => {
    const thumbnail = options.thumbnails?.get(image.file);
    const overlay = options.overlays?.get(image.file);
    const pictures = [
      thumbnail ? `<img alt="image" src="${dataUri(thumbnail)}">` : '<span class="missing">no preview</span>',
      overlay ? `<img alt="explanation" class="overlay" src="${dataUri(overlay)}">` : '',
    ].join('');
    return (
      `<tr><td class="pictures">${pictures}</td><td><code>${escapeHtml(image.file)}</code></td>` +
      `<td>${escapeHtml(image.actualClass)}</td><td>${escapeHtml(image.predictedClass)}</td>` +
      `<td>${image.probability.toFixed(3)}</td><td>${image.actualProbability.toFixed(3)}</td><td>${image.loss.toFixed(3)}</td></tr>`
    );
  });
  const misclassifiedCount = evaluation.images.filter((image) => image.predicted !== image.actual).length;
  const imagesSection =
    worst.length > 0
      ? `<h2>Misclassified images (top losses${misclassifiedCount > worst.length ? `, ${worst.length} of ${misclassifiedCount}` : ''})</h2>` +
        '<table class="images"><thead><tr><th></th><th>file</th><th>actual</th><th>predicted</th><th>p(predicted)</th><th>p(actual)</th><th>loss</th></tr></thead>' +
        `<tbody>${imageRows.join('\n')}</tbody></table>`
      : '<h2>Misclassified images</h2><p>None: every image was classified correctly.</p>';
  const skippedSection =
    evaluation.skipped.length > 0
      ? `<h2>Skipped files</h2><ul>${evaluation.skipped.map((s) => `<li><code>${escapeHtml(s.file)}</code>: ${escapeHtml(s.reason)}</li>`).join('')}</ul>`
      : '';

  const body = [
    `<h1>${escapeHtml(title)}</h1>`,
    header.length > 0 ? `<p class="meta">${header.join(' · ')}</p>` : '',
    ...(options.warnings ?? []).map((warning) => `<p class="warning">⚠ ${escapeHtml(warning)}</p>`),
    `<ul class="summary">${summary.join('')}</ul>`,
    '<h2>Classification report</h2>',
    `<pre class="report">${escapeHtml(evaluation.report)}</pre>`,
    confusionSection,
    curveSections.length > 0 ? `<h2>Curves (one class against the rest)</h2>${curveSections.join('')}` : '',
    historySection,
    openSetSection(options),
    imagesSection,
    skippedSection,
  ].join('\n');

  const figureJson = JSON.stringify(figures.map(({ id, figure }) => ({ id, figure }))).replace(/</g, '\\u003c');
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>
body { font-family: system-ui, sans-serif; margin: 2rem; color: #222; }
.meta { color: #666; }
.row { display: flex; flex-wrap: wrap; gap: 1rem; }
.plot { width: 560px; height: 440px; }
pre.report { background: #f6f8fa; padding: 1rem; display: inline-block; }
table.images { border-collapse: collapse; }
table.images td, table.images th { border-bottom: 1px solid #ddd; padding: 0.3rem 0.6rem; text-align: left; vertical-align: middle; }
td.pictures { white-space: nowrap; }
/* image and explanation overlay in the same 160 px box, whatever their pixel size */
td.pictures img { width: 160px; height: 160px; object-fit: contain; margin-right: 0.3rem; vertical-align: middle; }
.warning { background: #fff4e5; border-left: 4px solid #e67e22; padding: 0.5rem 0.8rem; max-width: 60rem; }
.missing, .note { color: #888; }
</style>
</head>
<body>
${body}
<script>${plotlyScript()}</script>
<script type="application/json" id="imgcls-figures">${figureJson}</script>
<script>
for (const { id, figure } of JSON.parse(document.getElementById('imgcls-figures').textContent)) {
  Plotly.newPlot(id, figure.data, figure.layout, { responsive: true, displaylogo: false });
}
</script>
</body>
</html>
`;
}

/** The "Unlike the training data" section: the verdict's calibration, and open-set results when measured. */
function openSetSection(options: HtmlReportOptions): string {
  const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
  const summary = options.openSetSummary;
  const parts = ['<h2>Unlike the training data (open-set verdict)</h2>'];
  if (!summary) {
    parts.push('<p class="note">This checkpoint carries no open-set data: every image gets a class, however unlike the training data it is. ' +
      'Add it with <code>imgcls calibrate &lt;checkpoint&gt; &lt;dataset&gt;</code>.</p>');
    return parts.join('');
  }
  parts.push(`<p>An image whose distance to the nearest of the ${summary.storedImages} stored training images (of ${summary.trainCount})` +
    `${summary.classThresholds ? ' of its predicted class' : ''} is above <b>${escapeHtml(formatOpenSetThresholds(summary, 4))}</b> is reported as unknown: its class is not to be trusted. ` +
    'If such images should get a class, add varied examples of them to the class folders and retrain.</p>');
  const result = options.openSet;
  if (result) {
    const names = Object.keys(result.calledAfter);
    parts.push(`<ul class="summary"><li>${result.outCount} open-set images against ${result.inCount} evaluated images: AUROC <b>${result.auroc.toFixed(3)}</b>, ` +
      `false-positive rate at 95% true-positive rate ${pct(result.fprAt95Tpr)}</li>` +
      `<li>the stored threshold flags ${pct(result.outFlagged)} of the open-set images and ${pct(result.inFlagged)} of the evaluated ones</li>` +
      (result.inCopies > 0.5 ? `<li class="note">${pct(result.inCopies)} of the evaluated images are copies of training images: these figures are optimistic</li>` : '') +
      '</ul>');
    parts.push('<table class="images"><thead><tr><th>called</th><th>probability alone</th><th>with the verdict</th></tr></thead><tbody>' +
      names.map((name) => `<tr><td>${escapeHtml(name)}</td><td>${pct(result.calledBefore[name] ?? 0)}</td><td>${pct(result.calledAfter[name])}</td></tr>`).join('') +
      '</tbody></table>');
    const passed = result.images.filter((image) => !image.verdict.unfamiliar);
    if (passed.length > 0) {
      parts.push(`<h3>Open-set images that still get a class (${passed.length})</h3><table class="images"><thead><tr><th></th><th>file</th><th>called</th><th>p</th><th>score</th><th>nearest training image</th></tr></thead><tbody>` +
        passed.map((image) => {
          const thumbnail = options.thumbnails?.get(image.file);
          const nearest = image.verdict.nearest[0];
          return `<tr><td class="pictures">${thumbnail ? `<img alt="image" src="${dataUri(thumbnail)}">` : '<span class="missing">no preview</span>'}</td>` +
            `<td><code>${escapeHtml(image.file)}</code></td><td>${escapeHtml(image.predicted)}</td><td>${image.probability.toFixed(3)}</td>` +
            `<td>${image.verdict.score.toFixed(3)}</td><td>${nearest ? `${escapeHtml(nearest.className)} <code>${escapeHtml(nearest.file)}</code>` : ''}</td></tr>`;
        }).join('\n') + '</tbody></table>');
    }
  }
  return parts.join('');
}

/** A data: URI of PNG or JPEG bytes (sniffed from the magic number). */
export function dataUri(bytes: Uint8Array): string {
  const isPng = bytes[0] === 0x89 && bytes[1] === 0x50 && bytes[2] === 0x4e && bytes[3] === 0x47;
  const isJpeg = bytes[0] === 0xff && bytes[1] === 0xd8;
  const mime = isPng ? 'image/png' : isJpeg ? 'image/jpeg' : 'application/octet-stream';
  return `data:${mime};base64,${Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64')}`;
}

function escapeHtml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}
