// Benchmark: the convolution gradient kernels imgcls registers on TF.js wasm (src/model/wasm-kernels.ts)
// against the alternatives, and against PyTorch CPU on the same shapes, in one run.
//
//   npm run bench:wasm-kernels -- [--batch 8] [--train-batch 4] [--iterations 3] [--quick] [--no-peer]
//
// For each EfficientNet-B0 layer shape at --batch: the median ms of
//   imgcls     the kernel imgcls registers (what training on wasm runs),
//   baseline   Conv2DBackpropInput: wasm's own kernel; the filter gradients: the per-tap composition
//              (strided slice + matMul / multiply + sum per filter tap, imgcls' first version),
//   torch      the same gradient in PyTorch 1.13 CPU (/usr/bin/python3, all cores, channels_last,
//              the glibc malloc settings of ../shared/FACTS.md), via torch.nn.grad.conv2d_{input,weight}.
// Then one training step (forward + backward + Adam) of the last 3 blocks + head, and of the whole
// backbone + head, at --train-batch on wasm (full training needs ~0.7 GiB of wasm heap per image; 4 GiB max). Timings mean something only on an idle machine.
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs';

type Kind = 'Conv2DBackpropInput' | 'Conv2DBackpropFilter' | 'DepthwiseConv2dNativeBackpropFilter';
interface Case { kind: Kind; input: [number, number, number, number]; kernel: number; channelsOut: number; stride: number }

/** Representative B0 layers: (H = W, channels in, kernel, channels out, stride) at 224×224 input. */
interface Layer { kind: Kind; size: number; channelsIn: number; kernel: number; channelsOut: number; stride: number }
const LAYERS: readonly Layer[] = [
  { kind: 'Conv2DBackpropInput', size: 14, channelsIn: 672, kernel: 1, channelsOut: 112, stride: 1 },
  { kind: 'Conv2DBackpropInput', size: 56, channelsIn: 24, kernel: 1, channelsOut: 144, stride: 1 },
  { kind: 'Conv2DBackpropFilter', size: 14, channelsIn: 672, kernel: 1, channelsOut: 112, stride: 1 },
  { kind: 'Conv2DBackpropFilter', size: 224, channelsIn: 3, kernel: 3, channelsOut: 32, stride: 2 },
  { kind: 'DepthwiseConv2dNativeBackpropFilter', size: 112, channelsIn: 96, kernel: 3, channelsOut: 96, stride: 2 },
  { kind: 'DepthwiseConv2dNativeBackpropFilter', size: 28, channelsIn: 240, kernel: 5, channelsOut: 240, stride: 1 },
  { kind: 'DepthwiseConv2dNativeBackpropFilter', size: 7, channelsIn: 1152, kernel: 3, channelsOut: 1152, stride: 1 },
];

const PEER = String.raw`
import json, sys, time, torch
torch.set_num_threads(int(sys.argv[2]))
cases, iterations = json.loads(sys.argv[1]), int(sys.argv[3])
out = []
for c in cases:
    n, h, w, cin = c['input']
    k, cout, s = c['kernel'], c['channelsOut'], c['stride']
    depthwise = c['kind'].startswith('Depthwise')
    groups = cin if depthwise else 1
    x = torch.randn(n, cin, h, w).contiguous(memory_format=torch.channels_last)
    weight = torch.randn(cout, cin // groups, k, k)
    pad = k // 2  # TF 'same' equals symmetric k//2 padding for these odd kernels at stride 1
    y = torch.nn.functional.conv2d(x, weight, stride=s, padding=pad, groups=groups)
    dy = torch.randn_like(y)
    def run():
        if c['kind'] == 'Conv2DBackpropInput':
            return torch.nn.grad.conv2d_input(x.shape, weight, dy, stride=s, padding=pad, groups=groups)
        return torch.nn.grad.conv2d_weight(x, weight.shape, dy, stride=s, padding=pad, groups=groups)
    run()
    times = []
    for _ in range(iterations):
        t = time.perf_counter(); run(); times.append((time.perf_counter() - t) * 1000)
    out.append(sorted(times)[len(times) // 2])
print(json.dumps(out))
`;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

