import { usageError } from '../errors.js';
import type { PrecisionRecallCurve, RocCurve } from '../eval/curves.js';
import type { PlotlyFigure, PlotlyTrace } from './types.js';

/** Options shared by the curve figures. */
export interface CurveFigureOptions {
  /** The class the curve is about, shown in the title. */
  className?: string;
}

/** A heat map of the confusion matrix (actual rows, predicted columns) with each count written in its cell. */
export function confusionMatrixFigure(matrix: readonly (readonly number[])[], classNames: readonly string[]): PlotlyFigure {
  if (matrix.length !== classNames.length || matrix.some((row) => row.length !== classNames.length)) {
    throw usageError(`the confusion matrix must be ${classNames.length} × ${classNames.length}, one row and column per class.`);
  }
  return {
    data: [
      {
        type: 'heatmap',
        z: matrix.map((row) => [...row]),
        x: [...classNames],
        y: [...classNames],
        text: matrix.map((row) => row.map(String)),
        texttemplate: '%{text}',
        // plotly's 'Blues' runs dark → light; reversed, larger counts are darker (as in scikit-learn's plot)
        colorscale: 'Blues',
        reversescale: true,
        showscale: true,
        hovertemplate: 'actual %{y}<br>predicted %{x}<br>%{z} images<extra></extra>',
      },
    ],
    layout: {
      title: { text: 'Confusion matrix' },
      xaxis: { title: { text: 'Predicted' }, type: 'category', side: 'bottom' },
      yaxis: { title: { text: 'Actual' }, type: 'category', autorange: 'reversed' },
    },
  };
}

/**
 * The precision–recall curve (recall on x), starting from (0, 1), with the chosen threshold's
 * operating point marked when given (the point of the smallest curve threshold ≥ it).
 */
export function prCurveFigure(
  curve: PrecisionRecallCurve,
  threshold?: number | { threshold: number },
  options: CurveFigureOptions = {},
): PlotlyFigure {
  const data: PlotlyTrace[] = [
    {
      type: 'scatter',
      mode: 'lines+markers',
      name: 'precision–recall',
      x: [0, ...curve.recall],
      y: [1, ...curve.precision],
      customdata: ['', ...curve.thresholds.map((t) => t.toFixed(4))],
      hovertemplate: 'threshold %{customdata}<br>recall %{x:.3f}<br>precision %{y:.3f}<extra></extra>',
      line: { shape: 'linear', color: '#1f77b4' },
      marker: { size: 4 },
    },
  ];
  const value = typeof threshold === 'number' ? threshold : threshold?.threshold;
  if (value !== undefined) {
    let index = -1;
    curve.thresholds.forEach((t, i) => {
      if (t >= value) index = i;
    });
    if (index >= 0) {
      data.push({
        type: 'scatter',
        mode: 'markers+text',
        name: `threshold ${value.toFixed(3)}`,
        x: [curve.recall[index]],
        y: [curve.precision[index]],
        text: [`threshold ${value.toFixed(3)}: recall ${curve.recall[index].toFixed(2)}, precision ${curve.precision[index].toFixed(2)}`],
        textposition: 'bottom left',
        marker: { size: 12, color: '#d62728', symbol: 'x' },
      });
    }
  }
  const about = options.className ? ` for "${options.className}"` : '';
  return {
    data,
    layout: {
      title: { text: `Precision–recall${about} (AP ${curve.averagePrecision.toFixed(3)})` },
      xaxis: { title: { text: 'Recall' }, range: [0, 1.02] },
      yaxis: { title: { text: 'Precision' }, range: [0, 1.02] },
      showlegend: true,
    },
  };
}

/** The ROC curve with the chance diagonal, its AUC in the title. */
export function rocCurveFigure(curve: RocCurve, areaUnderCurve: number, options: CurveFigureOptions = {}): PlotlyFigure {
  const about = options.className ? ` for "${options.className}"` : '';
  return {
    data: [
      {
        type: 'scatter',
        mode: 'lines+markers',
        name: `ROC (AUC ${areaUnderCurve.toFixed(3)})`,
        x: [...curve.falsePositiveRate],
        y: [...curve.truePositiveRate],
        customdata: curve.thresholds.map((t) => (Number.isFinite(t) ? t.toFixed(4) : '∞')),
        hovertemplate: 'threshold %{customdata}<br>FPR %{x:.3f}<br>TPR %{y:.3f}<extra></extra>',
        line: { color: '#1f77b4' },
        marker: { size: 4 },
      },
      {
        type: 'scatter',
        mode: 'lines',
        name: 'chance',
        x: [0, 1],
        y: [0, 1],
        line: { dash: 'dash', color: '#999999' },
      },
    ],
    layout: {
      title: { text: `ROC${about} (AUC ${areaUnderCurve.toFixed(3)})` },
      xaxis: { title: { text: 'False positive rate' }, range: [0, 1.02] },
      yaxis: { title: { text: 'True positive rate' }, range: [0, 1.02] },
      showlegend: true,
    },
  };
}
