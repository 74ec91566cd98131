export * from './cam.js';
export * from './colormap.js';
export * from './explain.js';
export * from './overlay.js';
