import onnxProto from 'onnx-proto';

/**
 * ONNX protobuf on `onnx-proto` (npm, generated from onnx/onnx.proto by protobufjs): the message
 * types, field numbers and enums are onnx's own. imgcls builds and reads models as the plain data
 * below, a checked subset of onnx-proto's message interfaces.
 */
const { onnx } = onnxProto;

/** ONNX TensorProto.DataType values imgcls uses. */
export const ONNX_DTYPE = Object.freeze({ FLOAT: onnx.TensorProto.DataType.FLOAT, INT64: onnx.TensorProto.DataType.INT64 });

/** ONNX AttributeProto.AttributeType values imgcls uses. */
export const ONNX_ATTRIBUTE_TYPE = Object.freeze({
  FLOAT: onnx.AttributeProto.AttributeType.FLOAT,
  INT: onnx.AttributeProto.AttributeType.INT,
  STRING: onnx.AttributeProto.AttributeType.STRING,
  FLOATS: onnx.AttributeProto.AttributeType.FLOATS,
  INTS: onnx.AttributeProto.AttributeType.INTS,
});

/** The ONNX IR version written: 7, the one that goes with opset 13 (onnx/docs/Versioning.md). */
export const ONNX_IR_VERSION = onnx.Version.IR_VERSION_2020_5_8;
/** The ONNX operator set written (default domain). */
export const ONNX_OPSET = 13;

/** An ONNX attribute as plain data (one value field set, matching `type`). */
export interface OnnxAttribute {
  name: string;
  type: number;
  f?: number;
  i?: number;
  s?: Uint8Array;
  floats?: number[];
  ints?: number[];
}

/** An ONNX node as plain data. */
export interface OnnxNode {
  input: string[];
  output: string[];
  name: string;
  opType: string;
  attribute: OnnxAttribute[];
}

/** An ONNX initializer: float data as raw little-endian bytes, int64 data as numbers. */
export interface OnnxTensor {
  name: string;
  dims: number[];
  dataType: number;
  rawData?: Uint8Array;
  int64Data?: number[];
}

/** A graph input or output: float32 tensor with named (dynamic) or fixed dimensions. */
export interface OnnxValueInfo {
  name: string;
  type: { tensorType: { elemType: number; shape: { dim: ({ dimValue: number } | { dimParam: string })[] } } };
  docString?: string;
}

/** The ONNX graph as plain data. */
export interface OnnxGraph {
  name: string;
  node: OnnxNode[];
  initializer: OnnxTensor[];
  input: OnnxValueInfo[];
  output: OnnxValueInfo[];
  docString?: string;
}

/** The ONNX model as plain data, the shape protobufjs encodes. */
export interface OnnxModel {
  irVersion: number;
  opsetImport: { domain: string; version: number }[];
  producerName: string;
  producerVersion: string;
  docString?: string;
  graph: OnnxGraph;
  metadataProps: { key: string; value: string }[];
}

/** Serialises a model to ONNX protobuf bytes. */
export function encodeOnnxModel(model: OnnxModel): Uint8Array {
  // the plain data must be a valid onnx.IModelProto (checked at compile time)
  const message: onnxProto.onnx.IModelProto = model;
  return onnx.ModelProto.encode(onnx.ModelProto.fromObject(message)).finish();
}

/** Parses ONNX protobuf bytes back into plain data (int64 as numbers, bytes as Uint8Array). */
export function decodeOnnxModel(bytes: Uint8Array): OnnxModel {
  return onnx.ModelProto.toObject(onnx.ModelProto.decode(bytes), { longs: Number, enums: Number, arrays: true }) as OnnxModel;
}
