import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import { addToClass, isImgclsError, undoAddToClass } from '../../src/index.js';
import { tempDir, texturedJpeg } from './fixtures.js';

let dir: string;
let cleanup: () => Promise<void>;
before(async () => ({ dir, cleanup } = await tempDir('imgcls-add-')));
after(async () => cleanup());

/** A dataset root/train with a `cat` class holding cat.jpg, and a source image outside it. */
async function dataset(name: string): Promise<{ train: string; source: string; bytes: Buffer }> {
  const root = path.join(dir, name);
  const train = path.join(root, 'train');
  await fs.mkdir(path.join(train, 'cat'), { recursive: true });
  await fs.writeFile(path.join(train, 'cat', 'photo.jpg'), await texturedJpeg(1));
  const bytes = await texturedJpeg(2);
  const source = path.join(root, 'inbox', 'photo.jpg');
  await fs.mkdir(path.dirname(source));
  await fs.writeFile(source, bytes);
  return { train, source, bytes };
}

test('a name collision gets a suffix and never overwrites; every file keeps its bytes', async () => {
  const { train, source, bytes } = await dataset('collide');
  const original = await fs.readFile(path.join(train, 'cat', 'photo.jpg'));
  const first = await addToClass(source, train, 'cat');
  const second = await addToClass(source, train, 'cat');
  assert.equal(path.basename(first.file), 'photo (2).jpg');
  assert.equal(path.basename(second.file), 'photo (3).jpg');
  assert.deepEqual(await fs.readFile(path.join(train, 'cat', 'photo.jpg')), original, 'the existing file is untouched');
  assert.deepEqual(await fs.readFile(first.file), bytes);
  assert.deepEqual(await fs.readFile(second.file), bytes);
  assert.deepEqual((await fs.readdir(path.join(train, 'cat'))).sort(), ['photo (2).jpg', 'photo (3).jpg', 'photo.jpg']);
  assert.deepEqual(await fs.readFile(source), bytes, 'the source stays where it was (a copy, not a move)');
});

test('a class folder that does not exist yet is created, and undo removes it again', async () => {
  const { train, source } = await dataset('new-class');
  const added = await addToClass(source, train, 'dog');
  assert.equal(added.createdFolder, true);
  assert.equal(added.file, path.join(train, 'dog', 'photo.jpg'));
  assert.equal(await undoAddToClass(added.undo), 'removed');
  await assert.rejects(fs.stat(path.join(train, 'dog')), /ENOENT/, 'the folder it created is gone');
  assert.deepEqual(await fs.readdir(path.join(train, 'cat')), ['photo.jpg'], 'other classes untouched');
});

test('undo removes only the copy it made, and only while unchanged', async () => {
  const { train, source } = await dataset('undo');
  const added = await addToClass(source, train, 'cat');
  const kept = await addToClass(source, train, 'cat');
  assert.equal(await undoAddToClass(added.undo), 'removed');
  assert.deepEqual((await fs.readdir(path.join(train, 'cat'))).sort(), ['photo (3).jpg', 'photo.jpg']);
  assert.equal(await undoAddToClass(added.undo), 'missing', 'a second undo does nothing');
  await fs.writeFile(kept.file, await texturedJpeg(9));
  assert.equal(await undoAddToClass(kept.undo), 'changed');
  assert.ok((await fs.stat(kept.file)).isFile(), 'an edited copy is kept');
  // the undo of an add into an existing folder never removes that folder
  await fs.rm(kept.file);
  const again = await addToClass(source, train, 'cat');
  assert.equal(again.createdFolder, false);
  assert.equal(await undoAddToClass(again.undo), 'removed');
  assert.deepEqual(await fs.readdir(path.join(train, 'cat')), ['photo.jpg']);
});

test('bad class names and non-images are refused with the value received', async () => {
  const { train, source } = await dataset('bad');
  for (const name of ['', '..', '../cat', 'a/b', '.hidden']) {
    await assert.rejects(addToClass(source, train, name), (err: unknown) => isImgclsError(err, 'USAGE'), name);
  }
  const text = path.join(dir, 'bad', 'notes.txt');
  await fs.writeFile(text, 'x');
  await assert.rejects(addToClass(text, train, 'cat'), (err: unknown) => isImgclsError(err, 'IMAGE_UNSUPPORTED') && err.file === text);
  await assert.rejects(addToClass(source, path.join(dir, 'bad', 'nope'), 'cat'), (err: unknown) => isImgclsError(err, 'DATASET_NOT_FOUND'));
});

/**
 * Runs addToClass into read-only folders as an unprivileged user (root ignores file modes, so as root the
 * check runs in a child process with uid/gid 65534). Returns the error codes and files it got.
 */
function addAsUnprivileged(source: string, train: string): { code: string; file: string; hint: string; message: string }[] {
  const module = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../src/data/add-to-class.js');
  const script = `
    const { addToClass } = await import(${JSON.stringify(module)});
    const out = [];
    for (const cls of ['cat', 'dog']) {
      try { await addToClass(${JSON.stringify(source)}, ${JSON.stringify(train)}, cls); out.push({ code: 'NONE' }); }
      catch (err) { out.push({ code: err.code, file: err.file, hint: err.hint, message: err.message }); }
    }
    console.log(JSON.stringify(out));`;
  const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    encoding: 'utf8',
    ...(process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : {}),
  });
  assert.equal(run.status, 0, run.stderr);
  return JSON.parse(run.stdout);
}

test('a read-only dataset folder gives DATASET_READ_ONLY naming the folder and the fix; nothing is written', async () => {
  const { train, source } = await dataset('read-only');
  await fs.chmod(dir, 0o755);
  for (const d of [path.join(dir, 'read-only'), path.join(dir, 'read-only', 'inbox')]) await fs.chmod(d, 0o755);
  await fs.chmod(source, 0o644);
  await fs.chmod(path.join(train, 'cat'), 0o555);
  await fs.chmod(train, 0o555);
  try {
    const [intoCat, intoDog] = addAsUnprivileged(source, train);
    assert.equal(intoCat.code, 'DATASET_READ_ONLY', intoCat.message);
    assert.equal(intoCat.file, path.join(train, 'cat'));
    assert.match(intoCat.message, /read-only/);
    assert.match(intoCat.hint, /writable/);
    assert.equal(intoDog.code, 'DATASET_READ_ONLY', 'creating a class folder in a read-only training folder');
    assert.equal(intoDog.file, train);
  } finally {
    await fs.chmod(train, 0o755);
    await fs.chmod(path.join(train, 'cat'), 0o755);
  }
  assert.deepEqual(await fs.readdir(path.join(train, 'cat')), ['photo.jpg']);
  assert.deepEqual((await fs.readdir(train)).sort(), ['cat']);
});
