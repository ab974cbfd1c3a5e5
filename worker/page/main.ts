/**
 * The demo page: pick, drop, paste or photograph an image; it is classified by POST /v1/classify with the chosen
 * model, and the answer (the server's own crop, the top 5, the timing stages or the problem) is shown. Changing the
 * model classifies the same image again.
 */
import { classify, listModels, type ModelsResult } from './api.js';
import { showBusy, showModelNote, showModels, showProblem, showResult, ui } from './view.js';

let models: ModelsResult | undefined;
let current: File | undefined;
/** Only the latest request's answer is shown (a slow one must not overwrite a newer one). */
let latest = 0;

async function run(file: File): Promise<void> {
  current = file;
  const request = ++latest;
  const model = ui.model.value;
  showBusy(`Classifying ${file.name || 'the image'} with ${model}…`);
  const answer = await classify(file, model, ui.token.value.trim());
  if (request !== latest) return;
  if (answer.ok) showResult(answer.body, model, file.name || 'the image');
  else showProblem(answer.problem);
}

async function loadModels(): Promise<void> {
  const answer = await listModels(ui.token.value.trim());
  if (!answer.ok) {
    showProblem(answer.problem);
    return;
  }
  models = answer.body;
  showModels(models);
}

function firstFile(list: FileList | null | undefined): File | undefined {
  return list && list.length > 0 ? list[0] : undefined;
}

for (const input of [ui.file, ui.camera]) {
  input.addEventListener('change', () => {
    const file = firstFile(input.files);
    if (file) void run(file);
    input.value = ''; // choosing the same file again still classifies it
  });
}

ui.model.addEventListener('change', () => {
  if (models) showModelNote(models);
  if (current) void run(current);
});

// A token typed after a 401 applies at once: the model list is fetched again.
ui.token.addEventListener('change', () => {
  if (!models) void loadModels();
});

// Dropping anywhere on the page works; the drop zone shows it.
document.addEventListener('dragover', (event) => {
  event.preventDefault();
  ui.drop.classList.add('over');
});
document.addEventListener('dragleave', (event) => {
  if (event.relatedTarget === null) ui.drop.classList.remove('over');
});
document.addEventListener('drop', (event) => {
  event.preventDefault();
  ui.drop.classList.remove('over');
  const file = firstFile(event.dataTransfer?.files);
  if (file) void run(file);
});
document.addEventListener('paste', (event) => {
  // Typing a token is not an image paste.
  if (event.target === ui.token) return;
  const file = firstFile(event.clipboardData?.files);
  if (!file) return;
  event.preventDefault();
  void run(file);
});

void loadModels();
