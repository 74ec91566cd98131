// Extension-host API tests, run by VS Code through extensionTestsPath (see test/extension/vscode.test.ts).
// The workspace is prepared by the driver: images/, images/corrupt.jpg, dataset/, runs/seed/history.jsonl,
// notebooks/image-classification.ipynb and a trained checkpoint selected in .vscode/settings.json.
import * as assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { trainCellRanges } from '../../src/commands/run-training-cells.js';
import type { FileClassification } from '../../src/worker/protocol.js';

interface TestCase {
  name: string;
  body: () => Promise<void>;
}

const tests: TestCase[] = [];
const untrustedTests: TestCase[] = [];
function test(name: string, body: () => Promise<void>): void {
  tests.push({ name, body });
}
/** A test that runs only when the workspace is opened in Restricted Mode (the driver's second code-server). */
function untrustedTest(name: string, body: () => Promise<void>): void {
  untrustedTests.push({ name, body });
}

/** The probes activate() returns (see ImgclsTestApi in extension/src/extension.ts). */
interface TestApi {
  workers(): { inference: boolean; training: boolean };
  lastClassifyTimings(): Record<string, number> | undefined;
  dataset(): Promise<{ classes: { className: string; counts: Record<string, number> }[]; problems: string[] }>;
}

async function api(): Promise<TestApi> {
  const extension = vscode.extensions.getExtension<TestApi>('imgcls.imgcls');
  assert.ok(extension, 'extension imgcls.imgcls is installed');
  return extension.activate();
}

/** Top-class probability minus the runner-up's. */
function margin(result: FileClassification): number {
  const [first, second] = result.predictions ?? [];
  return (first?.probability ?? 0) - (second?.probability ?? 0);
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 300));
  }
}

function workspace(): string {
  const folder = vscode.workspace.workspaceFolders?.[0];
  assert.ok(folder, 'a workspace folder is open');
  return folder.uri.fsPath;
}

