import { plotlyColorscale } from '../explain/colormap.js';
import type { Explanation } from '../explain/explain.js';
import type { PlotlyFigure } from './types.js';

/** Options of camFigure. */
export interface CamFigureOptions {
  /**
   * An image URL (e.g. a `data:image/png;base64,…` thumbnail of the explained image) drawn under the
   * heat map, which then becomes translucent. Default: none, the heat map alone.
   */
  imageUrl?: string;
  /** Opacity of the heat map when imageUrl is given. Default 0.5. */
  opacity?: number;
}

/**
 * A plotly heat map of an explanation's class activation map, one cell per map cell, placed in image
 * pixel coordinates over the region the network saw (same colour map as the overlay PNG).
 */
export function camFigure(explanation: Explanation, options: CamFigureOptions = {}): PlotlyFigure {
  const { map, mapSize, region, imageWidth, imageHeight } = explanation;
  const rows = Array.from({ length: mapSize }, (_, row) => Array.from(map.subarray(row * mapSize, (row + 1) * mapSize)));
  const cellWidth = region.width / mapSize;
  const cellHeight = region.height / mapSize;
  const heatmap = {
    type: 'heatmap',
    z: rows,
    x0: region.left + cellWidth / 2,
    dx: cellWidth,
    y0: region.top + cellHeight / 2,
    dy: cellHeight,
    zmin: 0,
    zmax: 1,
    colorscale: plotlyColorscale(),
    opacity: options.imageUrl ? (options.opacity ?? 0.5) : 1,
    colorbar: { title: { text: 'evidence' } },
    hovertemplate: 'x %{x:.0f}, y %{y:.0f}<br>evidence %{z:.2f}<extra></extra>',
  };
  const layout: Record<string, unknown> = {
    title: { text: `Where the model sees "${explanation.className}" (p = ${explanation.probability.toFixed(2)}), ${mapSize}×${mapSize} class activation map` },
    xaxis: { range: [0, imageWidth], showgrid: false, zeroline: false, constrain: 'domain' },
    yaxis: { range: [imageHeight, 0], showgrid: false, zeroline: false, scaleanchor: 'x', constrain: 'domain' },
  };
  if (options.imageUrl) {
    layout.images = [{
      source: options.imageUrl, xref: 'x', yref: 'y', x: 0, y: 0, sizex: imageWidth, sizey: imageHeight,
      sizing: 'stretch', layer: 'below', xanchor: 'left', yanchor: 'top',
    }];
  }
  return { data: [heatmap], layout };
}
