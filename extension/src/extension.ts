import * as vscode from 'vscode';
import { lastClassifyTimings, registerClassify, registerFixTheData, registerResultsSerializer, selectedCheckpoint } from './commands/classify.js';
import { registerEvaluateModel } from './commands/evaluate-model.js';
import { registerRunTrainingCells } from './commands/run-training-cells.js';
import { registerModelStatus, registerSelectModel } from './commands/select-model.js';
import { registerPlotsSerializer, registerShowTrainingPlots } from './commands/show-training-plots.js';
import { registerTrainModel } from './commands/train-model.js';
import { createImgclsContext, type ImgclsContext } from './common/context.js';
import { datasetView, registerDatasetView } from './views/dataset-view.js';

/** What activate returns (extension.exports): read-only probes for the extension-host tests. */
export interface ImgclsTestApi {
  /** Whether each worker thread was ever started (an untrusted workspace must start none). */
  workers(): { inference: boolean; training: boolean };
  /** The phases of the last Classify, in ms. */
  lastClassifyTimings(): Record<string, number> | undefined;
  /** The dataset view's classes and counts after its pending refresh, and the files with Problems. */
  dataset(): Promise<{ classes: { className: string; counts: Record<string, number> }[]; problems: string[] }>;
}

/** Wires the commands, views, serializers, the status bar item and the shared workers; does no work itself. */
export function activate(context: vscode.ExtensionContext): ImgclsTestApi {
  const ctx = createImgclsContext(context);
  context.subscriptions.push(
    registerClassify(ctx),
    registerFixTheData(ctx),
    registerTrainModel(ctx),
    registerRunTrainingCells(ctx),
    registerShowTrainingPlots(ctx),
    registerEvaluateModel(ctx),
    registerSelectModel(ctx),
    registerModelStatus(),
    registerResultsSerializer(ctx),
    registerPlotsSerializer(ctx),
    registerDatasetView(ctx),
    registerWarmUp(ctx),
  );
  return {
    workers: () => ({ inference: ctx.inference.everStarted, training: ctx.training.everStarted }),
    lastClassifyTimings: () => lastClassifyTimings,
    async dataset() {
      const view = datasetView();
      await view?.settled;
      return { classes: view?.snapshot() ?? [], problems: view?.problemFiles() ?? [] };
    },
  };
}

/**
 * Starts the inference worker and loads the selected model in the background (trusted workspaces only), so the
 * first Classify finds the ONNX Runtime session ready; again whenever the selected model changes.
 */
function registerWarmUp(ctx: ImgclsContext): vscode.Disposable {
  const warm = async () => {
    if (!vscode.workspace.isTrusted) return;
    let checkpoint: string;
    try {
      checkpoint = await selectedCheckpoint();
    } catch {
      return; // no model selected yet
    }
    const started = Date.now();
    try {
      await ctx.inference.warm(checkpoint);
      ctx.output.info(`warm-up: ${checkpoint} ready in ${Date.now() - started} ms`);
    } catch (err) {
      ctx.output.warn(`warm-up: ${err instanceof Error ? err.message : String(err)}`);
    }
  };
  void warm();
  return vscode.Disposable.from(
    vscode.workspace.onDidChangeConfiguration((event) => {
      if (event.affectsConfiguration('imgcls.checkpoint')) void warm();
    }),
    vscode.workspace.onDidGrantWorkspaceTrust(() => void warm()),
  );
}

export function deactivate(): void {}
