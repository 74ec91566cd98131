import type { PlotlyFigure, PlotlyTrace } from './types.js';

/** The fields of a history.jsonl step record the curves use. */
export interface HistoryStepPoint {
  type: 'step';
  /** 1-based epoch. */
  epoch: number;
  /** 1-based step within the epoch. */
  step: number;
  /** Steps in the epoch (when absent, steps are spread by counting them). */
  steps?: number;
  loss: number;
  accuracy: number;
}

/** The fields of a history.jsonl epoch record the curves use. */
export interface HistoryEpochPoint {
  type: 'epoch';
  epoch: number;
  loss: number;
  accuracy: number;
  val_loss?: number | null;
  val_accuracy?: number | null;
}

/** A history.jsonl record as the figures read it (train's HistoryRecord fits). */
export type HistoryPoint = HistoryStepPoint | HistoryEpochPoint;

type Metric = 'loss' | 'accuracy';

/** Training and validation loss per step and per epoch against epochs (x = epoch, fractional for steps). */
export function lossCurveFigure(history: readonly HistoryPoint[]): PlotlyFigure {
  return historyFigure(history, 'loss', 'Loss');
}

/** Training and validation accuracy per step and per epoch against epochs (x = epoch, fractional for steps). */
export function accuracyCurveFigure(history: readonly HistoryPoint[]): PlotlyFigure {
  return historyFigure(history, 'accuracy', 'Accuracy');
}

/** The x of each step record: (epoch − 1) + step / steps, i.e. the share of training done. */
export function stepPositions(history: readonly HistoryPoint[]): number[] {
  const steps = history.filter((record): record is HistoryStepPoint => record.type === 'step');
  // steps per epoch when a record does not say: the largest step number seen in that epoch
  const counted = new Map<number, number>();
  for (const record of steps) counted.set(record.epoch, Math.max(counted.get(record.epoch) ?? 0, record.step));
  return steps.map((record) => record.epoch - 1 + record.step / (record.steps ?? counted.get(record.epoch) ?? 1));
}

function historyFigure(history: readonly HistoryPoint[], metric: Metric, label: string): PlotlyFigure {
  const steps = history.filter((record): record is HistoryStepPoint => record.type === 'step');
  const epochs = history.filter((record): record is HistoryEpochPoint => record.type === 'epoch');
  const validKey = metric === 'loss' ? 'val_loss' : 'val_accuracy';
  const validated = epochs.filter((record) => typeof record[validKey] === 'number');
  const data: PlotlyTrace[] = [];
  if (steps.length > 0) {
    data.push({
      type: 'scatter',
      mode: 'lines',
      name: `train ${metric} (step)`,
      x: stepPositions(history),
      y: steps.map((record) => record[metric]),
      line: { width: 1, color: '#9ecae1' },
      customdata: steps.map((record) => [record.epoch, record.step]),
      hovertemplate: `epoch %{customdata[0]} step %{customdata[1]}<br>${metric} %{y:.4f}<extra></extra>`,
    });
  }
  if (epochs.length > 0) {
    data.push({
      type: 'scatter',
      mode: 'lines+markers',
      name: `train ${metric} (epoch)`,
      x: epochs.map((record) => record.epoch),
      y: epochs.map((record) => record[metric]),
      line: { color: '#1f77b4' },
    });
  }
  if (validated.length > 0) {
    data.push({
      type: 'scatter',
      mode: 'lines+markers',
      name: `valid ${metric} (epoch)`,
      x: validated.map((record) => record.epoch),
      y: validated.map((record) => record[validKey] as number),
      line: { color: '#ff7f0e' },
    });
  }
  return {
    data,
    layout: {
      title: { text: `${label} per step and per epoch` },
      xaxis: { title: { text: 'epoch' }, rangemode: 'tozero' },
      yaxis: { title: { text: metric }, ...(metric === 'accuracy' ? { range: [0, 1.02] } : { rangemode: 'tozero' }) },
      legend: { orientation: 'h', y: -0.2 },
    },
  };
}
