import * as crypto from 'node:crypto';
import * as vscode from 'vscode';

/** A fresh script nonce per render, from the crypto module (a predictable RNG would defeat the CSP). */
export function createNonce(): string {
  return crypto.randomBytes(16).toString('base64');
}

/** Options for one webview page. */
export interface PageOptions {
  title: string;
  /** Plotly injects <style> rules at run time, so plot pages alone allow inline styles (plotly/plotly.js#2355). */
  allowInlineStyles: boolean;
  /** Load plotly.js from the extension's own files. */
  plotly: boolean;
}

/** The HTML shell of every imgcls webview: strict CSP, nonce'd local scripts, no remote anything. */
export function renderPage(webview: vscode.Webview, extensionUri: vscode.Uri, options: PageOptions): string {
  const nonce = createNonce();
  const dist = vscode.Uri.joinPath(extensionUri, 'extension', 'dist');
  const media = vscode.Uri.joinPath(extensionUri, 'extension', 'media');
  const styleSrc = `${webview.cspSource}${options.allowInlineStyles ? " 'unsafe-inline'" : ''}`;
  const csp = [
    "default-src 'none'",
    `img-src ${webview.cspSource} data:`,
    `style-src ${styleSrc}`,
    `font-src ${webview.cspSource}`,
    `script-src 'nonce-${nonce}'`,
  ].join('; ');
  const scripts = [
    ...(options.plotly ? [webview.asWebviewUri(vscode.Uri.joinPath(dist, 'media', 'plotly.min.js'))] : []),
    webview.asWebviewUri(vscode.Uri.joinPath(dist, 'webview', 'main.js')),
  ];
  return `<!DOCTYPE html>
<html lang="${vscode.env.language}">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link rel="stylesheet" href="${webview.asWebviewUri(vscode.Uri.joinPath(media, 'imgcls.css'))}">
<title>${escapeHtml(options.title)}</title>
</head>
<body>
<h1 id="heading">${escapeHtml(options.title)}</h1>
<p id="status"></p>
<main id="content"></main>
${scripts.map((src) => `<script nonce="${nonce}" src="${src}"></script>`).join('\n')}
</body>
</html>`;
}

/** Escapes text for HTML. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
}

/** The local roots every imgcls webview may load from: the extension's media and built files. */
export function extensionRoots(extensionUri: vscode.Uri): vscode.Uri[] {
  return [vscode.Uri.joinPath(extensionUri, 'extension', 'media'), vscode.Uri.joinPath(extensionUri, 'extension', 'dist')];
}
