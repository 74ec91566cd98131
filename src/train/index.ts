// The public API of the train stage: train(), history, checkpoints, loadClassifier.
export * from './config.js';
export * from './train.js';
export * from './history.js';
export * from './checkpoint.js';
export * from './classifier.js';
export * from './estimate.js';
export * from './features.js';
export { initHead, headProbabilities, computeClassWeights } from './head.js';
export { writeFileAtomic } from './atomic.js';
