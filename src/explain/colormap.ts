/** A colour map as stops: value in [0, 1] and its RGB colour (0–255), values increasing. */
export type ColormapStops = readonly (readonly [number, readonly [number, number, number]])[];

/** The jet colour map (dark blue → cyan → yellow → dark red), shared by the overlay PNG and the plotly figure. */
export const JET_STOPS: ColormapStops = Object.freeze([
  [0, [0, 0, 128]],
  [0.125, [0, 0, 255]],
  [0.375, [0, 255, 255]],
  [0.625, [255, 255, 0]],
  [0.875, [255, 0, 0]],
  [1, [128, 0, 0]],
] as const);

/** A 256-entry RGB lookup table (768 bytes) sampled from colour-map stops. */
export function colormapTable(stops: ColormapStops = JET_STOPS): Uint8Array {
  const table = new Uint8Array(256 * 3);
  for (let i = 0; i < 256; i++) {
    const value = i / 255;
    let k = 0;
    while (k < stops.length - 2 && value > stops[k + 1][0]) k++;
    const [v0, c0] = stops[k];
    const [v1, c1] = stops[k + 1];
    const t = v1 > v0 ? Math.min(Math.max((value - v0) / (v1 - v0), 0), 1) : 0;
    for (let channel = 0; channel < 3; channel++) table[i * 3 + channel] = Math.round(c0[channel] + (c1[channel] - c0[channel]) * t);
  }
  return table;
}

/** The stops as a plotly colorscale: [[value, 'rgb(r,g,b)'], …]. */
export function plotlyColorscale(stops: ColormapStops = JET_STOPS): [number, string][] {
  return stops.map(([value, [r, g, b]]) => [value, `rgb(${r},${g},${b})`]);
}
