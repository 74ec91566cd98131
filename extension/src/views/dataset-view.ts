// The imgcls Dataset view: the dataset's classes with image counts and their files, the data report's findings as
// Problems on those files; follows the files (a watcher refreshes it). Listing is plain fs; the report runs in the worker.
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { ImgclsContext } from '../common/context.js';
import { describeError } from '../common/run-command.js';
import { readSettings, resolvePath } from '../common/settings.js';
import { IMAGE_EXTENSIONS } from '../commands/classify.js';
import type { DatasetFinding } from '../worker/protocol.js';

export const DATASET_VIEW = 'imgcls.dataset';
/** Quiet time after the last file change before the view re-reads the folder and the report. */
const REFRESH_DELAY_MS = 600;

type Node =
  | { kind: 'class'; className: string; counts: Record<string, number>; files: string[] }
  | { kind: 'file'; file: string; split: string }
  | { kind: 'message'; text: string };

/** The splits a dataset folder has: train/ and val/ (or valid/), or the flat root. */
async function listSplits(root: string): Promise<{ split: string; dir: string }[]> {
  const isDir = (dir: string) => fs.stat(dir).then((s) => s.isDirectory(), () => false);
  if (await isDir(path.join(root, 'train'))) {
    const splits = [{ split: 'train', dir: path.join(root, 'train') }];
    for (const name of ['val', 'valid']) if (await isDir(path.join(root, name))) splits.push({ split: name, dir: path.join(root, name) });
    return splits;
  }
  return [{ split: 'train', dir: root }];
}

async function listClasses(root: string): Promise<Node[]> {
  const byClass = new Map<string, Node & { kind: 'class' }>();
  for (const { split, dir } of await listSplits(root)) {
    const entries = await fs.readdir(dir, { withFileTypes: true }).catch(() => []);
    for (const entry of entries) {
      if (!entry.isDirectory() || entry.name.startsWith('.')) continue;
      const node = byClass.get(entry.name) ?? { kind: 'class' as const, className: entry.name, counts: {}, files: [] };
      const files = (await fs.readdir(path.join(dir, entry.name)).catch(() => []))
        .filter((name) => !name.startsWith('.') && IMAGE_EXTENSIONS.includes(path.extname(name).toLowerCase()))
        .sort()
        .map((name) => path.join(dir, entry.name, name));
      node.counts[split] = files.length;
      node.files.push(...files);
      byClass.set(entry.name, node);
    }
  }
  return [...byClass.values()].sort((a, b) => a.className.localeCompare(b.className));
}

