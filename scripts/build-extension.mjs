// Builds the VS Code extension with esbuild: the CJS extension entry, the ESM ML worker, the webview script,
// the extension-host test suite, and a local copy of plotly.js for the webviews (never a CDN).
import { build } from 'esbuild';
import { mkdir, copyFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const src = path.join(root, 'extension', 'src');
const dist = path.join(root, 'extension', 'dist');
const require = createRequire(import.meta.url);

const node = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  sourcemap: true,
  logLevel: 'warning',
  // the library is loaded by its package name from this repository; 'vscode' is provided by the host
  external: ['vscode', 'imgcls'],
};

await mkdir(path.join(dist, 'media'), { recursive: true });
await Promise.all([
  build({ ...node, format: 'cjs', entryPoints: [path.join(src, 'extension.ts')], outfile: path.join(dist, 'extension.cjs') }),
  build({ ...node, format: 'esm', entryPoints: [path.join(src, 'worker', 'ml-worker.ts')], outfile: path.join(dist, 'ml-worker.mjs') }),
  build({
    ...node,
    format: 'cjs',
    entryPoints: [path.join(root, 'extension', 'test', 'suite', 'index.ts')],
    outfile: path.join(dist, 'test', 'index.cjs'),
  }),
  build({
    bundle: true,
    platform: 'browser',
    target: 'es2022',
    format: 'iife',
    sourcemap: false,
    logLevel: 'warning',
    entryPoints: [path.join(src, 'webviews', 'client', 'main.ts')],
    outfile: path.join(dist, 'webview', 'main.js'),
  }),
  copyFile(require.resolve('plotly.js-dist-min/plotly.min.js'), path.join(dist, 'media', 'plotly.min.js')),
]);
