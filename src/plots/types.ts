/** One plotly.js trace (scatter, heatmap, …) as plain JSON. */
export type PlotlyTrace = { type: string } & Record<string, unknown>;

/** A plotly.js figure as plain JSON: what `Plotly.newPlot(div, figure.data, figure.layout)` draws. */
export interface PlotlyFigure {
  data: PlotlyTrace[];
  layout: Record<string, unknown>;
}
