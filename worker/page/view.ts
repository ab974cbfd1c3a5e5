/** Renders the API's answers into the page's elements (index.html). Text only through textContent: labels are data. */
import type { ClassifyResult, ModelsResult, Shown } from './api.js';

const element = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

export const ui = {
  model: element<HTMLSelectElement>('model'),
  modelNote: element('model-note'),
  backend: element('backend'),
  file: element<HTMLInputElement>('file'),
  camera: element<HTMLInputElement>('camera'),
  drop: element('drop'),
  token: element<HTMLInputElement>('token'),
  status: element('status'),
  error: element('error'),
  errorTitle: element('error-title'),
  errorDetail: element('error-detail'),
  result: element('result'),
  crop: element<HTMLImageElement>('crop'),
  resultModel: element('result-model'),
  predictions: element<HTMLOListElement>('predictions'),
  timing: element<HTMLDListElement>('timing'),
};

function make(tag: string, className?: string, text?: string): HTMLElement {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function bar(fraction: number): HTMLElement {
  const outer = make('span', 'bar');
  outer.setAttribute('aria-hidden', 'true');
  const inner = make('span');
  inner.style.width = `${Math.max(0, Math.min(1, fraction)) * 100}%`;
  outer.append(inner);
  return outer;
}

export const percent = (score: number) => `${(score * 100).toFixed(1)}%`;

export function showModels(body: ModelsResult): void {
  ui.backend.textContent = `backend ${body.backend}`;
  ui.model.replaceChildren(
    ...body.models.map((model) => {
      // A trained head says what it is: its labels and its base.
      const what = model.head ? `${model.head.labels} labels on ${model.head.base}` : model.id;
      const option = new Option(`${model.name} — ${what}`, model.name);
      option.selected = model.name === body.default;
      return option;
    }),
  );
  ui.model.disabled = false;
  showModelNote(body);
}

export function showModelNote(body: ModelsResult): void {
  const model = body.models.find((m) => m.name === ui.model.value);
  const head = model?.head;
  const accuracy =
    head?.held_out_accuracy !== null && head?.held_out_accuracy !== undefined
      ? `, held-out accuracy ${percent(head.held_out_accuracy)}`
      : '';
  ui.modelNote.textContent = !model
    ? ''
    : head
      ? `your own labels: a head trained on ${head.base}'s embeddings${accuracy}; ${model.source.note}`
      : model.source.note;
}

export function showBusy(message: string): void {
  ui.status.textContent = message;
  ui.result.setAttribute('aria-busy', 'true');
}

export function showProblem(problem: Shown): void {
  // An earlier image's result beside this error would read as this image's.
  ui.result.hidden = true;
  ui.result.removeAttribute('aria-busy');
  ui.status.textContent = '';
  ui.errorTitle.textContent = problem.status ? `${problem.status} ${problem.title}` : problem.title;
  ui.errorDetail.textContent = problem.detail;
  ui.error.hidden = false;
}

const STAGE = /_ms$/;
/** In the order they happen (the API's Server-Timing order); a cold request's load stages are part of model_wait. */
const STAGE_ORDER = [
  'decode_wait_ms',
  'decode_ms',
  'preprocess_ms',
  'model_wait_ms',
  'model_read_ms',
  'integrity_ms',
  'session_ms',
  'inference_ms',
  'total_ms',
];
const stageRank = (stage: string) => {
  const rank = STAGE_ORDER.indexOf(stage);
  return rank === -1 ? STAGE_ORDER.length - 1.5 : rank; // unknown stages before the total
};

export function showResult(body: ClassifyResult, model: string, fileName: string): void {
  ui.error.hidden = true;
  if (body.input) ui.crop.src = body.input;
  ui.crop.alt = `${fileName} as the model saw it: the 224 by 224 pixel centre crop`;
  ui.resultModel.textContent = `(${model}: ${body.model})`;

  ui.predictions.replaceChildren(
    ...body.predictions.map((p) => {
      const item = make('li');
      item.dataset.index = String(p.index);
      item.append(make('span', 'label', p.label), make('span', 'score', percent(p.score)), bar(p.score));
      return item;
    }),
  );

  const total = body.timing.total_ms || 1;
  ui.timing.replaceChildren(
    ...Object.entries(body.timing)
      .sort(([a], [b]) => stageRank(a) - stageRank(b))
      .map(([stage, ms]) => {
        const row = make('div');
        const value = make('dd', undefined, ms.toFixed(1));
        const scale = make('dd');
        scale.append(bar(stage === 'total_ms' ? 1 : ms / total));
        row.append(make('dt', undefined, stage.replace(STAGE, '').replaceAll('_', ' ')), value, scale);
        return row;
      }),
  );

  ui.result.hidden = false;
  ui.result.removeAttribute('aria-busy');
  const [top] = body.predictions;
  ui.status.textContent = top
    ? `${fileName} with ${model}: ${top.label}, ${percent(top.score)}, in ${total.toFixed(0)} ms`
    : `${fileName} with ${model}: no predictions`;
}
