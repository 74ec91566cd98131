import * as vscode from 'vscode';
import type { FromWebview, ToWebview } from './messages.js';
import { extensionRoots, renderPage } from './html.js';

/** What kind of page a panel shows. */
export interface PanelKind {
  viewType: string;
  title: string;
  plotly: boolean;
}

/**
 * One reusable webview panel per kind: created on first show, revealed afterwards; posts typed messages once the
 * page says it is ready, keeping only the latest message while it loads.
 */
export class ImgclsPanel implements vscode.Disposable {
  private static readonly open = new Map<string, ImgclsPanel>();
  /** Where pages' script errors are reported (the output channel, set on activation). */
  static log: (line: string) => void = () => undefined;
  private readonly disposables: vscode.Disposable[] = [];
  private ready = false;
  private latest: ToWebview | undefined;
  private readonly messageEmitter = new vscode.EventEmitter<FromWebview>();
  /** Fires for every message the page posts. */
  readonly onMessage = this.messageEmitter.event;

  /** Shows the panel of this kind (creating it when needed); extra roots let it show images from those folders. */
  static show(extensionUri: vscode.Uri, kind: PanelKind, extraRoots: vscode.Uri[] = []): ImgclsPanel {
    const existing = ImgclsPanel.open.get(kind.viewType);
    if (existing && sameRoots(existing.roots, extraRoots)) {
      existing.panel.reveal(undefined, true);
      return existing;
    }
    existing?.dispose();
    const panel = new ImgclsPanel(extensionUri, kind, extraRoots);
    ImgclsPanel.open.set(kind.viewType, panel);
    return panel;
  }

  /** The open panel of a kind, if any. */
  static get(viewType: string): ImgclsPanel | undefined {
    return ImgclsPanel.open.get(viewType);
  }

  /**
   * Adopts a panel VS Code restored after a reload (a webview serializer's deserializeWebviewPanel) and shows the
   * page's saved state again: the last message it rendered.
   */
  static restore(extensionUri: vscode.Uri, kind: PanelKind, webviewPanel: vscode.WebviewPanel, state: unknown, extraRoots: vscode.Uri[] = []): ImgclsPanel {
    ImgclsPanel.open.get(kind.viewType)?.dispose();
    const panel = new ImgclsPanel(extensionUri, kind, extraRoots, webviewPanel);
    ImgclsPanel.open.set(kind.viewType, panel);
    const saved = (state as { message?: ToWebview } | undefined)?.message;
    if (saved) panel.post(saved);
    return panel;
  }

  readonly panel: vscode.WebviewPanel;

  private constructor(extensionUri: vscode.Uri, readonly kind: PanelKind, private readonly roots: vscode.Uri[], restored?: vscode.WebviewPanel) {
    const options = { enableScripts: true, retainContextWhenHidden: true, localResourceRoots: [...extensionRoots(extensionUri), ...roots] };
    if (restored) {
      restored.webview.options = options;
      this.panel = restored;
    } else {
      this.panel = vscode.window.createWebviewPanel(kind.viewType, kind.title, { viewColumn: vscode.ViewColumn.Beside, preserveFocus: true }, options);
    }
    this.panel.webview.html = renderPage(this.panel.webview, extensionUri, {
      title: kind.title,
      allowInlineStyles: kind.plotly,
      plotly: kind.plotly,
    });
    this.disposables.push(
      this.panel.onDidDispose(() => this.dispose()),
      this.panel.webview.onDidReceiveMessage((message: FromWebview) => {
        if (message.type === 'ready') {
          this.ready = true;
          if (this.latest) void this.panel.webview.postMessage(this.latest);
        }
        if (message.type === 'error') ImgclsPanel.log(`${kind.viewType}: ${message.message}`);
        this.messageEmitter.fire(message);
      }),
      this.messageEmitter,
    );
  }

  /** Posts a message now, or when the page becomes ready. */
  post(message: ToWebview): void {
    this.latest = message;
    if (this.ready) void this.panel.webview.postMessage(message);
  }

  /** Updates the status line under the heading (kept in the latest message, so a page that loads later shows it too). */
  postStatus(status: string): void {
    if (this.latest && this.latest.type === 'results') this.latest = { ...this.latest, status };
    if (this.ready) void this.panel.webview.postMessage({ type: 'status', status } satisfies ToWebview);
  }

  /** Converts a file path to a URI the page may load (it must lie under one of the panel's roots). */
  asWebviewUri(file: string): string {
    return this.panel.webview.asWebviewUri(vscode.Uri.file(file)).toString();
  }

  dispose(): void {
    if (ImgclsPanel.open.get(this.kind.viewType) === this) ImgclsPanel.open.delete(this.kind.viewType);
    const disposables = this.disposables.splice(0);
    this.panel.dispose();
    for (const d of disposables) d.dispose();
  }
}

function sameRoots(a: vscode.Uri[], b: vscode.Uri[]): boolean {
  const key = (roots: vscode.Uri[]) => roots.map((r) => r.toString()).sort().join('\n');
  return b.length === 0 || key(a) === key(b) || b.every((root) => a.some((r) => root.fsPath.startsWith(r.fsPath)));
}
