// What the photo and video forms share: the model and scale choice, the local size check,
// and the submit flow (a file, a multipart upload with progress, then the job's own page;
// errors in words, and the form usable again after one).
import { upload } from './api.js';
import { describeModel, defaultScale, fillModels, fillScales, loadLimits, loadModels } from './catalog.js';
import { $, showError } from './dom.js';
import { describe } from './errors.js';
import { handOver } from './handoff.js';
import { formatBytes, formatPercent, t } from './i18n.js';

// Upload progress, then an indeterminate bar with the seconds spent waiting for the result.
export function progressReporter(box, waitingText) {
  const bar = $('[data-role=bar]', box);
  const text = $('[data-role=progress-text]', box);
  let clock = 0;
  return {
    start() {
      box.hidden = false;
      bar.value = 0;
      text.textContent = t('upload.progress', { percent: formatPercent(0) });
    },
    progress(fraction) {
      if (fraction < 1) {
        bar.value = fraction * 100;
        text.textContent = t('upload.progress', { percent: formatPercent(fraction) });
        return;
      }
      if (clock || !waitingText) return;
      bar.removeAttribute('value');
      const began = Date.now();
      const tick = () => { text.textContent = waitingText(Math.round((Date.now() - began) / 1000)); };
      tick();
      clock = setInterval(tick, 1000);
    },
    stop() {
      clearInterval(clock);
      clock = 0;
      box.hidden = true;
    },
  };
}

// The local size check: refuse before uploading what the service would refuse (413) anyway.
async function checkSize(file) {
  const { max_request_bytes: max } = await loadLimits();
  if (max && file.size > max) {
    return t('error.tooLargeLocal', { size: formatBytes(file.size), max: formatBytes(max) });
  }
  return '';
}

// Model <select> with its hint, and the scale following the model until the user picks one.
export async function bindModelChoice(form, preferred) {
  const list = await loadModels();
  const select = $('[name=model_type]', form);
  const hint = $('[data-role=model-hint]', form);
  const scale = $('[name=scale]', form);
  fillModels(select, list, preferred);
  fillScales(scale, defaultScale(list, select.value));
  let scaleChosen = false;
  scale.addEventListener('change', () => { scaleChosen = true; });
  const explain = () => {
    hint.textContent = select.value ? describeModel(list, select.value) : t('model.noneAvailable');
    if (!scaleChosen) scale.value = String(defaultScale(list, select.value));
  };
  select.addEventListener('change', explain);
  explain();
  return list;
}

// On submit: check the file, build the form's fields (options() returns the entries, or
// {problem, focus} to refuse), upload, then show the job at #/<kind>/<id>.
export function submitUploads(form, { picker, path, kind, reporter, signal, options }) {
  const error = $('[data-role=error]', form);
  const submit = $('[data-role=submit]', form);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    showError(error, '');
    const file = picker.file();
    const chosen = file ? options(form.elements) : { problem: t('error.noFile'), focus: picker.input };
    const problem = chosen.problem || (await checkSize(file));
    if (problem) {
      showError(error, problem);
      if (chosen.focus) chosen.focus.focus();
      return;
    }
    const body = new FormData();
    body.append('file', file, file.name);
    for (const [name, value] of chosen.entries) body.append(name, value);
    submit.disabled = true;
    reporter.start();
    try {
      const answer = await upload(path, body, { onProgress: reporter.progress, signal });
      const job = answer.body[kind];
      handOver(kind, job);
      location.hash = `/${kind}/${job.id}`;
    } catch (failure) {
      if (failure.name === 'AbortError') return;
      showError(error, describe(failure));
      submit.disabled = false;
      reporter.stop();
    }
  });
}
