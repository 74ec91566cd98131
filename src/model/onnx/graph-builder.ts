import { ONNX_ATTRIBUTE_TYPE, ONNX_DTYPE } from './schema.js';
import type { OnnxAttribute, OnnxModel, OnnxNode, OnnxTensor, OnnxValueInfo } from './schema.js';

/** An attribute value as given to addNode: numbers are INT unless wrapped with `float()`, arrays are INTS. */
export type AttributeValue = number | number[] | string | { float: number } | { floats: number[] };

/** Wraps a number so it is written as a FLOAT attribute. */
export const float = (value: number): { float: number } => ({ float: value });

function toAttribute(name: string, value: AttributeValue): OnnxAttribute {
  if (typeof value === 'number') return { name, type: ONNX_ATTRIBUTE_TYPE.INT, i: value };
  if (typeof value === 'string') return { name, type: ONNX_ATTRIBUTE_TYPE.STRING, s: new TextEncoder().encode(value) };
  if (Array.isArray(value)) return { name, type: ONNX_ATTRIBUTE_TYPE.INTS, ints: value };
  if ('float' in value) return { name, type: ONNX_ATTRIBUTE_TYPE.FLOAT, f: value.float };
  return { name, type: ONNX_ATTRIBUTE_TYPE.FLOATS, floats: value.floats };
}

/** A float32 graph input or output with fixed dims, or a named dynamic dim where the entry is a string. */
export function valueInfo(name: string, dims: (number | string)[], docString?: string): OnnxValueInfo {
  return {
    name,
    type: {
      tensorType: {
        elemType: ONNX_DTYPE.FLOAT,
        shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
    ...(docString ? { docString } : {}),
  };
}

/** Collects nodes and initializers with unique names, in topological order. */
export class OnnxGraphBuilder {
  readonly nodes: OnnxNode[] = [];
  readonly initializers: OnnxTensor[] = [];
  /** [n, c] values made by flattening an [n, c, 1, 1] value → that value (a Reshape back reuses it; prune drops the Flatten). */
  readonly squeezedFrom = new Map<string, string>();
  private readonly used = new Set<string>();

  /** A name not used before in this graph, derived from `base`. */
  uniqueName(base: string): string {
    let name = base;
    for (let i = 1; this.used.has(name); i++) name = `${base}_${i}`;
    this.used.add(name);
    return name;
  }

  /** Reserves a name that must stay exactly as given (graph inputs and outputs). */
  reserve(name: string): string {
    if (this.used.has(name)) throw new Error(`ONNX value name ${name} is used twice`);
    this.used.add(name);
    return name;
  }

  /** Adds a float32 initializer and returns its name. */
  addFloat(base: string, values: Float32Array | number[], dims: number[]): string {
    const data = values instanceof Float32Array ? values : Float32Array.from(values);
    const expected = dims.reduce((a, b) => a * b, 1);
    if (data.length !== expected) throw new Error(`initializer ${base}: ${data.length} values for dims [${dims}]`);
    const name = this.uniqueName(base);
    // raw_data is little-endian IEEE 754; Float32Array is little-endian on every platform Node runs on
    const rawData = new Uint8Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength));
    this.initializers.push({ name, dims, dataType: ONNX_DTYPE.FLOAT, rawData });
    return name;
  }

  /** Adds an int64 initializer (shapes, pads, axes) and returns its name. */
  addInt64(base: string, values: number[]): string {
    const name = this.uniqueName(base);
    this.initializers.push({ name, dims: [values.length], dataType: ONNX_DTYPE.INT64, int64Data: values });
    return name;
  }

  /** Adds one node and returns its output names (`outputs` of them, named from `base`). */
  addNode(
    opType: string,
    inputs: string[],
    base: string,
    attributes: Record<string, AttributeValue> = {},
    outputs: number | string[] = 1,
  ): string[] {
    const outputNames = Array.isArray(outputs)
      ? outputs
      : Array.from({ length: outputs }, (_, i) => this.uniqueName(outputs === 1 ? base : `${base}_${i}`));
    this.nodes.push({
      input: inputs,
      output: outputNames,
      name: this.uniqueName(`${base}/${opType}`),
      opType,
      attribute: Object.entries(attributes).map(([name, value]) => toAttribute(name, value)),
    });
    return outputNames;
  }

  /** Adds a single-output node and returns its output name. */
  add(opType: string, inputs: string[], base: string, attributes: Record<string, AttributeValue> = {}): string {
    return this.addNode(opType, inputs, base, attributes)[0];
  }

  /**
   * Drops nodes whose outputs nothing reads (e.g. a Flatten whose consumer reused the 4-D value)
   * and initializers no remaining node reads.
   */
  prune(graphOutputs: string[]): void {
    const pruned = pruneGraph(this.nodes, this.initializers, graphOutputs);
    this.nodes.splice(0, this.nodes.length, ...pruned.nodes);
    this.initializers.splice(0, this.initializers.length, ...pruned.initializers);
  }
}

