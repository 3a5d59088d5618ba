// Enhance a photo: pick or drop a file, choose model, size, faces and format, upload with
// progress (multipart, so large files are not inflated to base64), then show the result.
import { upload } from '../api.js';
import { describeModel, defaultScale, fillModels, fillScales, loadLimits, loadModels } from '../catalog.js';
import { $, $$, fromTemplate, showError, UrlBag } from '../dom.js';
import { dropzone } from '../dropzone.js';
import { describe } from '../errors.js';
import { handOver } from '../handoff.js';
import { formatBytes, formatPercent, formatPixels, t } from '../i18n.js';

const ACCEPT = 'image/png,image/jpeg,image/webp';

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
export async function checkSize(file) {
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

export async function imageForm(main, { signal, onCleanup }) {
  main.replaceChildren(fromTemplate('image'));
  const form = $('[data-role=form]', main);
  const error = $('[data-role=error]', main);
  const submit = $('[data-role=submit]', main);
  const preview = $('[data-role=preview]', main);
  const previewEmpty = $('[data-role=preview-empty]', main);
  const previewInfo = $('[data-role=preview-info]', main);
  const urls = new UrlBag();
  onCleanup(() => urls.release());

  const picker = dropzone($('[data-role=drop]', main), {
    id: 'image-file',
    accept: ACCEPT,
    titleKey: 'drop.imageTitle',
    onFile(file) {
      urls.release();
      showError(error, '');
      preview.hidden = !file;
      previewEmpty.hidden = Boolean(file);
      previewInfo.textContent = file ? formatBytes(file.size) : '';
      if (!file) return;
      preview.alt = file.name;
      preview.onload = () => {
        previewInfo.textContent = `${formatPixels(preview.naturalWidth, preview.naturalHeight)} · ${formatBytes(file.size)}`;
      };
      preview.onerror = () => { preview.hidden = true; };
      preview.src = urls.add(file);
    },
  });

  const exactBox = $('[data-role=exact-box]', form);
  const scaleBox = $('[data-role=scale-box]', form);
  for (const radio of $$('[name=size_mode]', form)) {
    radio.addEventListener('change', () => {
      const exact = form.elements.size_mode.value === 'exact';
      exactBox.hidden = !exact;
      scaleBox.hidden = exact;
    });
  }
  await bindModelChoice(form, 'general_x4');
  const reporter = progressReporter($('[data-role=progress]', form), (seconds) =>
    t('image.processing', { model: form.elements.model_type.value, seconds }));
  onCleanup(() => reporter.stop());

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    showError(error, '');
    const file = picker.file();
    if (!file) {
      showError(error, t('error.noFile'));
      picker.input.focus();
      return;
    }
    const fields = form.elements;
    const exact = fields.size_mode.value === 'exact';
    if (exact && !fields.output_width.value && !fields.output_height.value) {
      showError(error, t('error.exactSize'));
      fields.output_width.focus();
      return;
    }
    const tooLarge = await checkSize(file);
    if (tooLarge) {
      showError(error, tooLarge);
      return;
    }
    const body = new FormData();
    body.append('file', file, file.name);
    body.append('model_type', fields.model_type.value);
    body.append('face_enhance', fields.face_enhance.checked ? 'true' : 'false');
    body.append('output_format', fields.output_format.value);
    if (exact) {
      if (fields.output_width.value) body.append('output_width', fields.output_width.value);
      if (fields.output_height.value) body.append('output_height', fields.output_height.value);
    } else {
      body.append('scale', fields.scale.value);
    }
    submit.disabled = true;
    reporter.start();
    try {
      const answer = await upload('/api/images/enhance', body, { onProgress: reporter.progress, signal });
      handOver('image', answer.body.image);
      location.hash = `/image/${answer.body.image.id}`;
    } catch (failure) {
      if (failure.name === 'AbortError') return;
      showError(error, describe(failure));
      submit.disabled = false;
      reporter.stop();
    }
  });
  return { focus: null };
}
