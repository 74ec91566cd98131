// The public API of the train stage: train(), its config, history and time estimate.
export * from './config.js';
export * from './train.js';
export * from './history.js';
export { estimateTrainingMs } from './estimate.js';
export { featureKey, BACKBONE_ID } from './features.js';
export { calibrateCheckpoint, DEFAULT_OPEN_SET_METHOD, type CalibrateOptions, type OpenSetCalibration } from './open-set.js';
