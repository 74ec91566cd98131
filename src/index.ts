// The public API of imgcls: one export line per stage, in pipeline order.
export * from './errors.js';
export * from './backend/index.js';
export * from './data/index.js';
export * from './model/index.js';
export * from './train/index.js';
export * from './eval/index.js';
export * from './predict/index.js';
export * from './explain/index.js';
export * from './plots/index.js';
