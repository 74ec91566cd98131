import path from 'node:path';
import { usageError } from '../errors.js';
import { explain, renderOverlayPng, type Explanation } from '../explain/index.js';
import type { EngineChoice } from '../model/engine.js';
import { camFigure } from '../plots/cam-figure.js';
import { writeFileAtomic } from '../util/atomic.js';
import { loadClassifier } from '../model/classifier.js';
import { parseOptions, toNumber } from './args.js';

const HELP = `Usage: imgcls explain <checkpoint> <image> [options]

Shows where in the image the classifier found its evidence for a class: the class activation map
of the last 7×7 feature map (exact Grad-CAM for the EfficientNet-B0 head), as a translucent colour
map over the image (blue: no evidence, dark red: the strongest).

Options:
  -o, --out <file>      overlay PNG to write [default: <image name>.explain.png]
  --class <name>        class to explain [default: the predicted class]
  --figure <file>       also write the map as a plotly figure (.json)
  --opacity <x>         opacity of the colour map, 0 to 1 [default: 0.45]
  --max-size <n>        longest side of the PNG in pixels; larger images are shrunk [default: 1024]
  --engine <name>       auto | onnxruntime | tfjs [default: auto]
  --json                print the explanation as JSON on stdout (map included)
  --debug               print stack traces of unexpected errors
  -h, --help            show this help

Examples:
  imgcls explain runs/lesson-data/checkpoints/best.imgcls poster.jpg -o overlay.png
  imgcls explain best.imgcls cat.jpg -o cat-as-logo.png --class logo
  imgcls explain best.imgcls poster.jpg --figure cam.json --json`;

/** The explanation as JSON-ready data (the map as a plain array). */
function toJson(explanation: Explanation, outputs: { overlay: string; figure?: string }): Record<string, unknown> {
  return { ...explanation, map: Array.from(explanation.map, (v) => Math.round(v * 1e4) / 1e4), ...outputs };
}

/** `imgcls explain <checkpoint> <image>`: writes the class activation overlay PNG and prints the class explained. */
export async function explainCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseOptions('explain', {
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      out: { type: 'string', short: 'o' }, class: { type: 'string' }, figure: { type: 'string' }, opacity: { type: 'string' },
      'max-size': { type: 'string' }, engine: { type: 'string' }, json: { type: 'boolean', default: false },
      debug: { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(`${HELP}\n`);
    return 0;
  }
  if (positionals.length !== 2) {
    throw usageError(`expected a checkpoint and an image, got ${positionals.length} argument(s)`,
      'Run "imgcls explain <checkpoint> <image> -o overlay.png"; see "imgcls explain --help".');
  }
  const [checkpoint, image] = positionals;
  const overlayOptions = { opacity: toNumber('opacity', values.opacity), maxSize: toNumber('max-size', values['max-size'], true) };
  if (overlayOptions.opacity !== undefined && !(overlayOptions.opacity >= 0 && overlayOptions.opacity <= 1)) {
    throw usageError(`--opacity must be a number in [0, 1]. Received: ${values.opacity}`);
  }
  if (overlayOptions.maxSize !== undefined && overlayOptions.maxSize < 1) {
    throw usageError(`--max-size must be a positive integer. Received: ${values['max-size']}`);
  }
  const out = values.out ?? `${path.parse(image).name}.explain.png`;
  const classifier = await loadClassifier(checkpoint, { engine: (values.engine ?? 'auto') as EngineChoice });
  try {
    const explanation = await explain(classifier, path.resolve(image), { className: values.class });
    const png = await renderOverlayPng(explanation, overlayOptions);
    await writeFileAtomic(out, png);
    if (values.figure) await writeFileAtomic(values.figure, `${JSON.stringify(camFigure(explanation))}\n`);
    if (values.json) {
      process.stdout.write(`${JSON.stringify(toJson(explanation, { overlay: path.resolve(out), figure: values.figure && path.resolve(values.figure) }))}\n`);
    } else {
      const hottest = explanation.map.indexOf(Math.max(...explanation.map));
      const predicted = explanation.predictedClassName === explanation.className ? 'predicted' : `predicted: ${explanation.predictedClassName}`;
      process.stdout.write(`${explanation.className} ${(explanation.probability * 100).toFixed(1)}% (${predicted})\n`);
      process.stdout.write(`  overlay: ${out} (hottest cell: row ${Math.floor(hottest / explanation.mapSize) + 1}, column ${hottest % explanation.mapSize + 1} of ${explanation.mapSize}×${explanation.mapSize})\n`);
      if (values.figure) process.stdout.write(`  figure: ${values.figure}\n`);
    }
    return 0;
  } finally {
    await classifier.dispose();
  }
}
