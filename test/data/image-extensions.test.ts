// One list of image extensions: data's IMAGE_EXTENSIONS; the manifest's `when` clauses and the
// error hints must agree with it.
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { IMAGE_EXTENSIONS, isImageFile } from '../../src/index.js';

const PACKAGE_JSON = fileURLToPath(new URL('../../../package.json', import.meta.url));

/** Every `resourceExtname =~ /…/flags` regex in the manifest's menus, with where it stands. */
async function manifestExtensionRegexes(): Promise<{ where: string; regex: RegExp }[]> {
  const manifest = JSON.parse(await fs.readFile(PACKAGE_JSON, 'utf8')) as { contributes: { menus: Record<string, { command: string; when?: string }[]> } };
  const found: { where: string; regex: RegExp }[] = [];
  for (const [menu, entries] of Object.entries(manifest.contributes.menus)) {
    for (const entry of entries) {
      for (const match of (entry.when ?? '').matchAll(/resourceExtname\s*=~\s*\/(.+?)\/([a-z]*)(?=\s|$)/g)) {
        found.push({ where: `${menu} ${entry.command}`, regex: new RegExp(match[1], match[2]) });
      }
    }
  }
  return found;
}

test('the manifest menus that offer Classify on a file accept exactly IMAGE_EXTENSIONS', async () => {
  const regexes = await manifestExtensionRegexes();
  assert.ok(regexes.length >= 2, 'explorer/context and editor/title each have an extension clause');
  const others = ['.txt', '.svg', '.pdf', '.heic', '.json', '.jpgx', ''];
  for (const { where, regex } of regexes) {
    for (const extension of IMAGE_EXTENSIONS) {
      assert.ok(regex.test(extension), `${where}: ${regex} must accept ${extension}`);
      assert.ok(regex.test(extension.toUpperCase()), `${where}: ${regex} must accept ${extension.toUpperCase()}`);
    }
    for (const extension of others) assert.ok(!regex.test(extension), `${where}: ${regex} must reject ${JSON.stringify(extension)}`);
  }
});

test('isImageFile follows IMAGE_EXTENSIONS, case-insensitively', () => {
  for (const extension of IMAGE_EXTENSIONS) {
    assert.ok(isImageFile(`a/b${extension}`));
    assert.ok(isImageFile(`a/b${extension.toUpperCase()}`));
  }
  assert.ok(!isImageFile('a/b.txt'));
  assert.ok(!isImageFile('a/b.svg'));
});
