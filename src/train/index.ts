// The public API of the train stage: train(), history, checkpoints, loadClassifier.
export * from './config.js';
export * from './train.js';
export * from './history.js';
export * from './checkpoint.js';
export * from './classifier.js';
export { estimateTrainingMs } from './estimate.js';
export { featureKey, BACKBONE_ID } from './features.js';
export { headLogits, headProbabilities } from './head.js';
