// The public API of the data stage: scan, decode, preprocess, stream, hash, report, sample, add-to-class.
export * from './types.js';
export * from './scan.js';
export * from './bmp.js';
export * from './decode.js';
export * from './preprocess.js';
export * from './stream.js';
export * from './hash.js';
export * from './report.js';
export * from './sample.js';
export * from './add-to-class.js';
