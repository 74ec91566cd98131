import * as vscode from 'vscode';
import type { ImgclsContext } from './context.js';

interface LibraryErrorLike {
  message: string;
  code?: string;
  file?: string;
  hint?: string;
}

function isLibraryError(err: unknown): err is Error & LibraryErrorLike {
  return err instanceof Error && typeof (err as LibraryErrorLike).code === 'string';
}

/** The readable text of a library error: message, then the file and the hint on their own. */
export function describeError(err: LibraryErrorLike): string {
  const parts = [err.message];
  if (err.hint) parts.push(err.hint);
  return parts.join(' — ');
}

/** Shows a library error as a notification, offering to open the file it names. */
export async function showLibraryError(err: LibraryErrorLike): Promise<void> {
  const openFile = vscode.l10n.t('Open File');
  const choice = await vscode.window.showErrorMessage(
    vscode.l10n.t('imgcls: {0}', describeError(err)),
    ...(err.file ? [openFile] : []),
  );
  if (choice === openFile && err.file) await vscode.commands.executeCommand('vscode.open', vscode.Uri.file(err.file));
}

/**
 * Runs a command body: an ImgclsError becomes an error notification with its hint;
 * anything unexpected goes to the output channel with its stack.
 */
export async function runCommand<T>(ctx: ImgclsContext, name: string, body: () => Promise<T>): Promise<T | undefined> {
  try {
    return await body();
  } catch (err) {
    if (isLibraryError(err)) {
      if (err.code === 'CANCELLED') {
        ctx.output.info(`${name}: cancelled`);
        void vscode.window.showInformationMessage(vscode.l10n.t('imgcls: {0} was cancelled.', name));
        return undefined;
      }
      ctx.output.error(`${name}: [${err.code}] ${err.message}${err.file ? ` (${err.file})` : ''}`);
      void showLibraryError(err);
      return undefined;
    }
    const error = err instanceof Error ? err : new Error(String(err));
    ctx.output.error(`${name}: ${error.stack ?? error.message}`);
    const showLog = vscode.l10n.t('Show Log');
    void vscode.window
      .showErrorMessage(vscode.l10n.t('imgcls: unexpected error in {0}: {1}', name, error.message), showLog)
      .then((choice) => choice === showLog && ctx.output.show());
    return undefined;
  }
}

/** Throws a readable error with a code, like the library's ImgclsError, for checks made in the extension. */
export class ExtensionError extends Error implements LibraryErrorLike {
  constructor(message: string, readonly code: string, readonly hint?: string, readonly file?: string) {
    super(message);
    this.name = 'ExtensionError';
  }
}

/** Fails with a readable message when the workspace is not trusted (training and classification run code on files). */
export function requireTrust(): void {
  if (!vscode.workspace.isTrusted) {
    throw new ExtensionError(
      vscode.l10n.t('This workspace is not trusted.'),
      'UNTRUSTED',
      vscode.l10n.t('Trust the workspace to train or classify; viewing plots works without trust.'),
    );
  }
}
