export * from './types.js';
export * from './engine.js';
export * from './tfjs-engine.js';
export * from './onnx/index.js';
