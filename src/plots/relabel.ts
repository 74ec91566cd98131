import type { PlotlyFigure } from './types.js';

/** The texts of a figure a reader sees: title, axis titles and legend names (for another language). */
export interface FigureLabels {
  /** Replaces the figure title. */
  title?: string;
  /** Replaces the x axis title. */
  xTitle?: string;
  /** Replaces the y axis title. */
  yTitle?: string;
  /** Legend names, old name → new name; traces not listed keep theirs. */
  traceNames?: Readonly<Record<string, string>>;
}

/**
 * A copy of `figure` with the given title, axis titles and trace names (data untouched), so a figure of
 * any plots function can be shown in the reader's language: `relabelFigure(confusionMatrixFigure(…), { title: '混淆矩阵' })`.
 */
export function relabelFigure(figure: PlotlyFigure, labels: FigureLabels): PlotlyFigure {
  const layout: Record<string, unknown> = { ...figure.layout };
  const retitle = (key: string, text: string | undefined) => {
    if (text === undefined) return;
    const current = (layout[key] ?? {}) as Record<string, unknown>;
    layout[key] = key === 'title' ? { ...current, text } : { ...current, title: { ...((current.title ?? {}) as object), text } };
  };
  retitle('title', labels.title);
  retitle('xaxis', labels.xTitle);
  retitle('yaxis', labels.yTitle);
  const names = labels.traceNames ?? {};
  const data = figure.data.map((trace) => {
    const name = typeof trace.name === 'string' ? names[trace.name] : undefined;
    return name === undefined ? trace : { ...trace, name };
  });
  return { data, layout };
}
