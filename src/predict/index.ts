// The predict stage: classify files, folders and globs, streaming.
export * from './inputs.js';
export * from './predict.js';
export * from './least-sure.js';
