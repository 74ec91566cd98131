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
  error?: string;
}

/** Labels the webview shows, already localised by the extension host. */
export interface WebviewLabels {
  [key: string]: string;
}

/** What the extension host posts to a webview. */
export type ToWebview =
  | { type: 'figures'; heading: string; status: string; figures: FigureItem[] }
  | { type: 'results'; heading: string; items: ResultItem[]; labels: WebviewLabels }
  | { type: 'report'; heading: string; reportText: string; figures: FigureItem[] };

/** What a webview posts back. */
export type FromWebview =
  | { type: 'ready' }
  | { type: 'reveal'; file: string }
  | { type: 'rendered'; ids: string[] }
  | { type: 'error'; message: string };