/** The nodes (in order) and initializers that the given outputs depend on. */
export function pruneGraph(nodes: readonly OnnxNode[], initializers: readonly OnnxTensor[], outputs: readonly string[]):
  { nodes: OnnxNode[]; initializers: OnnxTensor[] } {
  const needed = new Set(outputs);
  const kept: OnnxNode[] = [];
  for (let i = nodes.length - 1; i >= 0; i--) {
    if (nodes[i].output.some((o) => needed.has(o))) {
      kept.push(nodes[i]);
      nodes[i].input.forEach((input) => needed.add(input));
    }
  }
  return { nodes: kept.reverse(), initializers: initializers.filter((t) => needed.has(t.name)) };
}

/** The same model with only the named graph outputs (in that order) and what they need. */
export function selectOnnxOutputs(model: OnnxModel, outputs: readonly string[]): OnnxModel {
  const byName = new Map(model.graph.output.map((o) => [o.name, o]));
  const missing = outputs.filter((name) => !byName.has(name));
  if (missing.length > 0) throw new Error(`the ONNX model has no output ${missing.join(', ')}`);
  const { nodes, initializers } = pruneGraph(model.graph.node, model.graph.initializer, outputs);
  return { ...model, graph: { ...model.graph, node: nodes, initializer: initializers, output: outputs.map((name) => byName.get(name) as OnnxValueInfo) } };
}

/** The graph output withPooledOutputs adds for a rank-4 output: its channels averaged over height and width, [batch, channels]. */
export function pooledOutputName(name: string): string {
  return `${name}/pooled`;
}

/**
 * The same model with, for each named NHWC graph output, one more output pooledOutputName(name) [batch, channels]: the
 * global average of the NCHW value that output is transposed from, so fetching it moves C values per image instead of H·W·C.
 */
export function withPooledOutputs(model: OnnxModel, names: readonly string[]): OnnxModel {
  const nodes = [...model.graph.node];
  const outputs = [...model.graph.output];
  for (const name of names) {
    if (outputs.some((output) => output.name === pooledOutputName(name))) continue;
    const transpose = nodes.find((node) => node.output.includes(name));
    const info = outputs.find((output) => output.name === name);
    if (!transpose || transpose.opType !== 'Transpose' || !info) throw new Error(`the ONNX model's output ${name} is not a transposed rank-4 value`);
    const dims = info.type.tensorType.shape.dim.map((d) => ('dimValue' in d && d.dimValue !== undefined ? Number(d.dimValue) : String((d as { dimParam?: string }).dimParam ?? 'batch')));
    nodes.push({ input: [transpose.input[0]], output: [`${name}/mean`], name: `${name}/mean/GlobalAveragePool`, opType: 'GlobalAveragePool', attribute: [] });
    nodes.push({ input: [`${name}/mean`], output: [pooledOutputName(name)], name: `${name}/pooled/Flatten`, opType: 'Flatten', attribute: [toAttribute('axis', 1)] });
    outputs.push(valueInfo(pooledOutputName(name), [dims[0], dims[3]]));
  }
  return { ...model, graph: { ...model.graph, node: nodes, output: outputs } };
}
