import * as vscode from 'vscode';
import { ImgclsPanel } from '../webviews/panel.js';
import { MlWorker } from '../worker/client.js';

/** What every command shares: the output channel and the two ML workers (training runs apart from Classify). */
export interface ImgclsContext {
  readonly extension: vscode.ExtensionContext;
  readonly output: vscode.LogOutputChannel;
  /** Runs Classify and Evaluate; keeps loaded checkpoints warm. */
  readonly inference: MlWorker;
  /** Runs training; terminated when a cancelled run does not stop. */
  readonly training: MlWorker;
}

/** Creates the shared context and registers its disposables. */
export function createImgclsContext(extension: vscode.ExtensionContext): ImgclsContext {
  const output = vscode.window.createOutputChannel('imgcls', { log: true });
  const log = (line: string) => output.info(line);
  const inference = new MlWorker(extension.extensionPath, log);
  const training = new MlWorker(extension.extensionPath, log);
  ImgclsPanel.log = (line) => output.warn(`webview ${line}`);
  extension.subscriptions.push(output, inference, training);
  return { extension, output, inference, training };
}
