// Enhance a photo: pick or drop a file, choose model, size, faces and format, upload with
// progress (multipart, so large files are not inflated to base64), then show the result.
import { $, $$, fromTemplate, showError, UrlBag } from '../dom.js';
import { dropzone } from '../dropzone.js';
import { formatBytes, formatPixels, t } from '../i18n.js';
import { bindModelChoice, progressReporter, submitUploads } from '../upload-form.js';

const ACCEPT = 'image/png,image/jpeg,image/webp';

export async function imageForm(main, { signal, onCleanup }) {
  main.replaceChildren(fromTemplate('image'));
  const form = $('[data-role=form]', main);
  const error = $('[data-role=error]', main);
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

  submitUploads(form, {
    picker, path: '/api/images/enhance', kind: 'image', reporter, signal,
    options(fields) {
      const exact = fields.size_mode.value === 'exact';
      if (exact && !fields.output_width.value && !fields.output_height.value) {
        return { problem: t('error.exactSize'), focus: fields.output_width };
      }
      const entries = [
        ['model_type', fields.model_type.value],
        ['face_enhance', fields.face_enhance.checked ? 'true' : 'false'],
        ['output_format', fields.output_format.value],
      ];
      if (!exact) entries.push(['scale', fields.scale.value]);
      for (const name of ['output_width', 'output_height']) {
        if (exact && fields[name].value) entries.push([name, fields[name].value]);
      }
      return { entries };
    },
  });
  return { focus: null };
}
