// Shared fixture of the predict and eval tests (no tests here): a head model trained on the generated sample.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { writeSampleDataset } from '../../src/data/sample.js';
import { train } from '../../src/train/train.js';

export interface SampleRun {
  /** The generated dataset root (train/ + val/, classes logo and others). */
  root: string;
  /** best.imgcls of a short head-mode run. */
  checkpoint: string;
  historyFile: string;
}

/** Writes the sample dataset into dir and trains a head model on it for a few epochs (seconds). */
export async function trainSampleRun(dir: string): Promise<SampleRun> {
  const { root } = await writeSampleDataset(path.join(dir, 'data'), { imagesPerClass: 8 });
  const result = await train({ data: root, outDir: path.join(dir, 'run'), epochs: 4, cacheDir: path.join(dir, 'cache') });
  return { root, checkpoint: result.checkpoints.best, historyFile: result.historyFile };
}

/**
 * A folder mixing good and bad files: two readable images (one in a subfolder), a truncated JPEG,
 * text named .jpg, an empty .png, and a .txt that folder expansion ignores. Returns the folder and
 * the image-named files in sorted order with whether each is readable.
 */
export async function writeMixedFolder(dir: string, root: string): Promise<{ folder: string; files: { file: string; good: boolean }[] }> {
  const folder = path.join(dir, 'mixed');
  await fs.mkdir(path.join(folder, 'sub'), { recursive: true });
  const logo = (await fs.readdir(path.join(root, 'train', 'logo'))).sort()[0];
  const others = (await fs.readdir(path.join(root, 'train', 'others'))).sort()[0];
  const logoBytes = await fs.readFile(path.join(root, 'train', 'logo', logo));
  await fs.writeFile(path.join(folder, 'a-logo.jpg'), logoBytes);
  await fs.copyFile(path.join(root, 'train', 'others', others), path.join(folder, 'sub', 'b-others.jpg'));
  await fs.writeFile(path.join(folder, 'c-truncated.jpg'), logoBytes.subarray(0, 300));
  await fs.writeFile(path.join(folder, 'd-text.jpg'), 'not an image\n');
  await fs.writeFile(path.join(folder, 'e-empty.png'), '');
  await fs.writeFile(path.join(folder, 'notes.txt'), 'ignored\n');
  const files = [
    { file: path.join(folder, 'a-logo.jpg'), good: true },
    { file: path.join(folder, 'c-truncated.jpg'), good: false },
    { file: path.join(folder, 'd-text.jpg'), good: false },
    { file: path.join(folder, 'e-empty.png'), good: false },
    { file: path.join(folder, 'sub', 'b-others.jpg'), good: true },
  ];
  return { folder, files };
}
