// Builds the temp workspace the VS Code tests open: sample images, a corrupt image, a tiny dataset,
// a trained checkpoint (head mode, the library's train()), a lesson notebook with `train` cells and settings.
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { train, writeSampleDataset } from '../../src/index.js';

/** What the tests need to know about the workspace. */
export interface TestWorkspace {
  dir: string;
  classNames: string[];
  checkpoint: string;
  /** The finished run of the setup's training (has history.jsonl). */
  seedRun: string;
  cleanup(): Promise<void>;
}

/** A notebook with a markdown cell, two code cells tagged `train`, and an untagged code cell. */
function lessonNotebook(): string {
  const cell = (cellType: 'markdown' | 'code', source: string, tags: string[] = []) => ({
    cell_type: cellType,
    metadata: tags.length ? { tags } : {},
    source: [source],
    ...(cellType === 'code' ? { execution_count: null, outputs: [] } : {}),
  });
  return JSON.stringify({
    cells: [
      cell('markdown', '# Training'),
      cell('code', 'const epochs = 1;', ['train']),
      cell('code', 'console.log(epochs);', ['train', 'slow']),
      cell('code', 'console.log("not training");'),
    ],
    metadata: { kernelspec: { name: 'tslab', display_name: 'TypeScript', language: 'typescript' } },
    nbformat: 4,
    nbformat_minor: 5,
  }, null, 1);
}

/** Creates the workspace; training the checkpoint takes most of the time (feature extraction on the sample). */
export async function createTestWorkspace(): Promise<TestWorkspace> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'imgcls-vscode-ws-'));
  const dataset = path.join(dir, 'dataset');
  const { classNames } = await writeSampleDataset(dataset, { imagesPerClass: 6 });
  const images = path.join(dir, 'images');
  await fs.mkdir(images);
  for (const className of classNames) {
    const files = (await fs.readdir(path.join(dataset, 'val', className))).sort();
    await fs.copyFile(path.join(dataset, 'val', className, files[0]), path.join(images, `${className}-1.jpg`));
  }
  // a JPEG header followed by garbage: decoding must fail with a readable error
  await fs.writeFile(path.join(images, 'corrupt.jpg'), Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.alloc(64, 0x5a)]));
  const seedRun = path.join(dir, 'runs', 'seed');
  const result = await train({ data: dataset, outDir: seedRun, mode: 'head', epochs: 3, batchSize: 4 });
  const checkpoint = result.checkpoints.best;
  await fs.mkdir(path.join(dir, 'notebooks'));
  await fs.writeFile(path.join(dir, 'notebooks', 'image-classification.ipynb'), lessonNotebook());
  await fs.mkdir(path.join(dir, '.vscode'));
  await fs.writeFile(path.join(dir, '.vscode', 'settings.json'), JSON.stringify({
    'imgcls.checkpoint': path.relative(dir, checkpoint),
    'imgcls.datasetPath': 'dataset',
    'imgcls.outputFolder': 'runs',
    'imgcls.epochs': 2,
    'imgcls.batchSize': 4,
  }, null, 2));
  await fs.writeFile(path.join(dir, 'expected.json'), JSON.stringify({ classNames }));
  return { dir, classNames, checkpoint, seedRun, cleanup: () => fs.rm(dir, { recursive: true, force: true }) };
}
