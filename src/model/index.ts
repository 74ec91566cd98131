export * from './types.js';
export * from './engine.js';
export * from './tfjs-engine.js';
