import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { ImgclsContext } from '../common/context.js';
import { ExtensionError, requireTrust, runCommand, showLibraryError, describeError } from '../common/run-command.js';
import { readSettings, resolvePath, workspaceRoot } from '../common/settings.js';
import { ImgclsPanel } from '../webviews/panel.js';
import { performance } from 'node:perf_hooks';
import type { ResultItem, VerdictBadge } from '../webviews/messages.js';
import type { AddedToClass, FileClassification } from '../worker/protocol.js';
import { trainModel } from './train-model.js';
import { IMAGE_EXTENSIONS } from '../../../src/data/scan.js';

/** The image extensions Classify accepts: data's one list, bundled from its source (light: no model code); the manifest's `when` clauses are tested against it. */
export { IMAGE_EXTENSIONS };
/** Formats a webview can display as a thumbnail. */
const BROWSER_FORMATS = new Set(['.jpg', '.jpeg', '.png', '.webp', '.gif', '.bmp']);
/** Most files one Classify of a folder will read. */
const MAX_FILES = 2000;
/** Heat-map overlays are drawn when at most this many images are classified at once. */
const MAX_EXPLAINED = 24;

export const RESULTS_VIEW = 'imgcls.results';

/** Registers imgcls.classify: explorer (one, many, folders), editor title, or the palette (file picker). */
export function registerClassify(ctx: ImgclsContext): vscode.Disposable {
  return vscode.commands.registerCommand('imgcls.classify', (clicked?: vscode.Uri, selected?: vscode.Uri[]) =>
    runCommand(ctx, vscode.l10n.t('Classify'), () => classifyUris(ctx, clicked, selected)),
  );
}

function isImage(file: string): boolean {
  return IMAGE_EXTENSIONS.includes(path.extname(file).toLowerCase());
}

/** Expands the selection into image files: folders are walked recursively, other files are ignored. */
export async function collectImages(uris: readonly vscode.Uri[]): Promise<string[]> {
  const files: string[] = [];
  async function walk(file: string): Promise<void> {
    if (files.length >= MAX_FILES) return;
    const stat = await fs.stat(file);
    if (stat.isDirectory()) {
      const entries = (await fs.readdir(file)).filter((name) => !name.startsWith('.')).sort();
      for (const name of entries) await walk(path.join(file, name));
    } else if (isImage(file)) {
      files.push(file);
    }
  }
  for (const uri of uris) await walk(uri.fsPath);
  return files;
}

async function pickTargets(clicked?: vscode.Uri, selected?: vscode.Uri[]): Promise<vscode.Uri[] | undefined> {
  if (selected && selected.length > 0) return selected;
  if (clicked) return [clicked];
  const active = vscode.window.tabGroups.activeTabGroup.activeTab?.input;
  if (active && typeof active === 'object' && 'uri' in active && active.uri instanceof vscode.Uri && isImage(active.uri.fsPath)) {
    return [active.uri];
  }
  return vscode.window.showOpenDialog({
    canSelectMany: true,
    canSelectFolders: true,
    openLabel: vscode.l10n.t('Classify'),
    filters: { [vscode.l10n.t('Images')]: IMAGE_EXTENSIONS.map((ext) => ext.slice(1)) },
  });
}

/** The checkpoint Classify uses, or a readable error pointing at Select Model. */
export async function selectedCheckpoint(): Promise<string> {
  const checkpoint = resolvePath(readSettings().checkpoint);
  if (!checkpoint) {
    throw new ExtensionError(vscode.l10n.t('No model is selected.'), 'NO_MODEL', vscode.l10n.t('Run "imgcls: Select Model" or train one with "imgcls: Train Model".'));
  }
  try {
    await fs.access(checkpoint);
  } catch {
    throw new ExtensionError(vscode.l10n.t('The selected model does not exist: {0}', checkpoint), 'CHECKPOINT_NOT_FOUND',
      vscode.l10n.t('Run "imgcls: Select Model" to choose another checkpoint.'), checkpoint);
  }
  return checkpoint;
}

function percent(probability: number): string {
  return `${(probability * 100).toFixed(1)}%`;
}

