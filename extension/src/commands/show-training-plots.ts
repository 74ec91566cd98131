import { promises as fs, watch, type FSWatcher } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { ImgclsContext } from '../common/context.js';
import { ExtensionError, runCommand } from '../common/run-command.js';
import { outputFolder } from '../common/settings.js';
import type { FigureItem, PlotlyFigureJson } from '../webviews/messages.js';
import { ImgclsPanel } from '../webviews/panel.js';

export const PLOTS_VIEW = 'imgcls.plots';
/** How often an open plot re-reads history.jsonl, in case file events are missed. */
const POLL_MS = 2000;

/** Registers imgcls.showTrainingPlots: the newest run under imgcls.outputFolder, or a run folder passed in. */
export function registerShowTrainingPlots(ctx: ImgclsContext): vscode.Disposable {
  return vscode.commands.registerCommand('imgcls.showTrainingPlots', (runDir?: vscode.Uri | string) =>
    runCommand(ctx, vscode.l10n.t('Show Training Plots'), async () => {
      const dir = typeof runDir === 'string' ? runDir : runDir?.fsPath ?? (await newestRun());
      if (!dir) {
        throw new ExtensionError(vscode.l10n.t('No training run found.'), 'NO_RUN',
          vscode.l10n.t('Train a model with "imgcls: Train Model" first, or set imgcls.outputFolder.'));
      }
      return showTrainingPlots(ctx, dir);
    }),
  );
}

/** The newest folder under the output folder that holds a history.jsonl. */
export async function newestRun(): Promise<string | undefined> {
  const root = outputFolder();
  if (!root) return undefined;
  let best: { dir: string; mtimeMs: number } | undefined;
  const candidates = [root];
  try {
    for (const name of await fs.readdir(root)) candidates.push(path.join(root, name));
  } catch {
    return undefined;
  }
  for (const dir of candidates) {
    try {
      const stat = await fs.stat(path.join(dir, 'history.jsonl'));
      if (!best || stat.mtimeMs > best.mtimeMs) best = { dir, mtimeMs: stat.mtimeMs };
    } catch {
      // not a run folder
    }
  }
  return best?.dir;
}

/** A live view of one run's history.jsonl: re-renders the loss figure whenever the file changes. */
class RunWatcher implements vscode.Disposable {
  private watcher: FSWatcher | undefined;
  private readonly timer: NodeJS.Timeout;
  private lastSize = -1;
  private refreshing: Promise<void> = Promise.resolve();

  constructor(private readonly ctx: ImgclsContext, readonly runDir: string, private readonly panel: ImgclsPanel) {
    try {
      this.watcher = watch(runDir, (_event, name) => {
        if (!name || name.toString() === 'history.jsonl') this.refresh();
      });
    } catch {
      this.watcher = undefined; // the folder may not exist yet: polling covers it
    }
    this.timer = setInterval(() => this.refresh(), POLL_MS);
  }

  /** Re-reads the history (serialised) and posts the figures when the file grew. */
  refresh(force = false): Promise<void> {
    this.refreshing = this.refreshing.then(() => this.update(force)).catch((err: unknown) => {
      this.ctx.output.warn(`plots: ${err instanceof Error ? err.message : String(err)}`);
    });
    return this.refreshing;
  }

  private async update(force: boolean): Promise<void> {
    const file = path.join(this.runDir, 'history.jsonl');
    let size = 0;
    try {
      size = (await fs.stat(file)).size;
    } catch {
      size = 0;
    }
    if (!force && size === this.lastSize) return;
    this.lastSize = size;
    const figures = size > 0 ? await historyFigures(this.ctx, file) : [];
    this.panel.post({
      type: 'figures',
      heading: vscode.l10n.t('Training plots: {0}', path.basename(this.runDir)),
      status: size > 0 ? vscode.l10n.t('Reading {0}', file) : vscode.l10n.t('Waiting for {0}…', file),
      figures,
    });
  }

  dispose(): void {
    clearInterval(this.timer);
    this.watcher?.close();
  }
}

/** The loss and accuracy figures of a history file, built by the library's plots stage in the worker (the host never loads the library). */
export async function historyFigures(ctx: ImgclsContext, file: string): Promise<FigureItem[]> {
  const figures = await ctx.inference.historyFigures(file);
  return [
    { id: 'loss', title: vscode.l10n.t('Loss'), figure: figures.loss as PlotlyFigureJson },
    { id: 'accuracy', title: vscode.l10n.t('Accuracy'), figure: figures.accuracy as PlotlyFigureJson },
  ];
}

let current: RunWatcher | undefined;

/** Opens (or reuses) the plots panel on a run folder and keeps it live; returns the panel. */
export async function showTrainingPlots(ctx: ImgclsContext, runDir: string): Promise<ImgclsPanel> {
  const panel = ImgclsPanel.show(ctx.extension.extensionUri, { viewType: PLOTS_VIEW, title: vscode.l10n.t('imgcls: Training plots'), plotly: true });
  if (current?.runDir !== runDir || ImgclsPanel.get(PLOTS_VIEW) !== panel || !watched.has(panel)) {
    current?.dispose();
    const watcher = new RunWatcher(ctx, runDir, panel);
    current = watcher;
    watched.add(panel);
    panel.panel.onDidDispose(() => {
      watcher.dispose();
      if (current === watcher) current = undefined;
    });
    ctx.output.info(`plots: watching ${path.join(runDir, 'history.jsonl')}`);
  }
  await current.refresh(true);
  return panel;
}

/** Re-reads the open plot now (called on every training progress report). */
export function refreshTrainingPlots(): void {
  void current?.refresh();
}

const watched = new WeakSet<ImgclsPanel>();

/** Restores the plots panel after a window reload from the page's saved state (the figures it last drew). */
export function registerPlotsSerializer(ctx: ImgclsContext): vscode.Disposable {
  return vscode.window.registerWebviewPanelSerializer(PLOTS_VIEW, {
    async deserializeWebviewPanel(webviewPanel, state) {
      ImgclsPanel.restore(ctx.extension.extensionUri, { viewType: PLOTS_VIEW, title: vscode.l10n.t('imgcls: Training plots'), plotly: true }, webviewPanel, state);
    },
  });
}
