import type * as vscode from 'vscode';
import { registerClassify } from './commands/classify.js';
import { registerEvaluateModel } from './commands/evaluate-model.js';
import { registerRunTrainingCells } from './commands/run-training-cells.js';
import { registerModelStatus, registerSelectModel } from './commands/select-model.js';
import { registerShowTrainingPlots } from './commands/show-training-plots.js';
import { registerTrainModel } from './commands/train-model.js';
import { createImgclsContext } from './common/context.js';

/** Wires the commands, the status bar item and the shared workers; does no work itself. */
export function activate(context: vscode.ExtensionContext): void {
  const ctx = createImgclsContext(context);
  context.subscriptions.push(
    registerClassify(ctx),
    registerTrainModel(ctx),
    registerRunTrainingCells(ctx),
    registerShowTrainingPlots(ctx),
    registerEvaluateModel(ctx),
    registerSelectModel(ctx),
    registerModelStatus(),
  );
}

export function deactivate(): void {}