/** The timings of the last Classify (for the end-to-end test and the output channel). */
export let lastClassifyTimings: Record<string, number> | undefined;

/** What the results panel shows and acts on: the last Classify, the one before the last Retrain, the added copies. */
interface ResultsSession {
  checkpoint: string;
  files: string[];
  results: FileClassification[];
  before?: Map<string, FileClassification>;
  added: Map<string, AddedToClass[]>;
  nearest: Set<string>;
  retraining: boolean;
  status?: string;
}

let session: ResultsSession | undefined;

/** The dataset's training folder: <dataset>/train when it exists, else the dataset folder itself (flat layout). */
export async function datasetTrainDir(): Promise<{ root: string; trainDir: string } | undefined> {
  const root = resolvePath(readSettings().datasetPath);
  if (!root) return undefined;
  const train = path.join(root, 'train');
  const isDir = await fs.stat(train).then((s) => s.isDirectory(), () => false);
  return { root, trainDir: isDir ? train : root };
}

/** The class folders of the dataset's training folder. */
async function datasetClasses(trainDir: string): Promise<string[]> {
  const entries = await fs.readdir(trainDir, { withFileTypes: true }).catch(() => []);
  return entries.filter((e) => e.isDirectory() && !e.name.startsWith('.')).map((e) => e.name).sort();
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(2)} s`;
}

/** Classifies the clicked/selected files and folders; returns the per-file results (also for tests). */
export async function classifyUris(ctx: ImgclsContext, clicked?: vscode.Uri, selected?: vscode.Uri[]): Promise<FileClassification[] | undefined> {
  const clickedAt = performance.now();
  requireTrust();
  const targets = await pickTargets(clicked, selected);
  if (!targets || targets.length === 0) return undefined;
  const files = await collectImages(targets);
  if (files.length === 0) {
    throw new ExtensionError(vscode.l10n.t('No image files found in the selection.'), 'NO_IMAGES',
      vscode.l10n.t('Classify accepts {0} files, or folders that contain them.', IMAGE_EXTENSIONS.join(' ')));
  }
  // a folder: the images the model is least sure about come first (the ones worth labelling)
  const folder = (await Promise.all(targets.map((t) => fs.stat(t.fsPath).then((s) => s.isDirectory(), () => false)))).some(Boolean);
  const checkpoint = await selectedCheckpoint();
  const { topClasses } = readSettings();
  ctx.output.info(`classify: ${files.length} file(s) with ${checkpoint}`);
  const workerRunning = ctx.inference.started;
  const collectedAt = performance.now();
  const { results, timings } = await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Window, title: vscode.l10n.t('imgcls: classifying {0} image(s)…', files.length) },
    () => ctx.inference.classify(checkpoint, files, topClasses, files.length <= MAX_EXPLAINED, { leastSureFirst: folder }),
  );
  const classifiedAt = performance.now();
  for (const r of results) {
    ctx.output.info(r.predictions ? `  ${r.file}: ${r.predictions.map((p) => `${p.className} ${percent(p.probability)}`).join(', ')}` : `  ${r.file}: ✖ [${r.error?.code}] ${r.error?.message}`);
  }
  session = { checkpoint, files: results.map((r) => r.file), results, added: new Map(), nearest: new Set(), retraining: false };
  const panel = await showResultsPanel(ctx);
  const postedAt = performance.now();
  const rendered = await waitForRender(panel, 5000);
  const renderedAt = performance.now();
  lastClassifyTimings = {
    totalMs: renderedAt - clickedAt,
    collectMs: collectedAt - clickedAt,
    workerMs: classifiedAt - collectedAt,
    importMs: timings.importMs,
    loadMs: timings.loadMs,
    classifyMs: timings.classifyMs,
    camMs: timings.camMs,
    panelMs: postedAt - classifiedAt,
    renderMs: renderedAt - postedAt,
    workerWasRunning: workerRunning ? 1 : 0,
  };
  const t = lastClassifyTimings;
  session.status = vscode.l10n.t('Classified in {0} (worker {1}: import {2}, model load {3}, classify {4}, heat maps {5}; panel {6}, render {7}{8})',
    seconds(t.totalMs), seconds(t.workerMs), seconds(t.importMs), seconds(t.loadMs), seconds(t.classifyMs), seconds(t.camMs), seconds(t.panelMs),
    seconds(t.renderMs), rendered ? '' : vscode.l10n.t(', not confirmed'));
  ctx.output.info(`classify timings: ${JSON.stringify(Object.fromEntries(Object.entries(t).map(([k, v]) => [k, Math.round(v)])))}`);
  panel.postStatus(session.status);
  await notify(results);
  return results;
}

/** Resolves when the page reports the results rendered (false after `timeoutMs`). */
function waitForRender(panel: ImgclsPanel, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      listener.dispose();
      resolve(false);
    }, timeoutMs);
    const listener = panel.onMessage((message) => {
      if (message.type === 'rendered') {
        clearTimeout(timer);
        listener.dispose();
        resolve(true);
      }
    });
  });
}

async function notify(results: FileClassification[]): Promise<void> {
  const failed = results.filter((r) => r.error);
  const ok = results.filter((r) => r.predictions?.length);
  if (results.length === 1) {
    const [only] = results;
    if (only.error) {
      await showLibraryError({ ...only.error, message: `${path.basename(only.file)}: ${only.error.message}`, file: only.error.file ?? only.file });
      return;
    }
    const top = only.predictions![0];
    void vscode.window.showInformationMessage(vscode.l10n.t('{0}: {1} ({2})', path.basename(only.file), top.className, percent(top.probability)));
    return;
  }
  const counts = new Map<string, number>();
  for (const r of ok) counts.set(r.predictions![0].className, (counts.get(r.predictions![0].className) ?? 0) + 1);
  const summary = [...counts].map(([name, count]) => `${name} × ${count}`).join(', ');
  if (failed.length > 0) {
    const reasons = failed.slice(0, 3).map((r) => `${path.basename(r.file)} (${describeError(r.error!)})`).join('; ');
    void vscode.window.showWarningMessage(
      vscode.l10n.t('Classified {0} image(s): {1}. {2} could not be read: {3}', ok.length, summary || '—', failed.length, reasons),
    );
  } else {
    void vscode.window.showInformationMessage(vscode.l10n.t('Classified {0} image(s): {1}', ok.length, summary || '—'));
  }
}

/** The badge data of a verdict. */
function badge(verdict: FileClassification['verdict']): VerdictBadge | undefined {
  return verdict ? { unfamiliar: verdict.unfamiliar, score: verdict.score, threshold: verdict.threshold } : undefined;
}

/** Shows (or updates) the results panel from the current session. */
async function showResultsPanel(ctx: ImgclsContext): Promise<ImgclsPanel> {
  const current = session!;
  const dataset = await datasetTrainDir();
  const roots = [...new Set([...current.results.map((r) => path.dirname(r.file)), ...(dataset ? [dataset.root] : [])])].map((dir) => vscode.Uri.file(dir));
  const panel = ImgclsPanel.show(ctx.extension.extensionUri, { viewType: RESULTS_VIEW, title: vscode.l10n.t('imgcls: Classify results'), plotly: false }, roots);
  const thumbnail = (file: string) => BROWSER_FORMATS.has(path.extname(file).toLowerCase()) ? panel.asWebviewUri(file) : undefined;
  const items: ResultItem[] = current.results.map((r) => {
    const before = current.before?.get(r.file);
    return {
      file: r.file,
      name: path.basename(r.file),
      thumbnail: !r.error ? thumbnail(r.file) : undefined,
      predictions: r.predictions,
      overlay: r.overlay,
      verdict: badge(r.verdict),
      before: before ? { className: before.predictions?.[0]?.className, probability: before.predictions?.[0]?.probability, verdict: badge(before.verdict) } : undefined,
      added: current.added.get(r.file)?.map((a) => ({ className: a.className, name: path.basename(a.file) })),
      nearest: current.nearest.has(r.file)
        ? r.verdict?.nearest.map((n) => ({ file: n.file, name: path.basename(n.file), className: n.className, distance: n.distance, thumbnail: thumbnail(n.file) }))
        : undefined,
      error: r.error ? describeError(r.error) : undefined,
    };
  });
  const hasVerdicts = current.results.some((r) => r.verdict);
  panel.post({
    type: 'results',
    heading: current.before
      ? vscode.l10n.t('Classify results after retraining ({0} image(s))', current.results.length)
      : vscode.l10n.t('Classify results ({0} image(s))', current.results.length),
    items,
    status: current.status,
    actions: {
      classNames: dataset ? await datasetClasses(dataset.trainDir) : [],
      datasetMissing: dataset ? undefined : vscode.l10n.t('Set imgcls.datasetPath to add images to a class and retrain.'),
      nearestUnavailable: hasVerdicts ? undefined : vscode.l10n.t('This model has no open-set data (it comes with newer training runs); retrain to get it.'),
      retraining: current.retraining,
    },
    labels: {
      image: vscode.l10n.t('Image'),
      overlay: vscode.l10n.t('Where the model looked'),
      file: vscode.l10n.t('File'),
      className: vscode.l10n.t('Class'),
      probabilities: vscode.l10n.t('Probabilities'),
      failed: vscode.l10n.t('Failed'),
      actions: vscode.l10n.t('Fix the data'),
      addToClass: vscode.l10n.t('Add to class ▸'),
      added: vscode.l10n.t('Added to {0} as {1}'),
      undo: vscode.l10n.t('Undo'),
      nearest: vscode.l10n.t('Show the nearest training images'),
      retrain: vscode.l10n.t('Retrain (head, seconds)'),
      retraining: vscode.l10n.t('Retraining…'),
      before: vscode.l10n.t('Before'),
      after: vscode.l10n.t('After'),
      unfamiliar: vscode.l10n.t('unfamiliar'),
      familiar: vscode.l10n.t('familiar'),
    },
  });
  hookResultsPanel(ctx, panel);
  return panel;
}

/** Panels whose messages are already handled (the listener dies with the panel's emitter). */
const hooked = new WeakSet<ImgclsPanel>();

/** Handles the results page's buttons: reveal, Add to class, Undo, nearest images, Retrain. */
export function hookResultsPanel(ctx: ImgclsContext, panel: ImgclsPanel): void {
  if (hooked.has(panel)) return;
  hooked.add(panel);
  panel.onMessage((message) => {
    switch (message.type) {
      case 'reveal':
        void vscode.commands.executeCommand('vscode.open', vscode.Uri.file(message.file));
        break;
      case 'addToClass':
        void vscode.commands.executeCommand('imgcls.addToClass', vscode.Uri.file(message.file), message.className);
        break;
      case 'undoAdd':
        void runCommand(ctx, vscode.l10n.t('Undo Add to Class'), () => undoAdd(ctx, message.file));
        break;
      case 'nearest':
        if (session?.files.includes(message.file)) {
          session.nearest.add(message.file);
          void showResultsPanel(ctx);
        }
        break;
      case 'retrain':
        void vscode.commands.executeCommand('imgcls.retrain');
        break;
    }
  });
}

/** Registers imgcls.addToClass (file, class) and imgcls.retrain: the fix-the-data loop of the results panel. */
export function registerFixTheData(ctx: ImgclsContext): vscode.Disposable {
  return vscode.Disposable.from(
    vscode.commands.registerCommand('imgcls.addToClass', (file?: vscode.Uri, className?: string) =>
      runCommand(ctx, vscode.l10n.t('Add to Class'), () => addToClass(ctx, file, className))),
    vscode.commands.registerCommand('imgcls.retrain', () => runCommand(ctx, vscode.l10n.t('Retrain'), () => retrain(ctx))),
  );
}

/** Copies an image into the dataset's class folder (never overwriting), offering Undo. */
export async function addToClass(ctx: ImgclsContext, file?: vscode.Uri, className?: string): Promise<AddedToClass | undefined> {
  requireTrust();
  const dataset = await datasetTrainDir();
  if (!dataset) {
    throw new ExtensionError(vscode.l10n.t('No dataset is set.'), 'NO_DATASET', vscode.l10n.t('Set imgcls.datasetPath to the dataset folder (one sub-folder per class).'));
  }
  const source = file?.fsPath ?? (await pickTargets())?.[0]?.fsPath;
  if (!source) return undefined;
  const target = className ?? (await vscode.window.showQuickPick(await datasetClasses(dataset.trainDir), { title: vscode.l10n.t('Add {0} to class', path.basename(source)) }));
  if (!target) return undefined;
  const added = await ctx.inference.addToClass(source, dataset.trainDir, target);
  ctx.output.info(`add to class: ${source} → ${added.file}`);
  if (session?.files.includes(source)) {
    session.added.set(source, [...(session.added.get(source) ?? []), added]);
    await showResultsPanel(ctx);
  }
  const undo = vscode.l10n.t('Undo');
  void vscode.window.showInformationMessage(vscode.l10n.t('imgcls: added {0} to class {1} as {2}.', path.basename(source), target, path.relative(dataset.root, added.file)), undo)
    .then((choice) => {
      if (choice === undo) void runCommand(ctx, vscode.l10n.t('Undo Add to Class'), () => undoCopy(ctx, source, added));
    });
  return added;
}

async function undoAdd(ctx: ImgclsContext, source: string): Promise<void> {
  const last = session?.added.get(source)?.at(-1);
  if (last) await undoCopy(ctx, source, last);
}

async function undoCopy(ctx: ImgclsContext, source: string, added: AddedToClass): Promise<void> {
  const outcome = await ctx.inference.undoAddToClass(added.undo);
  ctx.output.info(`undo add to class: ${added.file}: ${outcome}`);
  const list = session?.added.get(source);
  if (list) session!.added.set(source, list.filter((a) => a.file !== added.file));
  if (session) await showResultsPanel(ctx);
  if (outcome === 'changed') void vscode.window.showWarningMessage(vscode.l10n.t('imgcls: {0} was changed since it was added, so it was kept.', added.file));
}

/** Retrains the head on the dataset (seconds), then classifies the same images again and shows before → after. */
export async function retrain(ctx: ImgclsContext): Promise<FileClassification[] | undefined> {
  requireTrust();
  const current = session;
  if (!current) {
    throw new ExtensionError(vscode.l10n.t('Nothing to compare yet.'), 'NO_RESULTS', vscode.l10n.t('Classify images first; Retrain then shows each one before → after.'));
  }
  const dataset = await datasetTrainDir();
  if (!dataset) throw new ExtensionError(vscode.l10n.t('No dataset is set.'), 'NO_DATASET', vscode.l10n.t('Set imgcls.datasetPath to the dataset folder.'));
  current.retraining = true;
  await showResultsPanel(ctx);
  let trained;
  try {
    trained = await trainModel(ctx, vscode.Uri.file(dataset.root), { mode: 'head', showPlots: false });
  } finally {
    current.retraining = false;
  }
  if (!trained?.checkpoint) {
    await showResultsPanel(ctx);
    return undefined;
  }
  const { topClasses } = readSettings();
  const { results } = await ctx.inference.classify(trained.checkpoint, current.files, topClasses, current.files.length <= MAX_EXPLAINED);
  session = { ...current, checkpoint: trained.checkpoint, results, before: new Map(current.results.map((r) => [r.file, r])), nearest: new Set(),
    status: vscode.l10n.t('Retrained: {0}', path.relative(workspaceRoot() ?? dataset.root, trained.checkpoint)) };
  await showResultsPanel(ctx);
  return results;
}

/** Restores the results panel after a window reload, from the page's saved state (view only until the next Classify). */
export function registerResultsSerializer(ctx: ImgclsContext): vscode.Disposable {
  return vscode.window.registerWebviewPanelSerializer(RESULTS_VIEW, {
    async deserializeWebviewPanel(webviewPanel, state) {
      const roots = (vscode.workspace.workspaceFolders ?? []).map((f) => f.uri);
      const panel = ImgclsPanel.restore(ctx.extension.extensionUri, { viewType: RESULTS_VIEW, title: vscode.l10n.t('imgcls: Classify results'), plotly: false }, webviewPanel, state, roots);
      hookResultsPanel(ctx, panel);
    },
  });
}
