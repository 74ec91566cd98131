// Builds the VS Code extension as a linux-x64 .vsix with @vscode/vsce, holding only what runs: the extension
// bundle, the library's compiled JavaScript, the ImageNet weights, l10n, and the run-time node_modules with the
// linux-x64 native binaries only. Run after `npm run build` (npm run package does both).
// Usage: node scripts/package-vsix.mjs [--out file.vsix] [--vscode-engine RANGE]
//   --vscode-engine declares another engines.vscode (the tests use it to check VS Code's engine-mismatch message)
import { execFileSync } from 'node:child_process';
import { existsSync, promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import sharp from 'sharp';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const manifest = JSON.parse(await fs.readFile(path.join(root, 'package.json'), 'utf8'));
const TARGET = 'linux-x64';
const { values } = parseArgs({ options: { out: { type: 'string' }, 'vscode-engine': { type: 'string' } } });
const out = path.resolve(values.out ?? path.join(root, `${manifest.name}-${manifest.version}-${TARGET}.vsix`));

/** Files of a run-time package that ship; everything else (maps, typings, docs, other platforms' binaries) stays out. */
function shipsFromPackage(name, relative) {
  const file = relative.split(path.sep).join('/');
  if (file === 'package.json' || /^licen[cs]e/i.test(path.basename(file))) return true;
  if (/\.(map|d\.ts|d\.mts|d\.cts|md|markdown|flow)$/i.test(file) || /(^|\/)(test|tests|docs?|example|examples)\//.test(file)) return false;
  // TF.js: the Node bundles (dist/*.node.js) and the wasm binaries Node can run (threads cannot start in Node)
  if (name.startsWith('@tensorflow/')) return /^dist\/[^/]+\.node\.js$/.test(file) || /^dist\/tfjs-backend-wasm(-simd)?\.wasm$/.test(file);
  // core-js backs the browser bundles only; the Node bundles never require it
  if (name === 'core-js') return false;
  if (name === 'onnxruntime-node') return file.startsWith('dist/') || file.startsWith(`bin/napi-v6/linux/x64/`);
  return true;
}

/** The run-time package folders (relative to root): the dependencies plus onnxruntime-node, resolved the way Node does. */
async function runtimePackages() {
  const found = new Map();
  const visit = async (name, fromDir) => {
    for (let dir = fromDir; ; dir = path.dirname(dir)) {
      const candidate = path.join(dir, 'node_modules', name);
      if (existsSync(path.join(candidate, 'package.json'))) {
        const relative = path.relative(root, candidate);
        if (found.has(relative)) return;
        found.set(relative, name);
        const pkg = JSON.parse(await fs.readFile(path.join(candidate, 'package.json'), 'utf8'));
        const optional = Object.keys(pkg.optionalDependencies ?? {});
        for (const dep of [...Object.keys(pkg.dependencies ?? {}), ...optional]) {
          if (optional.includes(dep) && !existsSync(path.join(candidate, 'node_modules', dep)) && !existsSync(path.join(root, 'node_modules', dep))) continue;
          await visit(dep, candidate);
        }
        return;
      }
      if (dir === root || path.dirname(dir) === dir) throw new Error(`${name} (needed by ${path.relative(root, fromDir) || 'imgcls'}) is not installed: run npm install`);
    }
  };
  for (const name of [...Object.keys(manifest.dependencies), ...Object.keys(manifest.peerDependencies ?? {})]) await visit(name, root);
  return found;
}

/** Hard-links (same file system) or copies every file under `from` that `keep` accepts to the same relative place under `to`. */
async function stage(from, to, keep = () => true, skipDirs = []) {
  let count = 0;
  for (const entry of await fs.readdir(from, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue;
    const source = path.join(entry.parentPath ?? entry.path, entry.name);
    const relative = path.relative(from, source);
    if (skipDirs.some((dir) => relative === dir || relative.startsWith(`${dir}${path.sep}`)) || !keep(relative)) continue;
    const target = path.join(to, relative);
    await fs.mkdir(path.dirname(target), { recursive: true });
    await fs.link(source, target).catch(() => fs.copyFile(source, target));
    count += 1;
  }
  return count;
}

for (const built of ['dist/src/index.js', 'extension/dist/extension.cjs', 'dist/weights/efficientnet-b0/model.json']) {
  if (!existsSync(path.join(root, built))) throw new Error(`${built} is missing: run "npm run build" first (or "npm run package")`);
}
const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'imgcls-vsix-'));
try {
  // the extension manifest: onnxruntime-node (an optional peer of the npm package) ships inside the extension
  const shipped = { ...manifest, dependencies: { ...manifest.dependencies, ...manifest.peerDependencies } };
  if (values['vscode-engine']) shipped.engines = { ...manifest.engines, vscode: values['vscode-engine'] };
  shipped.devDependencies = Object.fromEntries(Object.entries(manifest.devDependencies).filter(([name]) => !(name in shipped.dependencies)));
  for (const key of ['peerDependencies', 'peerDependenciesMeta', 'overrides', 'scripts', 'files']) delete shipped[key];
  await fs.writeFile(path.join(dir, 'package.json'), `${JSON.stringify(shipped, null, 2)}\n`);
  await fs.writeFile(path.join(dir, '.vscodeignore'), '# staged by scripts/package-vsix.mjs: everything here ships\n');
  for (const file of (await fs.readdir(root)).filter((name) => /^package\.nls(\.[\w-]+)?\.json$/.test(name))) {
    await fs.copyFile(path.join(root, file), path.join(dir, file));
  }
  await fs.copyFile(path.join(root, 'LICENSE'), path.join(dir, 'LICENSE'));
  await fs.copyFile(path.join(root, 'extension', 'README.md'), path.join(dir, 'README.md'));
  await fs.copyFile(path.join(root, 'extension', 'CHANGELOG.md'), path.join(dir, 'CHANGELOG.md'));
  await stage(path.join(root, 'l10n'), path.join(dir, 'l10n'));
  await stage(path.join(root, 'extension', 'dist'), path.join(dir, 'extension', 'dist'), (file) => !file.endsWith('.map'), ['test']);
  await stage(path.join(root, 'extension', 'media'), path.join(dir, 'extension', 'media'), (file) => !file.endsWith('.svg'));
  await sharp(path.join(root, 'extension', 'media', 'icon.svg')).resize(256, 256).png({ compressionLevel: 9 })
    .toFile(path.join(dir, manifest.icon));
  await stage(path.join(root, 'dist', 'src'), path.join(dir, 'dist', 'src'), (file) => file.endsWith('.js'));
  await stage(path.join(root, 'dist', 'weights'), path.join(dir, 'dist', 'weights'));
  // the backbone as ONNX, exported now (cache key = code + weights, the same files the extension ships), so the
  // first Classify after install does not load TF.js to export it
  const { ensureBackboneOnnx, SHIPPED_BACKBONE_DIR } = await import(pathToFileURL(path.join(root, 'dist', 'src', 'model', 'onnx', 'backbone-cache.js')).href);
  const onnx = await ensureBackboneOnnx();
  await fs.mkdir(path.join(dir, 'dist', 'weights', SHIPPED_BACKBONE_DIR), { recursive: true });
  await fs.copyFile(onnx, path.join(dir, 'dist', 'weights', SHIPPED_BACKBONE_DIR, path.basename(onnx)));
  for (const [relative, name] of await runtimePackages()) {
    await stage(path.join(root, relative), path.join(dir, relative), (file) => shipsFromPackage(name, file), ['node_modules']);
  }
  execFileSync(process.execPath, [path.join(root, 'node_modules', '@vscode', 'vsce', 'vsce'), 'package', '--target', TARGET,
    '--no-rewrite-relative-links', '--out', out], { cwd: dir, stdio: ['ignore', 'inherit', 'inherit'] });
  // what makes it up: compressed bytes per part (a run-time package, the weights, the bundle, ...)
  const listing = execFileSync('zipinfo', ['-l', out], { encoding: 'utf8', maxBuffer: 64 << 20 }).split('\n');
  const parts = new Map();
  for (const line of listing) {
    const match = /^\S{10}\s+\S+\s+\S+\s+(\d+)\s+\S+\s+(\d+)\s+\S+\s+\S+\s+\S+\s+(.+)$/.exec(line);
    if (!match) continue;
    const file = match[3].replace(/^extension\//, '');
    const part = /^node_modules\/(@[^/]+\/)?[^/]+/.exec(file)?.[0] ?? file.split('/').slice(0, 2).join('/');
    const entry = parts.get(part) ?? { size: 0, compressed: 0 };
    entry.size += Number(match[1]);
    entry.compressed += Number(match[2]);
    parts.set(part, entry);
  }
  const mb = (bytes) => `${(bytes / 1e6).toFixed(1)} MB`;
  const largest = [...parts].sort((a, b) => b[1].compressed - a[1].compressed).slice(0, 5);
  process.stdout.write(`${path.relative(process.cwd(), out)}: ${mb((await fs.stat(out)).size)}; largest parts (compressed / unpacked):\n`);
  for (const [part, { size, compressed }] of largest) process.stdout.write(`  ${part}: ${mb(compressed)} / ${mb(size)}\n`);
} finally {
  await fs.rm(dir, { recursive: true, force: true });
}
