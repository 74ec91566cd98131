// The plots stage: plain data in, plotly.js figure JSON (and the HTML report) out.
export * from './types.js';
export * from './history-figures.js';
export * from './evaluation-figures.js';
export * from './report-thumbnails.js';
export * from './report-figures.js';
export * from './html-report.js';
export * from './thumbnails.js';
export * from './cam-figure.js';
export * from './relabel.js';
