// Notebook outputs carry a static fallback: an executed notebook whose cells display plotly figures,
// once through scripts/notebook-static.mjs and rendered to HTML by nbconvert, shows one <img> per figure
// (without the fallback nbconvert's HTML shows none: blank space where the chart should be).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const JUPYTER = process.env.IMGCLS_JUPYTER ?? '/usr/bin/jupyter';
const PLOTLY = 'application/vnd.plotly.v1+json';
/** Written by test/notebook/notebook.test.ts when it executes the lesson (checked too when present). */
const EXECUTED_LESSON = path.join(REPO_ROOT, 'artifacts', 'notebook', 'image-classification.executed.ipynb');

type Output = { output_type: string; data?: Record<string, unknown>; execution_count?: number | null };
type Notebook = { cells: { id?: string; cell_type: string; source: string | string[]; metadata?: object; execution_count?: number | null; outputs?: Output[] }[] } & Record<string, unknown>;

interface StaticScript {
  addStaticFallback(notebook: Notebook): Promise<number>;
  plotlyOutputs(notebook: Notebook): Output[];
}
interface Harness {
  prepareKernel(): Promise<string>;
  executeNotebook(notebook: Notebook, options: { jupyterPath: string; cwd?: string }): Promise<{ executed?: Notebook; problems: string[] }>;
}

/** nbconvert's HTML of a notebook: the number of <img> tags in the outputs. */
async function htmlImages(notebook: Notebook, dir: string, name: string): Promise<{ images: number; html: string }> {
  const file = path.join(dir, `${name}.ipynb`);
  await fs.writeFile(file, JSON.stringify(notebook));
  const result = spawnSync(JUPYTER, ['nbconvert', '--to', 'html', file, '--output-dir', dir], { encoding: 'utf8' });
  assert.equal(result.status, 0, result.stderr);
  const html = await fs.readFile(path.join(dir, `${name}.html`), 'utf8');
  return { images: (html.match(/<img [^>]*src="data:image\/png;base64,/g) ?? []).length, html };
}

describe('notebook static fallback (plotly figures as PNG for nbconvert HTML)', () => {
  let tmp: string;
  let staticScript: StaticScript;
  let executed: Notebook;

  before(async () => {
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'imgcls-static-'));
    staticScript = (await import(pathToFileURL(path.join(REPO_ROOT, 'scripts', 'notebook-static.mjs')).href)) as StaticScript;
    const harness = (await import(pathToFileURL(path.join(REPO_ROOT, 'scripts', 'notebook-execute.mjs')).href)) as Harness;
    // a real tslab run: two cells display figures the way the lesson does (tslab.display.raw), one prints text
    const jupyterPath = await harness.prepareKernel();
    const notebook: Notebook = {
      nbformat: 4, nbformat_minor: 5,
      metadata: { kernelspec: { name: 'tslab', display_name: 'TypeScript', language: 'typescript' } },
      cells: [
        { id: 'loss-chart', cell_type: 'code', execution_count: null, source: `import * as tslab from 'tslab';\nconst PLOTLY = '${PLOTLY}';\ntslab.display.raw(PLOTLY, { data: [{ type: 'scatter', x: [1, 2, 3], y: [0.9, 0.5, 0.2], name: 'loss' }], layout: { title: { text: 'loss' } } } as any);`, metadata: {}, outputs: [] },
        { id: 'text', cell_type: 'code', execution_count: null, source: "console.log('between the charts');", metadata: {}, outputs: [] },
        { id: 'matrix-chart', cell_type: 'code', execution_count: null, source: "tslab.display.raw(PLOTLY, { data: [{ type: 'heatmap', z: [[3, 1], [0, 4]] }], layout: { width: 400, height: 400 } } as any);", metadata: {}, outputs: [] },
      ],
    };
    try {
      const result = await harness.executeNotebook(notebook, { jupyterPath, cwd: tmp });
      assert.deepEqual(result.problems, []);
      executed = result.executed!;
    } finally {
      await fs.rm(jupyterPath, { recursive: true, force: true });
    }
  });
  after(async () => fs.rm(tmp, { recursive: true, force: true }));

  it('without the fallback nbconvert HTML has no image for the charts; with it, one PNG per figure and execution counts set', async () => {
    assert.equal(staticScript.plotlyOutputs(executed).length, 2);
    assert.equal((await htmlImages(executed, tmp, 'plain')).images, 0, 'nbconvert shows nothing for a plotly-only output');

    const withFallback = structuredClone(executed);
    assert.equal(await staticScript.addStaticFallback(withFallback), 2);
    for (const output of staticScript.plotlyOutputs(withFallback)) {
      const png = Buffer.from(output.data!['image/png'] as string, 'base64');
      assert.equal(png.subarray(1, 4).toString('ascii'), 'PNG');
      assert.ok(png.length > 5000, `a drawn chart, not an empty image (${png.length} bytes)`);
      assert.ok(output.data![PLOTLY], 'the interactive figure stays');
    }
    assert.deepEqual(withFallback.cells.map((cell) => cell.execution_count), [1, 2, 3]);
    assert.equal((await htmlImages(withFallback, tmp, 'static')).images, 2);
    assert.equal(await staticScript.addStaticFallback(withFallback), 0, 'idempotent');
  });

  it('the executed lesson (when the notebook test wrote it) shows one image per plotly figure in nbconvert HTML', { skip: !existsSync(EXECUTED_LESSON) && 'no executed lesson in artifacts/' }, async () => {
    const lesson = JSON.parse(await fs.readFile(EXECUTED_LESSON, 'utf8')) as Notebook;
    const figures = staticScript.plotlyOutputs(lesson).length;
    await staticScript.addStaticFallback(lesson);
    const pngsBefore = lesson.cells.flatMap((cell) => cell.outputs ?? []).filter((o) => typeof o.data?.['image/png'] === 'string').length;
    const { images } = await htmlImages(lesson, tmp, 'lesson');
    assert.ok(figures >= 3);
    assert.equal(images, pngsBefore, 'every PNG output (figures included) is an <img> in the HTML');
  });
});
