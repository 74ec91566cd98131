// The script of every imgcls webview: renders what the extension host posts (figures, Classify results, a report).
import type { FigureItem, FromWebview, ResultActions, ResultItem, ToWebview, VerdictBadge, WebviewLabels } from '../messages.js';

interface PlotlyApi {
  react(element: HTMLElement, data: unknown[], layout?: Record<string, unknown>, config?: Record<string, unknown>): Promise<unknown>;
}
declare const Plotly: PlotlyApi | undefined;
declare function acquireVsCodeApi(): { postMessage(message: FromWebview): void; setState(state: unknown): void };

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

function verdictBadge(verdict: VerdictBadge | undefined, labels: WebviewLabels): HTMLElement | undefined {
  if (!verdict) return undefined;
  const span = element('span', verdict.unfamiliar ? 'badge unfamiliar' : 'badge familiar', verdict.unfamiliar ? labels.unfamiliar : labels.familiar);
  span.title = `score ${verdict.score.toFixed(3)} / threshold ${verdict.threshold.toFixed(3)}`;
  return span;
}

function button(className: string, text: string, onClick: () => void, disabledReason?: string): HTMLButtonElement {
  const node = element('button', className, text);
  node.type = 'button';
  if (disabledReason) {
    node.disabled = true;
    node.title = disabledReason;
  } else {
    node.addEventListener('click', onClick);
  }
  return node;
}

/** The per-row fix-the-data controls: Add to class ▸ <class>, Undo, Show the nearest training images. */
function actionCell(item: ResultItem, labels: WebviewLabels, actions: ResultActions | undefined): HTMLElement {
  const cell = element('td', 'actions');
  if (!actions || item.error) return cell;
  const add = element('div', 'add');
  const select = element('select', 'add-class');
  select.title = actions.datasetMissing ?? labels.addToClass;
  select.append(element('option', undefined, labels.addToClass));
  for (const name of actions.classNames) {
    const option = element('option', undefined, name);
    option.value = name;
    select.append(option);
  }
  select.disabled = Boolean(actions.datasetMissing) || actions.classNames.length === 0 || Boolean(actions.retraining);
  select.addEventListener('change', () => {
    if (select.value && actions.classNames.includes(select.value)) vscode.postMessage({ type: 'addToClass', file: item.file, className: select.value });
    select.selectedIndex = 0;
  });
  add.append(select);
  cell.append(add);
  for (const copy of item.added ?? []) {
    const line = element('div', 'added', labels.added.replace('{0}', copy.className).replace('{1}', copy.name));
    line.append(' ', button('undo', labels.undo, () => vscode.postMessage({ type: 'undoAdd', file: item.file })));
    cell.append(line);
  }
  cell.append(button('nearest', labels.nearest, () => vscode.postMessage({ type: 'nearest', file: item.file }), actions.nearestUnavailable));
  if (item.nearest) {
    const strip = element('div', 'nearest-images');
    for (const near of item.nearest) {
      const figure = element('figure');
      if (near.thumbnail) {
        const img = element('img');
        img.src = near.thumbnail;
        img.alt = near.name;
        figure.append(img);
      }
      figure.append(element('figcaption', undefined, `${near.className} · ${near.distance.toFixed(2)}`));
      figure.title = near.file;
      figure.addEventListener('click', () => vscode.postMessage({ type: 'reveal', file: near.file }));
      strip.append(figure);
    }
    cell.append(strip);
  }
  return cell;
}

function renderResults(items: ResultItem[], labels: WebviewLabels, actions?: ResultActions): void {
  content.replaceChildren();
  if (actions) {
    const bar = element('div', 'toolbar');
    bar.append(button('retrain', actions.retraining ? labels.retraining : labels.retrain, () => vscode.postMessage({ type: 'retrain' }),
      actions.datasetMissing ?? (actions.retraining ? labels.retraining : undefined)));
    content.append(bar);
  }
  const comparing = items.some((item) => item.before);
  const table = element('table', 'results');
  const head = element('tr');
  const columns = [labels.image, labels.overlay, labels.file, ...(comparing ? [labels.before] : []), comparing ? labels.after : labels.className, labels.probabilities,
    ...(actions ? [labels.actions] : [])];
  for (const label of columns) head.append(element('th', undefined, label));
  table.append(head);
  for (const item of items) {
    const row = element('tr', item.error ? 'result failed' : 'result');
    row.dataset.file = item.file;
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
    const cells: HTMLElement[] = [thumbCell, overlayCell, fileCell];
    if (comparing) {
      const before = item.before;
      const beforeCell = element('td', 'before', before?.className ? `${before.className} (${percent(before.probability ?? 0)})` : '');
      const b = verdictBadge(before?.verdict, labels);
      if (b) beforeCell.append(' ', b);
      cells.push(beforeCell);
    }
    const top = item.predictions?.[0];
    const classCell = element('td', 'class', item.error ? labels.failed : top ? `${top.className} (${percent(top.probability)})` : '');
    const badge = verdictBadge(item.verdict, labels);
    if (badge) classCell.append(' ', badge);
    if (comparing && item.before?.className && top && item.before.className !== top.className) row.classList.add('flipped');
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
    cells.push(classCell, probCell);
    if (actions) cells.push(actionCell(item, labels, actions));
    row.append(...cells);
    table.append(row);
  }
  content.append(table);
}

/** The last page message, saved so a reload (webview serializer) shows the same page again. */
let saved: ToWebview | undefined;

window.addEventListener('message', (event: MessageEvent<ToWebview>) => {
  const message = event.data;
  if (message.type !== 'status') {
    saved = message;
    vscode.setState({ message });
  }
  const run = async () => {
    switch (message.type) {
      case 'figures':
        heading.textContent = message.heading;
        status.textContent = message.status;
        await renderFigures(message.figures, content);
        break;
      case 'results':
        heading.textContent = message.heading;
        status.textContent = message.status ?? '';
        renderResults(message.items, message.labels, message.actions);
        vscode.postMessage({ type: 'rendered', ids: message.items.map((item) => item.file) });
        break;
      case 'status':
        status.textContent = message.status;
        if (saved?.type === 'results') saved = { ...saved, status: message.status };
        vscode.setState({ message: saved });
        return;
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
