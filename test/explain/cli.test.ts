import { execFile } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { explainCommand } from '../../src/cli/explain.js';
import { main } from '../../src/cli/main.js';
import { isImgclsError } from '../../src/errors.js';
import { explain } from '../../src/explain/index.js';
import { createBackboneEngine } from '../../src/model/engine.js';
import { loadClassifier } from '../../src/model/classifier.js';
import { argmax, cellsOf, patchDetectorHead, writeHeadCheckpoint, writePatchImage } from './helpers.js';

const execFileAsync = promisify(execFile);
const BIN = path.resolve('bin', 'imgcls.js');

/**
 * Runs fn with the text it writes to stdout captured; returns its result and that text. Only string
 * writes are captured: node:test's own binary messages on the same stream pass through.
 */
async function captureStdout<T>(fn: () => Promise<T>): Promise<{ result: T; stdout: string }> {
  const original = process.stdout.write;
  let stdout = '';
  process.stdout.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
    if (typeof chunk !== 'string') return (original as (...args: unknown[]) => boolean).call(process.stdout, chunk, ...rest);
    stdout += chunk;
    return true;
  }) as typeof process.stdout.write;
  try {
    return { result: await fn(), stdout };
  } finally {
    process.stdout.write = original;
  }
}

describe('imgcls explain', () => {
  let dir: string;
  let checkpoint: string;
  let image: string;

  before(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'imgcls-explain-cli-'));
    image = path.join(dir, 'poster.png');
    const flat = path.join(dir, 'flat.png');
    // patch at pixels x 32–95, y 128–191 of 224 × 224 = map rows 4–5, cols 1–2
    await writePatchImage(image, 224, 224, { left: 32, top: 128, size: 64 });
    await writePatchImage(flat, 224, 224);
    const engine = await createBackboneEngine();
    try {
      const { head } = await patchDetectorHead(engine, image, flat, cellsOf(7, 4, 5, 1, 2));
      checkpoint = path.join(dir, 'hand.imgcls');
      await writeHeadCheckpoint(checkpoint, head, ['flat', 'patch']);
    } finally {
      await engine.dispose();
    }
  });

  after(() => fs.rm(dir, { recursive: true, force: true }));

  it('bin/imgcls.js explain writes the overlay PNG and a figure, and prints the class explained', async () => {
    const out = path.join(dir, 'out', 'overlay.png');
    const figure = path.join(dir, 'cam.json');
    // a real process: exit code 0 (execFile rejects otherwise), stdout as a user sees it
    const { stdout } = await execFileAsync(process.execPath, [BIN, 'explain', checkpoint, image, '-o', out, '--figure', figure]);
    assert.match(stdout, /^patch \d+\.\d% \(predicted\)/);
    assert.match(stdout, /hottest cell: row [56], column [23] of 7×7/);
    const { data, info } = await sharp(out).raw().toBuffer({ resolveWithObject: true });
    assert.deepEqual([info.width, info.height], [224, 224]);
    // the hottest colour of the jet map is red: find the reddest pixel
    const redness = new Float32Array(info.width * info.height).map((_, i) => data[i * info.channels] - data[i * info.channels + 2]);
    const reddest = argmax(redness);
    const [x, y] = [reddest % 224, Math.floor(reddest / 224)];
    assert.ok(x >= 16 && x < 112 && y >= 112 && y < 208, `reddest pixel at (${x}, ${y}), patch at x 32–95, y 128–191`);
    const json = JSON.parse(await fs.readFile(figure, 'utf8'));
    assert.equal(json.data[0].type, 'heatmap');
    assert.equal(json.data[0].z.length, 7);
  });

  it('--class and --json: explains the class asked for and prints the explanation as JSON', async () => {
    const out = path.join(dir, 'flat.png.overlay.png');
    const { result, stdout } = await captureStdout(() => explainCommand([checkpoint, image, '-o', out, '--class', 'flat', '--json', '--max-size', '100']));
    assert.equal(result, 0);
    const printed = JSON.parse(stdout);
    assert.equal(printed.className, 'flat');
    assert.equal(printed.predictedClassName, 'patch');
    assert.equal(printed.map.length, 49);
    assert.equal(printed.overlay, out);
    const meta = await sharp(out).metadata();
    assert.deepEqual([meta.width, meta.height], [100, 100]);
  });

  it('bad usage is exit code 2, a missing image exit code 1, and nothing is written', async () => {
    const out = path.join(dir, 'never.png');
    const quiet = async (argv: string[]) => {
      const original = process.stderr.write;
      process.stderr.write = (() => true) as typeof process.stderr.write;
      try {
        return await main(argv);
      } finally {
        process.stderr.write = original;
      }
    };
    assert.equal(await quiet(['explain', checkpoint]), 2);
    assert.equal(await quiet(['explain', checkpoint, image, '--bogus']), 2);
    assert.equal(await quiet(['explain', checkpoint, image, '-o', out, '--class', 'dog']), 2);
    assert.equal(await quiet(['explain', checkpoint, image, '-o', out, '--opacity', '2']), 2);
    assert.equal(await quiet(['explain', checkpoint, path.join(dir, 'missing.jpg'), '-o', out]), 1);
    await assert.rejects(explainCommand([checkpoint, path.join(dir, 'missing.jpg'), '-o', out]), (err) => isImgclsError(err, 'IMAGE_UNREADABLE'));
    await assert.rejects(explainCommand([path.join(dir, 'none.imgcls'), image, '-o', out]), (err) => isImgclsError(err, 'CHECKPOINT_NOT_FOUND'));
    await assert.rejects(fs.stat(out));
  });

  it('through loadClassifier, explain() agrees with classify() on class and probability', async () => {
    const classifier = await loadClassifier(checkpoint);
    try {
      const [top] = await classifier.classify(image, 1);
      const explanation = await explain(classifier, image);
      assert.equal(explanation.className, top.className);
      assert.ok(Math.abs(explanation.probability - top.probability) < 1e-4, `${explanation.probability} vs ${top.probability}`);
    } finally {
      await classifier.dispose();
    }
  });

  it('--help prints usage and exits 0', async () => {
    const { result, stdout } = await captureStdout(() => explainCommand(['--help']));
    assert.equal(result, 0);
    assert.match(stdout, /^Usage: imgcls explain <checkpoint> <image>/);
  });
});
