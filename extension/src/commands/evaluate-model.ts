import * as path from 'node:path';
import * as vscode from 'vscode';
import type { ImgclsContext } from '../common/context.js';
import { requireTrust, runCommand } from '../common/run-command.js';
import { readSettings, resolvePath, workspaceRoot } from '../common/settings.js';
import type { FigureItem, PlotlyFigureJson } from '../webviews/messages.js';
import { ImgclsPanel } from '../webviews/panel.js';
import type { EvaluateResult } from '../worker/protocol.js';
import { selectedCheckpoint } from './classify.js';

export const EVALUATION_VIEW = 'imgcls.evaluation';

/** Registers imgcls.evaluateModel: the selected model on the dataset (setting, argument or folder picker). */
export function registerEvaluateModel(ctx: ImgclsContext): vscode.Disposable {
  return vscode.commands.registerCommand('imgcls.evaluateModel', (folder?: vscode.Uri) =>
    runCommand(ctx, vscode.l10n.t('Evaluate Model'), () => evaluateModel(ctx, folder)),
  );
}

/** Evaluates the selected checkpoint in the inference worker and shows the report and figures. */
export async function evaluateModel(ctx: ImgclsContext, folder?: vscode.Uri): Promise<EvaluateResult | undefined> {
  requireTrust();
  const checkpoint = await selectedCheckpoint();
  let dataDir = folder?.fsPath ?? resolvePath(readSettings().datasetPath);
  if (!dataDir) {
    const root = workspaceRoot();
    const picked = await vscode.window.showOpenDialog({
      canSelectFolders: true,
      canSelectFiles: false,
      openLabel: vscode.l10n.t('Evaluate on this folder'),
      defaultUri: root ? vscode.Uri.file(root) : undefined,
    });
    dataDir = picked?.[0]?.fsPath;
  }
  if (!dataDir) return undefined;
  ctx.output.info(`evaluate: ${checkpoint} on ${dataDir}`);
  const result = await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: vscode.l10n.t('imgcls: evaluating {0}…', path.basename(checkpoint)), cancellable: true },
    (_progress, token) => {
      const abort = new AbortController();
      token.onCancellationRequested(() => abort.abort());
      return ctx.inference.evaluate(checkpoint, dataDir!, abort.signal);
    },
  );
  ctx.output.info(result.reportText);
  const panel = ImgclsPanel.show(ctx.extension.extensionUri, { viewType: EVALUATION_VIEW, title: vscode.l10n.t('imgcls: Evaluation'), plotly: true });
  const figures: FigureItem[] = result.figures.map((f) => ({
    id: f.id,
    title: f.id === 'confusion' ? vscode.l10n.t('Confusion matrix') : vscode.l10n.t('Precision–recall curve: {0}', f.id.replace(/^pr-/, '')),
    figure: f.figure as PlotlyFigureJson,
  }));
  panel.post({ type: 'report', heading: vscode.l10n.t('Evaluation of {0} on {1}', path.basename(checkpoint), dataDir), reportText: result.reportText, figures });
  return result;
}
