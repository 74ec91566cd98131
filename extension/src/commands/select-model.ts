import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { ImgclsContext } from '../common/context.js';
import { runCommand } from '../common/run-command.js';
import { outputFolder, readSettings, resolvePath, workspaceRoot } from '../common/settings.js';

/** The checkpoint file extension written by training. */
const CHECKPOINT_EXT = '.imgcls';

/** Stores the chosen checkpoint in the workspace's imgcls.checkpoint (relative to the workspace when inside it). */
export async function setSelectedModel(checkpoint: string): Promise<void> {
  const root = workspaceRoot();
  const value = root && !path.relative(root, checkpoint).startsWith('..') ? path.relative(root, checkpoint) : checkpoint;
  const target = root ? vscode.ConfigurationTarget.Workspace : vscode.ConfigurationTarget.Global;
  await vscode.workspace.getConfiguration('imgcls').update('checkpoint', value, target);
}

async function findCheckpoints(dir: string, depth: number, found: string[]): Promise<void> {
  let entries: import('node:fs').Dirent[];
  try {
    entries = await fs.readdir(dir, { withFileTypes: true });
  } catch {
    return;
  }
  for (const entry of entries) {
    const file = path.join(dir, entry.name);
    if (entry.name.endsWith(CHECKPOINT_EXT)) found.push(file);
    else if (entry.isDirectory() && depth > 0 && !entry.name.startsWith('.') && entry.name !== 'node_modules') await findCheckpoints(file, depth - 1, found);
  }
}

/** Registers imgcls.selectModel: pick a checkpoint from the runs folder, or browse for one. */
export function registerSelectModel(ctx: ImgclsContext): vscode.Disposable {
  return vscode.commands.registerCommand('imgcls.selectModel', (uri?: vscode.Uri) =>
    runCommand(ctx, vscode.l10n.t('Select Model'), async () => {
      let checkpoint = uri?.fsPath;
      if (!checkpoint) {
        const found: string[] = [];
        const runs = outputFolder();
        if (runs) await findCheckpoints(runs, 3, found);
        const browse = vscode.l10n.t('Browse…');
        const items: vscode.QuickPickItem[] = [
          ...found.sort().reverse().map((file) => ({ label: path.basename(file), description: vscode.workspace.asRelativePath(file), detail: file })),
          { label: browse, alwaysShow: true },
        ];
        const picked = await vscode.window.showQuickPick(items, { title: vscode.l10n.t('Select the model Classify uses'), placeHolder: vscode.l10n.t('Checkpoints under {0}', runs ?? '—') });
        if (!picked) return undefined;
        if (picked.label === browse) {
          const files = await vscode.window.showOpenDialog({ canSelectMany: false, canSelectFolders: true, canSelectFiles: true, openLabel: vscode.l10n.t('Select Model') });
          checkpoint = files?.[0]?.fsPath;
        } else {
          checkpoint = picked.detail;
        }
      }
      if (!checkpoint) return undefined;
      await setSelectedModel(checkpoint);
      ctx.output.info(`model: ${checkpoint}`);
      return checkpoint;
    }),
  );
}

/** A status bar item that names the selected model and opens Select Model when clicked. */
export function registerModelStatus(): vscode.Disposable {
  const item = vscode.window.createStatusBarItem('imgcls.model', vscode.StatusBarAlignment.Right, 100);
  item.name = vscode.l10n.t('imgcls model');
  item.command = 'imgcls.selectModel';
  const update = () => {
    const checkpoint = resolvePath(readSettings().checkpoint);
    item.text = `$(symbol-class) ${checkpoint ? path.basename(checkpoint) : vscode.l10n.t('no model')}`;
    item.tooltip = checkpoint ? vscode.l10n.t('imgcls model: {0} (click to change)', checkpoint) : vscode.l10n.t('imgcls: select the model Classify uses');
    item.show();
  };
  update();
  const listener = vscode.workspace.onDidChangeConfiguration((event) => event.affectsConfiguration('imgcls.checkpoint') && update());
  return vscode.Disposable.from(item, listener);
}