/** Waits until a webview tab of the given view type is open (the tab model syncs from the renderer a little later). */
async function waitForWebviewTab(viewType: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const tabs = vscode.window.tabGroups.all.flatMap((group) => group.tabs);
    if (tabs.some((tab) => tab.input instanceof vscode.TabInputWebview && tab.input.viewType.endsWith(viewType))) return;
    if (Date.now() > deadline) assert.fail(`no ${viewType} tab among: ${tabs.map((t) => t.label).join(', ')}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

async function readExpected(): Promise<{ classNames: string[]; wrongChart: string; leak: { valid: string; train: string } }> {
  return JSON.parse(await fs.readFile(path.join(workspace(), 'expected.json'), 'utf8'));
}

test('the extension activates and registers its six commands', async () => {
  const extension = vscode.extensions.getExtension('imgcls.imgcls');
  assert.ok(extension, 'extension imgcls.imgcls is installed');
  await extension.activate();
  const commands = await vscode.commands.getCommands(true);
  for (const id of ['imgcls.classify', 'imgcls.trainModel', 'imgcls.runTrainingCells', 'imgcls.showTrainingPlots', 'imgcls.evaluateModel', 'imgcls.selectModel']) {
    assert.ok(commands.includes(id), `${id} is registered`);
  }
});

test('settings carry the documented defaults', async () => {
  const config = vscode.workspace.getConfiguration('imgcls');
  assert.equal(config.inspect('epochs')?.defaultValue, 10);
  assert.equal(config.inspect('batchSize')?.defaultValue, 10);
  assert.equal(config.inspect('trainingMode')?.defaultValue, 'head');
  assert.equal(config.inspect('learningRate')?.defaultValue, 0.001);
  assert.equal(config.inspect('outputFolder')?.defaultValue, 'runs');
});

test('Classify on one image returns a class of the checkpoint with a probability', async () => {
  const { classNames } = await readExpected();
  const uri = vscode.Uri.file(path.join(workspace(), 'images', 'logo-1.jpg'));
  const results = (await vscode.commands.executeCommand('imgcls.classify', uri, [uri])) as FileClassification[];
  assert.equal(results.length, 1);
  const [top] = results[0].predictions ?? [];
  assert.ok(top, `a prediction: ${JSON.stringify(results[0].error)}`);
  assert.ok(classNames.includes(top.className));
  assert.ok(top.probability > 0 && top.probability <= 1);
  assert.match(results[0].overlay ?? '', /^data:image\/png;base64,/, 'a heat-map overlay beside the result');
});

test('Classify from the editor title classifies the image open in the active editor', async () => {
  const uri = vscode.Uri.file(path.join(workspace(), 'images', 'others-1.jpg'));
  await vscode.commands.executeCommand('vscode.open', uri);
  const results = (await vscode.commands.executeCommand('imgcls.classify')) as FileClassification[];
  assert.deepEqual(results.map((r) => path.basename(r.file)), ['others-1.jpg']);
  assert.ok(results[0].predictions?.length, 'classified');
  await vscode.commands.executeCommand('workbench.action.closeActiveEditor');
});

test('Classify on a folder lists the least sure first (lowest margin) and records its timings', async () => {
  const uri = vscode.Uri.file(path.join(workspace(), 'charts'));
  const results = (await vscode.commands.executeCommand('imgcls.classify', uri, [uri])) as FileClassification[];
  assert.equal(results.length, (await fs.readdir(uri.fsPath)).length);
  const margins = results.map(margin);
  for (let i = 1; i < margins.length; i++) assert.ok(margins[i - 1] <= margins[i] + 1e-9, `margins in order: ${margins.join(', ')}`);
  const timings = (await api()).lastClassifyTimings();
  assert.ok(timings && timings.totalMs > 0 && timings.classifyMs > 0, JSON.stringify(timings));
});

test('the Dataset view lists classes with counts, shows the leak as Problems, and follows added and removed files', async () => {
  const { leak } = await readExpected();
  const probe = await api();
  const first = await probe.dataset();
  const others = () => first.classes.find((c) => c.className === 'others')?.counts.train ?? -1;
  assert.deepEqual(first.classes.map((c) => c.className), ['logo', 'others']);
  assert.ok(others() > 0, JSON.stringify(first.classes));
  assert.ok(first.problems.includes(leak.valid) && first.problems.includes(leak.train), `leak files among ${first.problems.join(', ')}`);
  const diagnostics = vscode.languages.getDiagnostics(vscode.Uri.file(leak.valid));
  assert.ok(diagnostics.some((d) => d.source === 'imgcls' && d.code === 'leak' && /Leak/.test(d.message)), JSON.stringify(diagnostics));
  // Add to class copies into dataset/train/others; the watcher refreshes the view
  const chart = vscode.Uri.file(path.join(workspace(), 'charts', 'chart-3.jpg'));
  const added = (await vscode.commands.executeCommand('imgcls.addToClass', chart, 'others')) as { file: string } | undefined;
  assert.ok(added, 'added');
  assert.equal(path.dirname(added.file), path.join(workspace(), 'dataset', 'train', 'others'));
  await until('the view to count the added file', async () => {
    const now = await probe.dataset();
    return now.classes.find((c) => c.className === 'others')?.counts.train === others() + 1 ? true : undefined;
  });
  await fs.rm(added.file);
  await until('the view to drop the removed file', async () => {
    const now = await probe.dataset();
    return now.classes.find((c) => c.className === 'others')?.counts.train === others() ? true : undefined;
  });
});

test('Evaluate Model reports metrics with a confusion matrix and a precision-recall curve per class', async () => {
  const { classNames } = await readExpected();
  const result = (await vscode.commands.executeCommand('imgcls.evaluateModel', vscode.Uri.file(path.join(workspace(), 'dataset')))) as
    { reportText: string; figures: { id: string; figure: { data: unknown[] } }[] } | undefined;
  assert.ok(result, 'an evaluation result');
  assert.match(result.reportText, /precision/);
  assert.match(result.reportText, /recall/);
  assert.deepEqual(result.figures.map((f) => f.id), ['confusion', ...classNames.map((name) => `pr-${name}`)]);
  await waitForWebviewTab('imgcls.evaluation');
});

test('Classify on a folder classifies every image inside it and reports the corrupt one', async () => {
  const folder = path.join(workspace(), 'images');
  const images = (await fs.readdir(folder)).filter((name) => /\.(png|jpe?g)$/i.test(name));
  const uri = vscode.Uri.file(folder);
  const results = (await vscode.commands.executeCommand('imgcls.classify', uri, [uri])) as FileClassification[];
  assert.equal(results.length, images.length);
  const corrupt = results.find((r) => r.file.endsWith('corrupt.jpg'));
  assert.ok(corrupt?.error, 'corrupt.jpg failed');
  assert.match(corrupt.error.code ?? '', /^IMAGE_/);
  assert.ok(results.filter((r) => r.predictions).length === images.length - 1, 'every other image was classified');
});

test('Classify on a multi-selection classifies exactly the selected files', async () => {
  const files = ['logo-1.jpg', 'others-1.jpg'].map((name) => vscode.Uri.file(path.join(workspace(), 'images', name)));
  const results = (await vscode.commands.executeCommand('imgcls.classify', files[0], files)) as FileClassification[];
  assert.deepEqual(results.map((r) => path.basename(r.file)), ['logo-1.jpg', 'others-1.jpg']);
});

test('Show Training Plots opens the plots webview on a finished run', async () => {
  const runDir = path.join(workspace(), 'runs', 'seed');
  await vscode.commands.executeCommand('imgcls.showTrainingPlots', runDir);
  await waitForWebviewTab('imgcls.plots');
});

test('Select Model with a file stores it in imgcls.checkpoint', async () => {
  const config = vscode.workspace.getConfiguration('imgcls');
  const before = config.get<string>('checkpoint');
  assert.ok(before, 'the driver selected a checkpoint');
  const absolute = path.isAbsolute(before) ? before : path.join(workspace(), before);
  await vscode.commands.executeCommand('imgcls.selectModel', vscode.Uri.file(absolute));
  const after = vscode.workspace.getConfiguration('imgcls').get<string>('checkpoint');
  assert.equal(path.resolve(workspace(), after ?? ''), absolute);
});

test('Run Training Cells opens the lesson notebook, whose train cells are found by tag', async () => {
  const result = (await vscode.commands.executeCommand('imgcls.runTrainingCells')) as { action: string };
  assert.equal(result.action, 'opened');
  const editor = vscode.window.activeNotebookEditor;
  assert.ok(editor, 'a notebook editor is active');
  assert.ok(editor.notebook.uri.path.endsWith('notebooks/image-classification.ipynb'));
  assert.deepEqual(trainCellRanges(editor.notebook), [{ start: 1, end: 3 }]);
});

test('Run Training Cells on the open lesson executes exactly its train cells through the notebook API', async () => {
  // a recording kernel stands in for tslab (no Jupyter extension in code-server); VS Code itself runs the cells
  const executed: number[] = [];
  const controller = vscode.notebooks.createNotebookController('imgcls-test-kernel', 'jupyter-notebook', 'imgcls test kernel');
  controller.supportedLanguages = ['typescript', 'javascript', 'plaintext'];
  controller.executeHandler = (cells) => {
    for (const cell of cells) {
      executed.push(cell.index);
      const execution = controller.createNotebookCellExecution(cell);
      execution.start(Date.now());
      execution.end(true, Date.now());
    }
  };
  try {
    const editor = vscode.window.activeNotebookEditor;
    assert.ok(editor, 'the lesson is open (previous test)');
    await vscode.commands.executeCommand('notebook.selectKernel', { notebookEditor: editor, id: 'imgcls-test-kernel', extension: 'imgcls.imgcls' });
    const result = (await vscode.commands.executeCommand('imgcls.runTrainingCells')) as { action: string };
    assert.equal(result.action, 'executed');
    const deadline = Date.now() + 20_000;
    while (executed.length < 2 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 200));
    assert.deepEqual(executed.sort(), [1, 2]);
  } finally {
    controller.dispose();
  }
});

// last, after every command above has run in this host: the library (TF.js, ONNX Runtime, sharp) belongs to the ML worker thread
test('the extension host loads no TF.js, ONNX Runtime or sharp (the library runs only in the ML worker)', async () => {
  // CommonJS loads show in require.cache; any tfjs-core, ESM or CommonJS, sets globalThis._tfengine in its realm on load
  // (the worker thread is another realm, so its TF.js does not show here)
  const loaded = Object.keys(require.cache);
  for (const pattern of [/[\\/]@tensorflow[\\/]/, /[\\/]onnxruntime-node[\\/]/, /[\\/]sharp[\\/]/]) {
    assert.deepEqual(loaded.filter((file) => pattern.test(file)), [], `CommonJS modules matching ${pattern} in the extension host`);
  }
  assert.equal((globalThis as { _tfengine?: unknown })._tfengine, undefined, 'a TF.js engine exists in the extension host');
});

untrustedTest('in Restricted Mode no command runs model code or writes files; no worker thread starts', async () => {
  assert.equal(vscode.workspace.isTrusted, false);
  const probe = await api();
  const image = vscode.Uri.file(path.join(workspace(), 'images', 'logo-1.jpg'));
  const dataset = vscode.Uri.file(path.join(workspace(), 'dataset'));
  const runsBefore = await fs.readdir(path.join(workspace(), 'runs'));
  const othersBefore = await fs.readdir(path.join(workspace(), 'dataset', 'train', 'others'));
  // executeCommand bypasses the manifest's enablement: the commands themselves must refuse
  assert.equal(await vscode.commands.executeCommand('imgcls.classify', image, [image]), undefined);
  assert.equal(await vscode.commands.executeCommand('imgcls.trainModel', dataset), undefined);
  assert.equal(await vscode.commands.executeCommand('imgcls.evaluateModel', dataset), undefined);
  assert.equal(await vscode.commands.executeCommand('imgcls.addToClass', image, 'others'), undefined);
  assert.equal(await vscode.commands.executeCommand('imgcls.retrain'), undefined);
  await new Promise((resolve) => setTimeout(resolve, 2000)); // a warm-up or report would have started by now
  assert.deepEqual(probe.workers(), { inference: false, training: false });
  assert.deepEqual(await fs.readdir(path.join(workspace(), 'runs')), runsBefore);
  assert.deepEqual(await fs.readdir(path.join(workspace(), 'dataset', 'train', 'others')), othersBefore);
});

/** Entry point called by VS Code's test runner; rejects when a test failed. */
export async function run(): Promise<void> {
  const lines: string[] = [];
  let failed = 0;
  const suite = vscode.workspace.isTrusted ? tests : untrustedTests;
  for (const t of suite) {
    const started = Date.now();
    try {
      await t.body();
      lines.push(`ok - ${t.name} (${Date.now() - started} ms)`);
    } catch (err) {
      failed++;
      lines.push(`not ok - ${t.name}\n  ${err instanceof Error ? (err.stack ?? err.message).replace(/\n/g, '\n  ') : String(err)}`);
    }
  }
  lines.push(`# ${suite.length - failed}/${suite.length} passed`);
  const report = lines.join('\n');
  console.log(report);
  await fs.writeFile(path.join(workspace(), vscode.workspace.isTrusted ? 'extension-tests.log' : 'extension-tests-untrusted.log'), report + '\n');
  if (failed > 0) throw new Error(`${failed} extension-host test(s) failed`);
}
