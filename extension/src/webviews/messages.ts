// Typed messages between the extension host and its webviews (R13); the client script uses the same types.

/** A plotly figure as plain JSON (data + layout), built by the library's plots stage. */
export interface PlotlyFigureJson {
  data: unknown[];
  layout?: Record<string, unknown>;
}

/** One figure to draw, identified so a later message can replace it in place. */
export interface FigureItem {
  id: string;
  title: string;
  figure: PlotlyFigureJson;
}

/** One row of the Classify results panel. */
export interface ResultItem {
  file: string;
  name: string;
  /** A webview URI of the image, when the browser can show its format. */
  thumbnail?: string;
  /** A PNG data URL: the class activation map of the top class over the image. */
  overlay?: string;
  predictions?: { className: string; probability: number }[];
  /** The open-set verdict's badge, when the checkpoint has open-set data. */
  verdict?: VerdictBadge;
  /** The same image's result before the last Retrain (for before → after). */
  before?: { className?: string; probability?: number; verdict?: VerdictBadge };
  /** Copies of this image added to the dataset since (newest last). */
  added?: { className: string; name: string }[];
  /** The nearest training images, once asked for. */
  nearest?: { file: string; name: string; className: string; distance: number; thumbnail?: string }[];
  error?: string;
}

/** Whether an image resembles the training data. */
export interface VerdictBadge {
  unfamiliar: boolean;
  score: number;
  threshold: number;
}

/** What the results panel offers beside each row. */
export interface ResultActions {
  /** The dataset's classes (Add to class ▸ <class>); empty when no dataset is set. */
  classNames: string[];
  /** Why Add to class / Retrain are unavailable (no dataset set). */
  datasetMissing?: string;
  /** Why "Show the nearest training images" is disabled (the model has no open-set data). */
  nearestUnavailable?: string;
  /** A Retrain is running. */
  retraining?: boolean;
}

/** Labels the webview shows, already localised by the extension host. */
export interface WebviewLabels {
  [key: string]: string;
}

/** What the extension host posts to a webview. */
export type ToWebview =
  | { type: 'figures'; heading: string; status: string; figures: FigureItem[] }
  | { type: 'results'; heading: string; items: ResultItem[]; labels: WebviewLabels; actions?: ResultActions; status?: string }
  | { type: 'report'; heading: string; reportText: string; figures: FigureItem[] }
  | { type: 'status'; status: string };

/** What a webview posts back. */
export type FromWebview =
  | { type: 'ready' }
  | { type: 'reveal'; file: string }
  | { type: 'addToClass'; file: string; className: string }
  | { type: 'undoAdd'; file: string }
  | { type: 'nearest'; file: string }
  | { type: 'retrain' }
  | { type: 'rendered'; ids: string[] }
  | { type: 'error'; message: string };
