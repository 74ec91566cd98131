export * from './schema.js';
export * from './graph-builder.js';
export * from './layers.js';
export * from './export.js';
