import * as path from 'node:path';
import * as vscode from 'vscode';
import type { TrainJob } from '../worker/protocol.js';

/** The imgcls.* settings, with their manifest defaults. */
export interface ImgclsSettings {
  datasetPath: string;
  checkpoint: string;
  outputFolder: string;
  trainingMode: TrainJob['mode'];
  epochs: number;
  batchSize: number;
  learningRate: number;
  topClasses: number;
}

/** Reads the imgcls.* settings. */
export function readSettings(): ImgclsSettings {
  const config = vscode.workspace.getConfiguration('imgcls');
  return {
    datasetPath: config.get<string>('datasetPath', ''),
    checkpoint: config.get<string>('checkpoint', ''),
    outputFolder: config.get<string>('outputFolder', 'runs'),
    trainingMode: config.get<TrainJob['mode']>('trainingMode', 'head'),
    epochs: config.get<number>('epochs', 10),
    batchSize: config.get<number>('batchSize', 10),
    learningRate: config.get<number>('learningRate', 0.001),
    topClasses: config.get<number>('topClasses', 3),
  };
}

/** The first workspace folder's path, if any. */
export function workspaceRoot(): string | undefined {
  return vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
}

/** Resolves a setting path: absolute as is, relative against the first workspace folder. */
export function resolvePath(value: string): string | undefined {
  if (!value) return undefined;
  if (path.isAbsolute(value)) return value;
  const root = workspaceRoot();
  return root ? path.join(root, value) : undefined;
}

/** Resolves the run output folder (imgcls.outputFolder), defaulting to `runs` in the workspace. */
export function outputFolder(): string | undefined {
  return resolvePath(readSettings().outputFolder || 'runs');
}
