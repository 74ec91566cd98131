// The script of every imgcls webview: renders what the extension host posts (figures, Classify results, a report).
import type { FigureItem, FromWebview, ResultItem, ToWebview, WebviewLabels } from '../messages.js';

interface PlotlyApi {
  react(element: HTMLElement, data: unknown[], layout?: Record<string, unknown>, config?: Record<string, unknown>): Promise<unknown>;
}
declare const Plotly: PlotlyApi | undefined;
declare function acquireVsCodeApi(): { postMessage(message: FromWebview): void };

const vscode = acquireVsCodeApi();
const content = document.getElementById('content')!;
const heading = document.getElementById('heading')!;
const status = document.getElementById('status')!;

function element<K extends keyof HTMLElementTagNameMap>(tag: K, className?: string, text?: string): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

/** Draws or updates each figure in place, keyed by its id, so live updates do not flicker. */
async function renderFigures(figures: FigureItem[], container: HTMLElement): Promise<void> {
  if (typeof Plotly === 'undefined') throw new Error('plotly.js did not load');
  const rendered: string[] = [];
  for (const item of figures) {
    let section = container.querySelector<HTMLElement>(`section[data-figure="${CSS.escape(item.id)}"]`);
    if (!section) {
      section = element('section', 'figure');
      section.dataset.figure = item.id;
      section.append(element('h2', undefined, item.title), element('div', 'plot'));
      container.append(section);
    }
    const plot = section.querySelector<HTMLElement>('div.plot')!;
    const layout = { autosize: true, height: 360, margin: { t: 30, r: 20, b: 50, l: 60 }, ...item.figure.layout };
    await Plotly.react(plot, item.figure.data, layout, { responsive: true, displaylogo: false });
    section.dataset.traces = String(item.figure.data.length);
    rendered.push(item.id);
  }
  vscode.postMessage({ type: 'rendered', ids: rendered });
}

function percent(probability: number): string {
  return `${(probability * 100).toFixed(1)}%`;
}

function renderResults(items: ResultItem[], labels: WebviewLabels): void {
  content.replaceChildren();
  const table = element('table', 'results');
  const head = element('tr');
  for (const label of [labels.image, labels.overlay, labels.file, labels.className, labels.probabilities]) head.append(element('th', undefined, label));
  table.append(head);
  for (const item of items) {
    const row = element('tr', item.error ? 'result failed' : 'result');
    const thumbCell = element('td', 'thumbnail');
    if (item.thumbnail) {
      const img = element('img');
      img.src = item.thumbnail;
      img.alt = item.name;
      thumbCell.append(img);
    }
    const overlayCell = element('td', 'overlay');
    if (item.overlay) {
      const img = element('img');
      img.src = item.overlay;
      img.alt = `${labels.overlay}: ${item.name}`;
      overlayCell.append(img);
    }
    const fileCell = element('td', 'file');
    const link = element('a', undefined, item.name);
    link.href = '#';
    link.title = item.file;
    link.addEventListener('click', (event) => {
      event.preventDefault();
      vscode.postMessage({ type: 'reveal', file: item.file });
    });
    fileCell.append(link);
    const top = item.predictions?.[0];
    const classCell = element('td', 'class', item.error ? labels.failed : top ? `${top.className} (${percent(top.probability)})` : '');
    const probCell = element('td', 'probabilities');
    if (item.error) probCell.append(element('span', 'error', item.error));
    for (const prediction of item.predictions ?? []) {
      const bar = element('div', 'bar');
      const fill = element('div', 'fill');
      fill.style.setProperty('width', percent(prediction.probability));
      bar.append(fill);
      const line = element('div', 'prediction');
      line.append(element('span', 'name', prediction.className), bar, element('span', 'value', percent(prediction.probability)));
      probCell.append(line);
    }
    row.append(thumbCell, overlayCell, fileCell, classCell, probCell);
    table.append(row);
  }
  content.append(table);
}

window.addEventListener('message', (event: MessageEvent<ToWebview>) => {
  const message = event.data;
  const run = async () => {
    switch (message.type) {
      case 'figures':
        heading.textContent = message.heading;
        status.textContent = message.status;
        await renderFigures(message.figures, content);
        break;
      case 'results':
        heading.textContent = message.heading;
        renderResults(message.items, message.labels);
        break;
      case 'report': {
        heading.textContent = message.heading;
        content.replaceChildren(element('pre', 'report', message.reportText));
        const figures = element('div', 'figures');
        content.append(figures);
        await renderFigures(message.figures, figures);
        break;
      }
    }
  };
  run().catch((err: unknown) => vscode.postMessage({ type: 'error', message: err instanceof Error ? err.message : String(err) }));
});

vscode.postMessage({ type: 'ready' });
