// Builds the temp workspace the VS Code tests open: sample images, a corrupt image, a tiny dataset,
// a trained checkpoint (head mode, the library's train()), a lesson notebook with `train` cells and settings.
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadClassifier, train, writeSampleDataset } from '../../src/index.js';

/** What the tests need to know about the workspace. */
export interface TestWorkspace {
  dir: string;
  classNames: string[];
  checkpoint: string;
  /** The finished run of the setup's training (has history.jsonl). */
  seedRun: string;
  /** A chart in charts/ (truly "others": anything but the logo) that the seed model calls "logo". */
  wrongChart: string;
  /** The validation image copied into train (a leak the data report finds). */
  leak: { valid: string; train: string };
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
  // a leak: a validation image copied into train
  const validLogo = (await fs.readdir(path.join(dataset, 'val', 'logo'))).sort()[1];
  const leak = { valid: path.join(dataset, 'val', 'logo', validLogo), train: path.join(dataset, 'train', 'logo', 'leak-copy.jpg') };
  await fs.copyFile(leak.valid, leak.train);
  // charts: "others" (not the logo), but the sample's others class has none, so the model is unsure about them
  const pool = path.join(dir, '.pool');
  await writeSampleDataset(pool, { imagesPerClass: 6, seed: 7, numClasses: 3 });
  const charts = path.join(dir, 'charts');
  await fs.mkdir(charts);
  const chartFiles = (await fs.readdir(path.join(pool, 'train', 'chart'))).sort();
  for (const [i, name] of chartFiles.entries()) await fs.copyFile(path.join(pool, 'train', 'chart', name), path.join(charts, `chart-${i + 1}.jpg`));
  await fs.rm(pool, { recursive: true, force: true });
  const seedRun = path.join(dir, 'runs', 'seed');
  const result = await train({ data: dataset, outDir: seedRun, mode: 'head', epochs: 3, batchSize: 4 });
  const checkpoint = result.checkpoints.best;
  // the fix-the-data test needs an image the model gets wrong: the first chart it calls "logo"
  const classifier = await loadClassifier(checkpoint);
  let wrongChart: string | undefined;
  try {
    for (const name of (await fs.readdir(charts)).sort()) {
      const [top] = await classifier.classify(path.join(charts, name));
      if (top.className !== 'others') {
        wrongChart = path.join(charts, name);
        break;
      }
    }
  } finally {
    await classifier.dispose();
  }
  if (!wrongChart) throw new Error(`the seed model classifies every chart in ${charts} as "others": the fix-the-data test has no wrong image to fix`);
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
  await fs.writeFile(path.join(dir, 'expected.json'), JSON.stringify({ classNames, wrongChart, leak }));
  return { dir, classNames, checkpoint, seedRun, wrongChart, leak, cleanup: () => fs.rm(dir, { recursive: true, force: true }) };
}