/** The tree of the dataset view plus the Problems it reports. */
export class DatasetView implements vscode.TreeDataProvider<Node>, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<Node | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  private readonly diagnostics = vscode.languages.createDiagnosticCollection('imgcls');
  private readonly disposables: vscode.Disposable[] = [this.changed, this.diagnostics];
  private watcher: vscode.FileSystemWatcher | undefined;
  private watchedRoot: string | undefined;
  private timer: NodeJS.Timeout | undefined;
  private roots: Node[] = [];
  private findings = new Map<string, DatasetFinding[]>();
  private reportRun = 0;
  /** Resolves after the latest refresh (listing and report) finished: for tests. */
  settled: Promise<void> = Promise.resolve();

  constructor(private readonly ctx: ImgclsContext) {
    this.disposables.push(
      vscode.workspace.onDidChangeConfiguration((event) => {
        if (event.affectsConfiguration('imgcls.datasetPath')) this.refresh();
      }),
      vscode.workspace.onDidGrantWorkspaceTrust(() => this.refresh()),
    );
    this.refresh();
  }

  /** Re-reads the dataset folder now, then the data report (trusted workspaces only: it decodes every image). */
  refresh(): Promise<void> {
    clearTimeout(this.timer);
    this.settled = this.update().catch((err: unknown) => this.ctx.output.warn(`dataset view: ${err instanceof Error ? err.message : String(err)}`));
    return this.settled;
  }

  private scheduleRefresh(): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.refresh(), REFRESH_DELAY_MS);
  }

  private watch(root: string | undefined): void {
    if (root === this.watchedRoot) return;
    this.watcher?.dispose();
    this.watchedRoot = root;
    this.watcher = undefined;
    if (!root) return;
    const watcher = vscode.workspace.createFileSystemWatcher(new vscode.RelativePattern(vscode.Uri.file(root), '**/*'));
    watcher.onDidCreate(() => this.scheduleRefresh());
    watcher.onDidDelete(() => this.scheduleRefresh());
    watcher.onDidChange(() => this.scheduleRefresh());
    this.watcher = watcher;
  }

  private async update(): Promise<void> {
    const root = resolvePath(readSettings().datasetPath);
    this.watch(root);
    if (!root) {
      this.roots = [{ kind: 'message', text: vscode.l10n.t('Set imgcls.datasetPath to show a dataset.') }];
      this.diagnostics.clear();
      this.changed.fire(undefined);
      return;
    }
    const classes = await listClasses(root);
    this.roots = classes.length > 0 ? classes : [{ kind: 'message', text: vscode.l10n.t('No class folders in {0}', root) }];
    this.changed.fire(undefined);
    if (!vscode.workspace.isTrusted) return;
    const run = ++this.reportRun;
    try {
      const report = await this.ctx.inference.datasetReport(root);
      if (run !== this.reportRun) return;
      this.setFindings(report.findings);
    } catch (err) {
      this.ctx.output.warn(`dataset view: data report failed: ${describeError(err as Error)}`);
    }
  }

  private setFindings(findings: DatasetFinding[]): void {
    this.findings = new Map();
    for (const finding of findings) this.findings.set(finding.file, [...(this.findings.get(finding.file) ?? []), finding]);
    this.diagnostics.clear();
    for (const [file, list] of this.findings) {
      this.diagnostics.set(vscode.Uri.file(file), list.map((finding) => {
        const diagnostic = new vscode.Diagnostic(new vscode.Range(0, 0, 0, 0), finding.message,
          finding.kind === 'unreadable' || finding.kind === 'leak' ? vscode.DiagnosticSeverity.Error : vscode.DiagnosticSeverity.Warning);
        diagnostic.source = 'imgcls';
        diagnostic.code = finding.kind;
        if (finding.related) {
          diagnostic.relatedInformation = [new vscode.DiagnosticRelatedInformation(new vscode.Location(vscode.Uri.file(finding.related), new vscode.Position(0, 0)),
            path.basename(finding.related))];
        }
        return diagnostic;
      }));
    }
    this.changed.fire(undefined);
  }

  /** The classes with their counts (for tests). */
  snapshot(): { className: string; counts: Record<string, number> }[] {
    return this.roots.flatMap((node) => (node.kind === 'class' ? [{ className: node.className, counts: node.counts }] : []));
  }

  /** The files that carry Problems (for tests). */
  problemFiles(): string[] {
    return [...this.findings.keys()].sort();
  }

  getChildren(node?: Node): Node[] {
    if (!node) return this.roots;
    if (node.kind === 'class') return node.files.map((file) => ({ kind: 'file' as const, file, split: path.basename(path.dirname(path.dirname(file))) }));
    return [];
  }

  getTreeItem(node: Node): vscode.TreeItem {
    if (node.kind === 'message') return new vscode.TreeItem(node.text);
    if (node.kind === 'class') {
      const item = new vscode.TreeItem(node.className, vscode.TreeItemCollapsibleState.Collapsed);
      item.description = Object.entries(node.counts).map(([split, count]) => `${split} ${count}`).join(' · ');
      const problems = node.files.filter((file) => this.findings.has(file)).length;
      if (problems > 0) item.description += ` · ${vscode.l10n.t('{0} problem(s)', problems)}`;
      item.iconPath = new vscode.ThemeIcon('symbol-folder');
      item.contextValue = 'imgclsClass';
      item.id = `class:${node.className}`;
      return item;
    }
    const item = new vscode.TreeItem(vscode.Uri.file(node.file), vscode.TreeItemCollapsibleState.None);
    item.description = node.split;
    const findings = this.findings.get(node.file);
    if (findings) {
      item.iconPath = new vscode.ThemeIcon('warning', new vscode.ThemeColor('list.warningForeground'));
      item.tooltip = findings.map((f) => f.message).join('\n');
    }
    item.command = { command: 'vscode.open', title: vscode.l10n.t('Open'), arguments: [vscode.Uri.file(node.file)] };
    item.contextValue = 'imgclsImage';
    return item;
  }

  dispose(): void {
    clearTimeout(this.timer);
    this.watcher?.dispose();
    for (const d of this.disposables.splice(0)) d.dispose();
  }
}

let current: DatasetView | undefined;

/** The live dataset view (for the extension-host tests). */
export function datasetView(): DatasetView | undefined {
  return current;
}

/** Registers the Dataset view and its refresh command. */
export function registerDatasetView(ctx: ImgclsContext): vscode.Disposable {
  const view = new DatasetView(ctx);
  current = view;
  return vscode.Disposable.from(
    view,
    vscode.window.createTreeView(DATASET_VIEW, { treeDataProvider: view, showCollapseAll: true }),
    vscode.commands.registerCommand('imgcls.refreshDataset', () => view.refresh()),
  );
}