/** The per-tap compositions imgcls first used for the two filter gradients (the baseline). */
function filterGradientByTaps(kind: Kind, x: tf.Tensor4D, dy: tf.Tensor4D, kernel: number, stride: number): tf.Tensor {
  return tf.tidy(() => {
    const [n, , , cin] = x.shape;
    const [, oh, ow, cout] = dy.shape;
    const info = tf.backend_util.computeConv2DInfo(x.shape, [kernel, kernel, cin, kind === 'Conv2DBackpropFilter' ? cout : 1],
      stride, 1, 'same', undefined, kind !== 'Conv2DBackpropFilter');
    const { top, bottom, left, right } = info.padInfo;
    const padded = tf.pad(x, [[0, 0], [top, bottom], [left, right], [0, 0]]);
    const taps: tf.Tensor[] = [];
    for (let kh = 0; kh < kernel; kh++) {
      for (let kw = 0; kw < kernel; kw++) {
        const window = tf.stridedSlice(padded, [0, kh, kw, 0], [n, kh + (oh - 1) * stride + 1, kw + (ow - 1) * stride + 1, cin],
          [1, stride, stride, 1]);
        taps.push(kind === 'Conv2DBackpropFilter'
          ? tf.matMul(tf.transpose(window.reshape([n * oh * ow, cin])), dy.reshape([n * oh * ow, cout]))
          : tf.sum(tf.mul(window, dy), [0, 1, 2]));
      }
    }
    return tf.stack(taps);
  });
}

