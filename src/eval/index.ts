// The evaluation stage: metrics, curves and reports as plain data.
export * from './metrics.js';
export * from './curves.js';
export * from './report-text.js';
export * from './decision.js';
export * from './top-losses.js';
export * from './evaluate.js';
export * from './checkpoint-split.js';
export * from './open-set.js';
