// The public API of the explain stage: class activation maps, explain(), overlay PNGs.
export { classActivationMap } from './cam.js';
export { JET_STOPS, type ColormapStops } from './colormap.js';
export { explain, type Explanation, type ExplainOptions, type PixelRegion } from './explain.js';
export { renderOverlayPng, type OverlayPngOptions } from './overlay.js';
export { renderOverlayPngs, type OverlayPngs, type OverlayPngsOptions, type OverlayProgress } from './overlays.js';
