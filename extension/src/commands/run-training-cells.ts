import * as vscode from 'vscode';
import type { ImgclsContext } from '../common/context.js';
import { ExtensionError, requireTrust, runCommand } from '../common/run-command.js';

/** The lesson notebook, relative to a workspace folder. */
export const LESSON_NOTEBOOK = 'notebooks/image-classification.ipynb';
/** The cell tag that marks the lesson's training cells. */
export const TRAIN_TAG = 'train';

/** The tags of a notebook cell, wherever the ipynb serializer keeps Jupyter's cell metadata. */
export function cellTags(cell: vscode.NotebookCell): string[] {
  const metadata = cell.metadata as { tags?: unknown; metadata?: { tags?: unknown }; custom?: { metadata?: { tags?: unknown } } };
  const tags = metadata.metadata?.tags ?? metadata.tags ?? metadata.custom?.metadata?.tags;
  return Array.isArray(tags) ? tags.filter((tag): tag is string => typeof tag === 'string') : [];
}

/** Contiguous ranges of the cells tagged `train`, as notebook.cell.execute expects them. */
export function trainCellRanges(notebook: vscode.NotebookDocument): { start: number; end: number }[] {
  const ranges: { start: number; end: number }[] = [];
  for (const cell of notebook.getCells()) {
    if (cell.kind !== vscode.NotebookCellKind.Code || !cellTags(cell).includes(TRAIN_TAG)) continue;
    const last = ranges.at(-1);
    if (last && last.end === cell.index) last.end = cell.index + 1;
    else ranges.push({ start: cell.index, end: cell.index + 1 });
  }
  return ranges;
}

function isLesson(uri: vscode.Uri): boolean {
  return uri.path.endsWith(`/${LESSON_NOTEBOOK}`);
}

/** What Run Training Cells did: ran the tagged cells of the open lesson, or opened it. */
export type RunTrainingCellsResult = { action: 'executed'; ranges: { start: number; end: number }[] } | { action: 'opened'; uri: string };

/** Registers imgcls.runTrainingCells. */
export function registerRunTrainingCells(ctx: ImgclsContext): vscode.Disposable {
  return vscode.commands.registerCommand('imgcls.runTrainingCells', () =>
    runCommand(ctx, vscode.l10n.t('Run Training Cells'), () => runTrainingCells(ctx)),
  );
}

/** Executes the lesson's `train` cells when the lesson is open in an editor; otherwise opens it. */
export async function runTrainingCells(ctx: ImgclsContext): Promise<RunTrainingCellsResult> {
  requireTrust();
  const editor = vscode.window.activeNotebookEditor && isLesson(vscode.window.activeNotebookEditor.notebook.uri)
    ? vscode.window.activeNotebookEditor
    : vscode.window.visibleNotebookEditors.find((e) => isLesson(e.notebook.uri));
  if (editor) {
    const ranges = trainCellRanges(editor.notebook);
    if (ranges.length === 0) {
      throw new ExtensionError(vscode.l10n.t('The lesson notebook has no cells tagged "{0}".', TRAIN_TAG), 'NO_TRAIN_CELLS',
        vscode.l10n.t('Add the tag "{0}" to the cells that train.', TRAIN_TAG), editor.notebook.uri.fsPath);
    }
    ctx.output.info(`notebook: executing cells ${ranges.map((r) => `${r.start}-${r.end - 1}`).join(', ')} of ${editor.notebook.uri.fsPath}`);
    await vscode.commands.executeCommand('notebook.cell.execute', { ranges, document: editor.notebook.uri });
    return { action: 'executed', ranges };
  }
  const found = await vscode.workspace.findFiles(`**/${LESSON_NOTEBOOK}`, '**/node_modules/**', 1);
  if (found.length === 0) {
    throw new ExtensionError(vscode.l10n.t('The lesson notebook {0} is not in this workspace.', LESSON_NOTEBOOK), 'NO_NOTEBOOK',
      vscode.l10n.t('Open the imgcls repository folder, which contains the lesson.'));
  }
  const notebook = await vscode.workspace.openNotebookDocument(found[0]);
  await vscode.window.showNotebookDocument(notebook);
  ctx.output.info(`notebook: opened ${found[0].fsPath}; run the command again to execute its training cells`);
  void vscode.window.showInformationMessage(vscode.l10n.t('Opened the lesson notebook. Run the command again to execute its training cells.'));
  return { action: 'opened', uri: found[0].toString() };
}
