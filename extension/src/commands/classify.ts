import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { ImgclsContext } from '../common/context.js';
import { ExtensionError, requireTrust, runCommand, showLibraryError, describeError } from '../common/run-command.js';
import { readSettings, resolvePath } from '../common/settings.js';
import { ImgclsPanel } from '../webviews/panel.js';
import type { ResultItem } from '../webviews/messages.js';
import type { FileClassification } from '../worker/protocol.js';

/** The image extensions Classify accepts (the manifest's `when` clauses list the same). */
export const IMAGE_EXTENSIONS: readonly string[] = ['.jpg', '.jpeg', '.png', '.webp', '.gif', '.bmp', '.tif', '.tiff'];
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

/** Classifies the clicked/selected files and folders; returns the per-file results (also for tests). */
export async function classifyUris(ctx: ImgclsContext, clicked?: vscode.Uri, selected?: vscode.Uri[]): Promise<FileClassification[] | undefined> {
  requireTrust();
  const targets = await pickTargets(clicked, selected);
  if (!targets || targets.length === 0) return undefined;
  const files = await collectImages(targets);
  if (files.length === 0) {
    throw new ExtensionError(vscode.l10n.t('No image files found in the selection.'), 'NO_IMAGES',
      vscode.l10n.t('Classify accepts {0} files, or folders that contain them.', IMAGE_EXTENSIONS.join(' ')));
  }
  const checkpoint = await selectedCheckpoint();
  const { topClasses } = readSettings();
  ctx.output.info(`classify: ${files.length} file(s) with ${checkpoint}`);
  const results = await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Window, title: vscode.l10n.t('imgcls: classifying {0} image(s)…', files.length) },
    () => ctx.inference.classify(checkpoint, files, topClasses, files.length <= MAX_EXPLAINED),
  );
  for (const r of results) {
    ctx.output.info(r.predictions ? `  ${r.file}: ${r.predictions.map((p) => `${p.className} ${percent(p.probability)}`).join(', ')}` : `  ${r.file}: ✖ [${r.error?.code}] ${r.error?.message}`);
  }
  showResultsPanel(ctx, results);
  await notify(results);
  return results;
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

function showResultsPanel(ctx: ImgclsContext, results: FileClassification[]): void {
  const folders = [...new Set(results.map((r) => path.dirname(r.file)))].map((dir) => vscode.Uri.file(dir));
  const panel = ImgclsPanel.show(ctx.extension.extensionUri, { viewType: RESULTS_VIEW, title: vscode.l10n.t('imgcls: Classify results'), plotly: false }, folders);
  const items: ResultItem[] = results.map((r) => ({
    file: r.file,
    name: path.basename(r.file),
    thumbnail: BROWSER_FORMATS.has(path.extname(r.file).toLowerCase()) && !r.error ? panel.asWebviewUri(r.file) : undefined,
    predictions: r.predictions,
    overlay: r.overlay,
    error: r.error ? describeError(r.error) : undefined,
  }));
  panel.post({
    type: 'results',
    heading: vscode.l10n.t('Classify results ({0} image(s))', results.length),
    items,
    labels: {
      image: vscode.l10n.t('Image'),
      overlay: vscode.l10n.t('Where the model looked'),
      file: vscode.l10n.t('File'),
      className: vscode.l10n.t('Class'),
      probabilities: vscode.l10n.t('Probabilities'),
      failed: vscode.l10n.t('Failed'),
    },
  });
  if (!hooked.has(panel)) {
    hooked.add(panel);
    panel.onMessage((message) => {
      if (message.type === 'reveal') void vscode.commands.executeCommand('vscode.open', vscode.Uri.file(message.file));
    });
  }
}

/** Panels whose reveal messages are already handled (the listener dies with the panel's emitter). */
const hooked = new WeakSet<ImgclsPanel>();