async function timeMs(run: () => tf.Tensor, iterations: number): Promise<number> {
  tf.dispose(run()); // warm-up
  const times: number[] = [];
  for (let i = 0; i < iterations; i++) {
    const started = performance.now();
    const out = run();
    await out.data();
    times.push(performance.now() - started);
    out.dispose();
  }
  return median(times);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      batch: { type: 'string', default: '8' },
      'train-batch': { type: 'string', default: '4' },
      iterations: { type: 'string', default: '3' },
      quick: { type: 'boolean', default: false },
      'no-peer': { type: 'boolean', default: false },
    },
  });
  const batch = values.quick ? 1 : Number(values.batch);
  const iterations = values.quick ? 1 : Number(values.iterations);
  const layers = values.quick ? LAYERS.filter((l) => l.size <= 28) : LAYERS;

  await import('@tensorflow/tfjs-backend-wasm');
  const wasmBackpropInput = tf.getKernel('Conv2DBackpropInput', 'wasm')!; // wasm's own, before imgcls replaces it
  const { initBackend } = await import('../src/backend/backend.js');
  if ((await initBackend('wasm')) !== 'wasm') throw new Error('wasm backend did not start');
  const imgclsKernel = (kind: Kind) => tf.getKernel(kind, 'wasm')!.kernelFunc;
  const callKernel = (kernelFunc: tf.KernelFunc, inputs: tf.NamedTensorInfoMap, attrs: tf.NamedAttrMap) =>
    tf.engine().makeTensorFromTensorInfo(kernelFunc({ inputs, attrs, backend: tf.backend() }) as tf.TensorInfo);

  const cases: Case[] = layers.map((l) => ({ kind: l.kind, input: [batch, l.size, l.size, l.channelsIn], kernel: l.kernel,
    channelsOut: l.channelsOut, stride: l.stride }));
  const rows: { case: Case; imgcls: number; baseline: number }[] = [];
  for (const c of cases) {
    const depthwise = c.kind === 'DepthwiseConv2dNativeBackpropFilter';
    const filterShape: [number, number, number, number] = [c.kernel, c.kernel, c.input[3], depthwise ? 1 : c.channelsOut];
    const x = tf.randomNormal(c.input) as tf.Tensor4D;
    const filter = tf.randomNormal(filterShape) as tf.Tensor4D;
    const y = depthwise ? tf.depthwiseConv2d(x, filter, c.stride, 'same') : tf.conv2d(x, filter, c.stride, 'same');
    const dy = tf.randomNormal(y.shape) as tf.Tensor4D;
    const attrs = { strides: [c.stride, c.stride], pad: 'same', dilations: [1, 1], dataFormat: 'NHWC', filterShape, inputShape: c.input };
    const inputs = c.kind === 'Conv2DBackpropInput' ? { dy, filter } : { x, dy };
    const imgcls = await timeMs(() => callKernel(imgclsKernel(c.kind), inputs, attrs), iterations);
    const baseline = await timeMs(() => c.kind === 'Conv2DBackpropInput'
      ? callKernel(wasmBackpropInput.kernelFunc, inputs, attrs)
      : filterGradientByTaps(c.kind, x, dy, c.kernel, c.stride), iterations);
    rows.push({ case: c, imgcls, baseline });
    tf.dispose([x, filter, y, dy]);
  }

  let peer: number[] | undefined;
  let peerNote = '';
  if (!values['no-peer']) {
    const result = spawnSync('/usr/bin/python3', ['-c', PEER, JSON.stringify(cases), String(os.availableParallelism()), String(iterations)], {
      encoding: 'utf8',
      env: { ...process.env, MALLOC_MMAP_MAX_: '0', MALLOC_TRIM_THRESHOLD_: '68719476736' },
    });
    if (result.status === 0) peer = JSON.parse(result.stdout.trim().split('\n').pop()!) as number[];
    else peerNote = `PyTorch peer failed: ${(result.stderr || String(result.error)).trim().split('\n').pop()}`;
  }

  process.stdout.write(`wasm gradient kernels, batch ${batch}, median of ${iterations} (ms)\n`);
  process.stdout.write(`${'kernel'.padEnd(38)} ${'shape (NHWC, k, out, s)'.padEnd(30)} ${'imgcls'.padStart(8)} ${'baseline'.padStart(9)} ${'speed-up'.padStart(9)} ${'torch'.padStart(8)} ${'imgcls/torch'.padStart(13)}\n`);
  rows.forEach((row, i) => {
    const c = row.case;
    const shape = `${c.input.join('×')} k${c.kernel} →${c.channelsOut} s${c.stride}`;
    const torch = peer?.[i];
    process.stdout.write(`${c.kind.padEnd(38)} ${shape.padEnd(30)} ${row.imgcls.toFixed(1).padStart(8)} ${row.baseline.toFixed(1).padStart(9)} ${`${(row.baseline / row.imgcls).toFixed(1)}×`.padStart(9)} ${(torch?.toFixed(1) ?? '–').padStart(8)} ${(torch ? `${(row.imgcls / torch).toFixed(1)}×` : '–').padStart(13)}\n`);
  });
  if (peerNote) process.stdout.write(`${peerNote}\n`);

  // one training step of the last 3 blocks + head, and of the whole backbone + head
  const { loadPretrainedBackbone, splitBackbone, topKBoundary, withHead } = await import('../src/model/index.js');
  const size = values.quick ? 64 : 224;
  const backbone = await loadPretrainedBackbone({ inputSize: size });
  for (const [label, part] of [['top-3 blocks + head', splitBackbone(backbone, topKBoundary(3)).top], ['full backbone + head', backbone]] as const) {
    const model = withHead(part, 2);
    const trainBatch = values.quick ? 1 : Number(values['train-batch']);
    const shape = [trainBatch, ...(part.inputs[0].shape.slice(1) as number[])];
    const input = tf.randomNormal(shape);
    const labels = tf.oneHot(tf.tensor1d(Array.from({ length: trainBatch }, (_, i) => i % 2), 'int32'), 2);
    const optimizer = tf.train.adam(1e-4);
    const step = () => optimizer.minimize(() =>
      tf.losses.softmaxCrossEntropy(labels, model.apply(input, { training: true }) as tf.Tensor), true) as tf.Scalar;
    const ms = await timeMs(step, values.quick ? 1 : 2);
    process.stdout.write(`training step on wasm, ${label}, batch ${trainBatch}, ${size}×${size}: ${ms.toFixed(0)} ms (${(trainBatch / (ms / 1000)).toFixed(2)} img/s)\n`);
    tf.dispose([input, labels]);
    optimizer.dispose();
  }
  backbone.dispose();
}

await main();
