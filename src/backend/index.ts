// The TF.js backend: selection (tensorflow → wasm → cpu) and the gradient kernels wasm lacks.
export * from './backend.js';
export * from './wasm-kernels.js';
