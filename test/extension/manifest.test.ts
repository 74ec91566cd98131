// Static checks of the extension: manifest, localisation completeness (English + Simplified Chinese),
// webview security rules, and a type check of extension/ against the library's public types.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { REPO_ROOT } from './code-server.js';

interface Manifest {
  main: string;
  exports: { '.': { default: string } };
  engines: { vscode: string };
  activationEvents: string[];
  l10n: string;
  capabilities: { untrustedWorkspaces: { supported: string | boolean; description: string } };
  contributes: {
    commands: { command: string; title: string; category: string; enablement?: string }[];
    menus: Record<string, { command: string; when?: string }[]>;
    configuration: { properties: Record<string, { markdownDescription?: string; enumDescriptions?: string[] }> };
  };
}

async function readJson<T>(file: string): Promise<T> {
  return JSON.parse(await fs.readFile(path.join(REPO_ROOT, file), 'utf8')) as T;
}

async function sourceFiles(dir: string): Promise<string[]> {
  const entries = await fs.readdir(dir, { withFileTypes: true, recursive: true });
  return entries.filter((e) => e.isFile() && e.name.endsWith('.ts')).map((e) => path.join(e.parentPath, e.name));
}

/** The first-argument string literals of every vscode.l10n.t call in extension/src. */
async function l10nStrings(): Promise<Set<string>> {
  const found = new Set<string>();
  for (const file of await sourceFiles(path.join(REPO_ROOT, 'extension', 'src'))) {
    const text = await fs.readFile(file, 'utf8');
    for (const match of text.matchAll(/l10n\.t\(\s*'((?:[^'\\]|\\.)*)'/g)) found.add(match[1].replace(/\\(.)/g, '$1'));
  }
  return found;
}

function nlsKeys(value: unknown, keys: Set<string>): Set<string> {
  if (typeof value === 'string') {
    const match = /^%(.+)%$/.exec(value);
    if (match) keys.add(match[1]);
  } else if (value && typeof value === 'object') {
    for (const v of Object.values(value)) nlsKeys(v, keys);
  }
  return keys;
}

test('the manifest keeps the library entry, points main at the extension bundle, and declares limited untrusted support', async () => {
  const manifest = await readJson<Manifest>('package.json');
  assert.equal(manifest.main, './extension/dist/extension.cjs');
  assert.equal(manifest.exports['.'].default, './dist/src/index.js');
  assert.equal(manifest.engines.vscode, '^1.100.0');
  // commands activate the extension implicitly; onStartupFinished only adds the model's status bar item after startup
  assert.deepEqual(manifest.activationEvents, ['onStartupFinished', 'onWebviewPanel:imgcls.results', 'onWebviewPanel:imgcls.plots']);
  assert.equal(manifest.capabilities.untrustedWorkspaces.supported, 'limited');
  const ids = manifest.contributes.commands.map((c) => c.command).sort();
  assert.deepEqual(ids, ['imgcls.addToClass', 'imgcls.classify', 'imgcls.evaluateModel', 'imgcls.refreshDataset', 'imgcls.retrain', 'imgcls.runTrainingCells',
    'imgcls.selectModel', 'imgcls.showTrainingPlots', 'imgcls.trainModel']);
  for (const id of ['imgcls.classify', 'imgcls.trainModel', 'imgcls.evaluateModel', 'imgcls.runTrainingCells', 'imgcls.addToClass', 'imgcls.retrain']) {
    assert.equal(manifest.contributes.commands.find((c) => c.command === id)?.enablement, 'isWorkspaceTrusted', `${id} needs trust`);
  }
  const explorer = manifest.contributes.menus['explorer/context'].find((m) => m.command === 'imgcls.classify');
  assert.match(explorer?.when ?? '', /jpe\?g\|png\|webp\|gif\|bmp\|tiff\?/);
  assert.match(explorer?.when ?? '', /explorerResourceIsFolder/);
  assert.ok(manifest.contributes.menus['editor/title'].some((m) => m.command === 'imgcls.classify'));
});

