import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import sharp from 'sharp';
import {
  isImgclsError,
  loadImage,
  scanDataset,
  streamBatches,
  type ImageBatch,
  type ImageItem,
} from '../../src/index.js';
import { rgbPixels, tempDir, writeFixture } from './fixtures.js';

let dir: string;
let cleanup: () => Promise<void>;
before(async () => ({ dir, cleanup } = await tempDir()));
after(async () => cleanup());

/** A solid-colour PNG whose red channel encodes `index`, so tests can check order and content. */
async function indexedImage(relative: string, index: number): Promise<string> {
  const pixels = rgbPixels(30 + index, 20, () => [index * 10, 100, 200]);
  return writeFixture(dir, relative, await sharp(pixels, { raw: { width: 30 + index, height: 20, channels: 3 } }).png().toBuffer());
}

async function collect(items: ReadonlyArray<ImageItem | string>, options: Parameters<typeof streamBatches>[1] = {}): Promise<ImageBatch[]> {
  const batches: ImageBatch[] = [];
  for await (const batch of streamBatches(items, options)) batches.push(batch);
  return batches;
}

describe('streamBatches', () => {
  test('batches keep input order, labels and pixel content; bad files are skipped with reasons', async () => {
    const good = await Promise.all(Array.from({ length: 7 }, (_, i) => indexedImage(`mixed/ok${i}.png`, i)));
    const empty = await writeFixture(dir, 'mixed/empty.jpg', Buffer.alloc(0));
    const text = await writeFixture(dir, 'mixed/text.jpg', 'not an image at all');
    const jpeg = await sharp(rgbPixels(200, 100, () => [1, 2, 3]), { raw: { width: 200, height: 100, channels: 3 } }).jpeg().toBuffer();
    const truncated = await writeFixture(dir, 'mixed/cut.jpg', jpeg.subarray(0, jpeg.length >> 1));
    const items: ImageItem[] = [
      { file: good[0], label: 0 }, { file: empty, label: 1 }, { file: good[1], label: 1 }, { file: good[2], label: 0 },
      { file: text, label: 0 }, { file: good[3], label: 1 }, { file: good[4], label: 0 }, { file: truncated, label: 1 },
      { file: good[5], label: 1 }, { file: good[6], label: 0 },
    ];
    const batches = await collect(items, { batchSize: 4, preprocessing: { inputSize: 32 }, concurrency: 3 });
    assert.equal(batches.length, 3);
    assert.deepEqual(batches.map((b) => b.count), [3, 2, 2]);
    assert.deepEqual(batches.flatMap((b) => b.files), good);
    assert.deepEqual(batches.flatMap((b) => b.labels), [0, 1, 0, 1, 0, 1, 0]);
    const skipped = batches.flatMap((b) => b.skipped);
    assert.deepEqual(skipped.map((s) => s.file), [empty, text, truncated]);
    assert.match(skipped[0].reason, /^IMAGE_EMPTY/);
    assert.match(skipped[1].reason, /^IMAGE_UNREADABLE/);
    assert.match(skipped[2].reason, /^IMAGE_TRUNCATED/);
    const imageLength = 32 * 32 * 3;
    for (const batch of batches) {
      assert.equal(batch.inputSize, 32);
      assert.equal(batch.data.length, batch.count * imageLength);
      batch.files.forEach((file, i) => {
        const index = good.indexOf(file);
        assert.ok(Math.abs(batch.data[i * imageLength] - (index * 10) / 255) < 1e-6, `pixel content of ${path.basename(file)}`);
      });
    }
  });

  test('batch data equals loadImage of each file', async () => {
    const files = await Promise.all([0, 1, 2].map((i) => indexedImage(`same/${i}.png`, i + 3)));
    const [batch] = await collect(files, { batchSize: 8 });
    for (const [i, file] of files.entries()) {
      const single = await loadImage(file);
      assert.deepEqual(batch.data.subarray(i * single.length, (i + 1) * single.length), single);
    }
  });

  test('plain strings get label -1; a batch where every file failed is yielded with count 0', async () => {
    const bad = await Promise.all([0, 1].map((i) => writeFixture(dir, `allbad/${i}.jpg`, Buffer.alloc(0))));
    const ok = await indexedImage('allbad/ok.png', 1);
    const batches = await collect([...bad, ok], { batchSize: 2 });
    assert.deepEqual(batches.map((b) => b.count), [0, 1]);
    assert.equal(batches[0].data.length, 0);
    assert.equal(batches[0].skipped.length, 2);
    assert.deepEqual(batches[1].labels, [-1]);
  });

  test('no items → no batches; bad options → USAGE', async () => {
    assert.equal((await collect([])).length, 0);
    await assert.rejects(collect(['x.jpg'], { batchSize: 0 }), (err) => isImgclsError(err, 'USAGE'));
    await assert.rejects(collect(['x.jpg'], { concurrency: 1.5 }), (err) => isImgclsError(err, 'USAGE'));
  });

  test('an aborted signal stops the stream between batches with CANCELLED', async () => {
    const files = await Promise.all(Array.from({ length: 6 }, (_, i) => indexedImage(`abort/${i}.png`, i)));
    const controller = new AbortController();
    const seen: number[] = [];
    await assert.rejects(
      (async () => {
        for await (const batch of streamBatches(files, { batchSize: 2, signal: controller.signal })) {
          seen.push(batch.count);
          controller.abort();
        }
      })(),
      (err) => isImgclsError(err, 'CANCELLED'),
    );
    assert.deepEqual(seen, [2]);
  });

  test('decodes ahead of the consumer but only `prefetch` batches ahead, however long the input', async () => {
    const file = await indexedImage('ahead/one.png', 1);
    const files = Array.from({ length: 400 }, () => file);
    let highestIndexRead = -1;
    const watched = new Proxy(files, {
      get(target, key, receiver) {
        if (typeof key === 'string' && /^\d+$/.test(key)) highestIndexRead = Math.max(highestIndexRead, Number(key));
        return Reflect.get(target, key, receiver);
      },
    });
    const stream = streamBatches(watched, { batchSize: 4, prefetch: 2, preprocessing: { inputSize: 16 } });
    const first = await stream.next();
    assert.equal(first.done, false);
    await new Promise((resolve) => setTimeout(resolve, 100)); // a slow consumer
    // batch 0 is with the consumer; batches 1 and 2 are being decoded; nothing beyond is touched
    assert.equal(highestIndexRead, 3 * 4 - 1);
    await stream.return(undefined);
  });

  test('breaking out early ends the stream cleanly', async () => {
    const files = await Promise.all(Array.from({ length: 9 }, (_, i) => indexedImage(`early/${i}.png`, i)));
    let batches = 0;
    for await (const batch of streamBatches(files, { batchSize: 2, prefetch: 3 })) {
      batches += batch.count > 0 ? 1 : 0;
      break;
    }
    assert.equal(batches, 1);
  });

  test('scan + stream a dataset that contains bad files completes and accounts for every file', async () => {
    const root = path.join(dir, 'ds');
    for (let i = 0; i < 5; i++) await indexedImage(`ds/a/${i}.png`, i);
    for (let i = 0; i < 4; i++) await indexedImage(`ds/b/${i}.png`, i + 5);
    await writeFixture(root, 'b/broken.jpg', 'text pretending to be a JPEG');
    await writeFixture(root, 'a/zero.png', Buffer.alloc(0));
    const dataset = await scanDataset(root, { validPct: 0.25, seed: 1 });
    const items = [...dataset.train, ...dataset.valid];
    const batches = await collect(items, { batchSize: 3 });
    const decoded = batches.reduce((sum, b) => sum + b.count, 0);
    const skipped = batches.flatMap((b) => b.skipped).map((s) => path.basename(s.file)).sort();
    assert.equal(decoded, 9);
    assert.deepEqual(skipped, ['broken.jpg', 'zero.png']);
    assert.equal(decoded + skipped.length, items.length);
  });
});
