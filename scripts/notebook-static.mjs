#!/usr/bin/env node
// Gives an executed notebook a static fallback for every plotly figure: the figure rendered to PNG
// offline (plotly.js from node_modules in Debian's Chromium, driven by playwright-core) and stored as
// `image/png` beside `application/vnd.plotly.v1+json`, so that viewers without the plotly renderer
// (nbconvert HTML, a code host's notebook preview) show the chart instead of blank space. Also numbers
// the code cells' execution counts when the kernel left them null.
//
// Usage: node scripts/notebook-static.mjs INPUT [OUTPUT]   (OUTPUT defaults to INPUT, rewritten in place)
import { existsSync, promises as fs } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const PLOTLY_MIME = 'application/vnd.plotly.v1+json';
export const CHROMIUM = process.env.IMGCLS_CHROMIUM ?? '/usr/bin/chromium';
const require = createRequire(import.meta.url);

/** Every display output of a notebook that holds a plotly figure. */
export function plotlyOutputs(notebook) {
  return notebook.cells.flatMap((cell) => cell.outputs ?? []).filter((output) => output.data?.[PLOTLY_MIME] !== undefined);
}

/**
 * Adds `image/png` to each plotly output that lacks it (rendered at the figure's own size, default
 * 700 × 450) and fills null execution counts; returns the number of figures rendered. Changes `notebook`.
 */
export async function addStaticFallback(notebook) {
  let count = 0;
  for (const cell of notebook.cells) {
    if (cell.cell_type !== 'code') continue;
    count++;
    if (cell.execution_count == null) cell.execution_count = count;
    for (const output of cell.outputs ?? []) if (output.output_type === 'execute_result' && output.execution_count == null) output.execution_count = cell.execution_count ?? count;
  }
  const pending = plotlyOutputs(notebook).filter((output) => typeof output.data['image/png'] !== 'string');
  if (pending.length === 0) return 0;
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} not found: run "apt-get install -y chromium" as root (npm run setup does it)`);
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-dev-shm-usage'],
  });
  try {
    const page = await browser.newPage();
    // offline: the page has no URL to fetch from, plotly.js is inlined
    await page.setContent('<!DOCTYPE html><html><body><div id="plot"></div></body></html>');
    await page.addScriptTag({ content: await fs.readFile(require.resolve('plotly.js-dist-min'), 'utf8') });
    for (const output of pending) {
      const figure = output.data[PLOTLY_MIME];
      const dataUrl = await page.evaluate(async (fig) => {
        const width = fig.layout?.width ?? 700;
        const height = fig.layout?.height ?? 450;
        const gd = document.getElementById('plot');
        await window.Plotly.newPlot(gd, fig.data ?? [], { ...fig.layout, width, height }, { staticPlot: true });
        const url = await window.Plotly.toImage(gd, { format: 'png', width, height });
        window.Plotly.purge(gd);
        return url;
      }, figure);
      output.data['image/png'] = dataUrl.replace(/^data:image\/png;base64,/, '');
      output.metadata = { ...output.metadata, 'image/png': { width: figure.layout?.width ?? 700, height: figure.layout?.height ?? 450 } };
    }
  } finally {
    await browser.close();
  }
  return pending.length;
}

async function main(argv) {
  if (argv.length < 1 || argv.length > 2 || argv[0] === '--help' || argv[0] === '-h') {
    console.log('Usage: node scripts/notebook-static.mjs INPUT [OUTPUT]');
    return argv[0] === '--help' || argv[0] === '-h' ? 0 : 2;
  }
  const input = path.resolve(argv[0]);
  const output = path.resolve(argv[1] ?? argv[0]);
  const notebook = JSON.parse(await fs.readFile(input, 'utf8'));
  const rendered = await addStaticFallback(notebook);
  const tmp = `${output}.${process.pid}.tmp`;
  await fs.writeFile(tmp, JSON.stringify(notebook, null, 1) + '\n');
  await fs.rename(tmp, output);
  console.log(`${rendered} plotly figure(s) rendered to PNG; wrote ${path.relative(process.cwd(), output)}`);
  return 0;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).then(
    (code) => { process.exitCode = code; },
    (err) => { console.error(`✖ ${err instanceof Error ? err.message : err}`); process.exitCode = 1; },
  );
}
