import type { Evaluation } from '../eval/evaluate.js';
import { confusionMatrixFigure, prCurveFigure, rocCurveFigure } from './evaluation-figures.js';
import { accuracyCurveFigure, lossCurveFigure, type HistoryPoint } from './history-figures.js';
import type { PlotlyFigure } from './types.js';

/** A figure with a stable id and the section it belongs to. */
export interface NamedFigure {
  /** 'confusion', 'pr-<class index>', 'roc-<class index>', 'loss' or 'accuracy'. */
  id: string;
  section: 'confusion' | 'curves' | 'training';
  /** For curves: the class the curve is about. */
  className?: string;
  figure: PlotlyFigure;
}

/**
 * Every figure of an evaluation in display order: the confusion matrix, then each class's PR curve
 * (the stored threshold marked on its class) and ROC curve, then, with a history, the loss and
 * accuracy curves. The HTML report draws exactly these; the notebook and VS Code can too.
 */
export function evaluationFigures(evaluation: Evaluation, options: { history?: readonly HistoryPoint[] } = {}): NamedFigure[] {
  const figures: NamedFigure[] = [
    { id: 'confusion', section: 'confusion', figure: confusionMatrixFigure(evaluation.confusionMatrix, evaluation.classNames) },
  ];
  const threshold = evaluation.threshold;
  evaluation.curves.forEach((curves, i) => {
    const { className } = curves;
    if (curves.precisionRecall) {
      const marked = threshold && threshold.className === className ? threshold.value : undefined;
      figures.push({ id: `pr-${i}`, section: 'curves', className, figure: prCurveFigure(curves.precisionRecall, marked, { className }) });
    }
    if (curves.roc && curves.rocAuc !== undefined) {
      figures.push({ id: `roc-${i}`, section: 'curves', className, figure: rocCurveFigure(curves.roc, curves.rocAuc, { className }) });
    }
  });
  if (options.history && options.history.length > 0) {
    figures.push({ id: 'loss', section: 'training', figure: lossCurveFigure(options.history) });
    figures.push({ id: 'accuracy', section: 'training', figure: accuracyCurveFigure(options.history) });
  }
  return figures;
}
