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
function test(name: string, body: () => Promise<void>): void {
  tests.push({ name, body });
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

async function readExpected(): Promise<{ classNames: string[] }> {
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

// last, after every command above has run in this host: the library (and TF.js) belongs to the ML worker thread
test('the extension host loaded no @tensorflow module (TF.js runs only in the ML worker)', async () => {
  // CommonJS loads show in require.cache; any tfjs-core, ESM or CommonJS, sets globalThis._tfengine in its realm on load
  // (the worker thread is another realm, so its TF.js does not show here)
  const tfModules = Object.keys(require.cache).filter((file) => /[\\/]@tensorflow[\\/]/.test(file));
  assert.deepEqual(tfModules, [], 'CommonJS @tensorflow modules in the extension host');
  assert.equal((globalThis as { _tfengine?: unknown })._tfengine, undefined, 'a TF.js engine exists in the extension host');
});

/** Entry point called by VS Code's test runner; rejects when a test failed. */
export async function run(): Promise<void> {
  const lines: string[] = [];
  let failed = 0;
  for (const t of tests) {
    const started = Date.now();
    try {
      await t.body();
      lines.push(`ok - ${t.name} (${Date.now() - started} ms)`);
    } catch (err) {
      failed++;
      lines.push(`not ok - ${t.name}\n  ${err instanceof Error ? (err.stack ?? err.message).replace(/\n/g, '\n  ') : String(err)}`);
    }
  }
  lines.push(`# ${tests.length - failed}/${tests.length} passed`);
  const report = lines.join('\n');
  console.log(report);
  await fs.writeFile(path.join(workspace(), 'extension-tests.log'), report + '\n');
  if (failed > 0) throw new Error(`${failed} extension-host test(s) failed`);
}
