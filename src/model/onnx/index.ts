export { ONNX_IR_VERSION, ONNX_OPSET, encodeOnnxModel, decodeOnnxModel } from './schema.js';
export type { OnnxModel, OnnxGraph, OnnxNode, OnnxTensor, OnnxValueInfo, OnnxAttribute } from './schema.js';
export { selectOnnxOutputs } from './graph-builder.js';
export { LAYER_CONVERTERS, ONNX_ACTIVATIONS, samePads } from './layers.js';
export * from './export.js';
export * from './backbone-cache.js';
export * from './ort-engine.js';
