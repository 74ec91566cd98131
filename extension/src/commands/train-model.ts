import * as path from 'node:path';
import * as vscode from 'vscode';
import type { ImgclsContext } from '../common/context.js';
import { ExtensionError, requireTrust, runCommand } from '../common/run-command.js';
import { outputFolder, readSettings, resolvePath, workspaceRoot } from '../common/settings.js';
import type { TrainJob, TrainProgressMessage, TrainResult } from '../worker/protocol.js';
import { refreshTrainingPlots, showTrainingPlots } from './show-training-plots.js';
import { setSelectedModel } from './select-model.js';
import { formatDuration } from '../../../src/util/duration.js';

let running = false;

/** Registers imgcls.trainModel: dataset from imgcls.datasetPath, an explicit folder argument, or a folder picker. */
export function registerTrainModel(ctx: ImgclsContext): vscode.Disposable {
  return vscode.commands.registerCommand('imgcls.trainModel', (folder?: vscode.Uri) =>
    runCommand(ctx, vscode.l10n.t('Train Model'), () => trainModel(ctx, folder)),
  );
}

async function pickDataset(folder?: vscode.Uri): Promise<string | undefined> {
  if (folder) return folder.fsPath;
  const fromSetting = resolvePath(readSettings().datasetPath);
  if (fromSetting) return fromSetting;
  const picked = await vscode.window.showOpenDialog({
    canSelectFolders: true,
    canSelectFiles: false,
    openLabel: vscode.l10n.t('Use as dataset'),
    title: vscode.l10n.t('Choose the dataset folder (one sub-folder per class)'),
    defaultUri: workspaceRoot() ? vscode.Uri.file(workspaceRoot()!) : undefined,
  });
  return picked?.[0]?.fsPath;
}

function runName(now = new Date()): string {
  const pad = (n: number) => String(n).padStart(2, '0');
  return `run-${now.getFullYear()}${pad(now.getMonth() + 1)}${pad(now.getDate())}-${pad(now.getHours())}${pad(now.getMinutes())}${pad(now.getSeconds())}`;
}

/** One line of progress text: epoch, step, loss and ETA, from whatever the library reported. */
export function describeProgress(progress: TrainProgressMessage): string {
  const parts: string[] = [];
  if (progress.phase === 'features' && progress.step !== undefined && progress.steps !== undefined) {
    parts.push(vscode.l10n.t('extracting features {0}/{1}', progress.step, progress.steps));
  } else if (progress.phase === 'validate') {
    parts.push(vscode.l10n.t('epoch {0}/{1}', progress.epoch ?? '?', progress.epochs ?? '?'), vscode.l10n.t('validating'));
  } else if (progress.epoch !== undefined) parts.push(vscode.l10n.t('epoch {0}/{1}', progress.epoch, progress.epochs ?? '?'));
  if (progress.phase === 'train' && progress.step !== undefined && progress.steps !== undefined) parts.push(vscode.l10n.t('step {0}/{1}', progress.step, progress.steps));
  if (typeof progress.loss === 'number') parts.push(vscode.l10n.t('loss {0}', progress.loss.toFixed(4)));
  if (typeof progress.etaMs === 'number' && Number.isFinite(progress.etaMs)) parts.push(vscode.l10n.t('ETA {0}', formatDuration(progress.etaMs)));
  if (parts.length === 0 && progress.phase) parts.push(String(progress.phase));
  return parts.join(' · ');
}

/** Trains on a dataset folder in the training worker, with progress, Cancel and the live plots panel. */
export async function trainModel(ctx: ImgclsContext, folder?: vscode.Uri, options: { mode?: TrainJob['mode']; showPlots?: boolean } = {}): Promise<TrainResult | undefined> {
  requireTrust();
  if (running) {
    throw new ExtensionError(vscode.l10n.t('A training run is already in progress.'), 'BUSY', vscode.l10n.t('Cancel it from its notification first.'));
  }
  const dataDir = await pickDataset(folder);
  if (!dataDir) return undefined;
  const settings = readSettings();
  const root = outputFolder() ?? path.join(path.dirname(dataDir), 'runs');
  const job: TrainJob = {
    dataDir,
    outDir: path.join(root, runName()),
    mode: options.mode ?? settings.trainingMode,
    epochs: settings.epochs,
    batchSize: settings.batchSize,
    learningRate: settings.learningRate,
  };
  ctx.output.info(`train: ${JSON.stringify(job)}`);
  running = true;
  try {
    if (options.showPlots !== false) await showTrainingPlots(ctx, job.outDir);
    const result = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: vscode.l10n.t('imgcls: training'), cancellable: true },
      async (progress, token) => {
        const abort = new AbortController();
        const subscription = token.onCancellationRequested(() => {
          ctx.output.info('train: cancel requested');
          abort.abort();
        });
        let lastPercent = 0;
        try {
          progress.report({ message: vscode.l10n.t('loading the model…') });
          return await ctx.training.train(job, abort.signal, (p) => {
            // the bar covers the training steps; feature extraction shows its own count in the message
            const percent = p.phase === 'train' && p.epoch !== undefined && p.steps
              ? Math.min(100, (((p.epoch - 1) * p.steps + (p.step ?? 0)) / ((p.epochs ?? settings.epochs) * p.steps)) * 100)
              : lastPercent;
            progress.report({ message: describeProgress(p), increment: Math.max(0, percent - lastPercent) });
            lastPercent = Math.max(lastPercent, percent);
            if (p.message) ctx.output.info(`train: ${p.message}`);
            if (p.phase !== 'features' && p.step === p.steps) ctx.output.info(`train: ${describeProgress(p)}`);
            if (p.phase === 'train' || p.phase === 'validate' || p.phase === 'done') refreshTrainingPlots();
          });
        } finally {
          subscription.dispose();
        }
      },
    );
    refreshTrainingPlots();
    ctx.output.info(`train: finished, checkpoint ${result.checkpoint ?? '(none)'}`);
    if (result.checkpoint) await setSelectedModel(result.checkpoint);
    void vscode.window.showInformationMessage(
      result.checkpoint
        ? vscode.l10n.t('imgcls: training finished; Classify now uses {0}.', path.basename(result.checkpoint))
        : vscode.l10n.t('imgcls: training finished.'),
    );
    return result;
  } finally {
    running = false;
  }
}