test('the settings\' defaults are the library\'s training defaults (resolveTrainConfig)', async () => {
  const manifest = await readJson<Manifest & { contributes: { configuration: { properties: Record<string, { default?: unknown }> } } }>('package.json');
  const { resolveTrainConfig } = await import('../../src/train/config.js');
  const library = resolveTrainConfig({ data: 'dataset', outDir: 'runs/x' });
  const defaults = Object.fromEntries(Object.entries(manifest.contributes.configuration.properties).map(([key, value]) => [key, value.default]));
  assert.equal(defaults['imgcls.trainingMode'], library.mode);
  assert.equal(defaults['imgcls.epochs'], library.epochs);
  assert.equal(defaults['imgcls.batchSize'], library.batchSize);
  assert.equal(defaults['imgcls.learningRate'], library.learningRate);
});

test('every manifest string and every l10n.t string has a Simplified Chinese translation', async () => {
  const manifest = await readJson<Manifest>('package.json');
  const english = await readJson<Record<string, string>>('package.nls.json');
  const chinese = await readJson<Record<string, string>>('package.nls.zh-cn.json');
  const used = nlsKeys(manifest, new Set());
  for (const key of used) {
    assert.ok(english[key], `package.nls.json has ${key}`);
    assert.ok(chinese[key], `package.nls.zh-cn.json has ${key}`);
  }
  assert.deepEqual(Object.keys(chinese).sort(), Object.keys(english).sort());
  const bundle = await readJson<Record<string, string>>(path.join(manifest.l10n, 'bundle.l10n.zh-cn.json'));
  const strings = await l10nStrings();
  assert.ok(strings.size > 40, `found ${strings.size} l10n strings`);
  const missing = [...strings].filter((s) => !bundle[s]);
  assert.deepEqual(missing, [], 'strings without a zh-cn translation');
  for (const [source, translated] of Object.entries(bundle)) {
    const placeholders = (text: string) => (text.match(/\{\d+\}/g) ?? []).sort().join();
    assert.equal(placeholders(translated), placeholders(source), `placeholders of "${source}"`);
  }
});

test('user-facing messages go through l10n, webviews use a crypto nonce, and nothing evaluates code', async () => {
  for (const file of await sourceFiles(path.join(REPO_ROOT, 'extension', 'src'))) {
    const text = await fs.readFile(file, 'utf8');
    const name = path.relative(REPO_ROOT, file);
    assert.ok(!/show(Information|Warning|Error)Message\(\s*['"`]/.test(text), `${name}: a literal message without l10n`);
    assert.ok(!/\beval\(|new Function\(/.test(text), `${name}: no eval`);
    assert.ok(!/Math\.random/.test(text), `${name}: nonces come from crypto`);
    assert.ok(!/https?:\/\/(?!127\.0\.0\.1)/.test(text), `${name}: no remote resources`);
  }
  const html = await fs.readFile(path.join(REPO_ROOT, 'extension', 'src', 'webviews', 'html.ts'), 'utf8');
  assert.match(html, /default-src 'none'/);
  assert.match(html, /crypto\.randomBytes/);
  assert.match(html, /script-src 'nonce-\$\{nonce\}'/);
});

test('extension/ type-checks against the library\'s public types', { timeout: 180_000 }, async () => {
  const tsc = path.join(REPO_ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  try {
    await promisify(execFile)(process.execPath, [tsc, '-p', path.join(REPO_ROOT, 'extension', 'tsconfig.json')], { cwd: REPO_ROOT });
  } catch (err) {
    const { stdout, stderr } = err as { stdout?: string; stderr?: string };
    assert.fail(`tsc -p extension/tsconfig.json failed:\n${stdout ?? ''}${stderr ?? ''}`);
  }
});
