// The public API of the explain stage: class activation maps, explain(), the overlay PNG.
export { classActivationMap } from './cam.js';
export { JET_STOPS, type ColormapStops } from './colormap.js';
export { explain, type Explanation, type ExplainOptions, type PixelRegion } from './explain.js';
export { renderOverlayPng, type OverlayOptions } from './overlay.js';
