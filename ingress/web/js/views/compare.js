// One image's page: waits while it is queued or processed, then the before/after slider,
// its details and both downloads.
import { download, getJson } from '../api.js';
import { compareSlider } from '../compare-slider.js';
import { $, el, fromTemplate, saveLink, showError, sleep, UrlBag } from '../dom.js';
import { describe } from '../errors.js';
import { takeOver } from '../handoff.js';
import { formatDate, formatDuration, formatPixels, t } from '../i18n.js';

const POLL_MS = 1000;
// The formats the service writes, by their first bytes.
const SIGNATURES = [
  { type: 'image/png', extension: 'png', test: (b) => b[0] === 0x89 && b[1] === 0x50 },
  { type: 'image/jpeg', extension: 'jpg', test: (b) => b[0] === 0xff && b[1] === 0xd8 },
  { type: 'image/webp', extension: 'webp', test: (b) => b[8] === 0x57 && b[9] === 0x45 && b[10] === 0x42 },
];

function decodeBase64(text) {
  if (Uint8Array.fromBase64) return Uint8Array.fromBase64(text); // native, fast
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i += 1) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

function blobFromBase64(text) {
  const bytes = decodeBase64(text);
  const kind = SIGNATURES.find((signature) => signature.test(bytes));
  return { blob: new Blob([bytes], { type: kind ? kind.type : '' }), extension: kind ? kind.extension : 'png' };
}

function stem(name) {
  return name.replace(/\.[^.]*$/, '');
}

// Both files: from the answer that created the image when it carried them, else downloaded.
async function loadFiles(image, signal) {
  if (image.original_base64 && image.enhanced_base64) {
    const original = blobFromBase64(image.original_base64);
    const enhanced = blobFromBase64(image.enhanced_base64);
    return {
      original: { blob: original.blob, filename: image.original_filename },
      enhanced: { blob: enhanced.blob, filename: `${stem(image.original_filename)}_mejorado.${enhanced.extension}` },
    };
  }
  const [original, enhanced] = await Promise.all([
    download(`/api/images/${image.id}/original`, { signal }),
    download(`/api/images/${image.id}/enhanced`, { signal }),
  ]);
  return { original, enhanced };
}

function details(list, image) {
  const rows = [
    ['details.model', image.model_type],
    ['details.size', t('details.sizeValue', {
      from: formatPixels(image.original_width, image.original_height),
      to: formatPixels(image.enhanced_width, image.enhanced_height),
    })],
    ['details.time', image.processing_time_ms == null ? '—' : formatDuration(image.processing_time_ms / 1000)],
    ['details.device', t(image.gpu_used ? 'details.gpu' : 'details.cpu')],
    ['details.face', t(image.face_enhance ? 'details.yes' : 'details.no')],
    ['details.created', formatDate(image.created_at)],
  ];
  list.replaceChildren(...rows.flatMap(([term, value]) => [el('dt', { text: t(term) }), el('dd', { text: value })]));
}

async function loadImage(id, signal) {
  return (await getJson(`/api/images/${id}`, { query: { include_base64: 'false' }, signal })).image;
}

export async function compareView(main, { params: [id], signal, onCleanup }) {
  main.replaceChildren(fromTemplate('compare'));
  const urls = new UrlBag();
  onCleanup(() => urls.release());
  const error = $('[data-role=error]', main);
  const waiting = $('[data-role=waiting]', main);
  let image = takeOver('image', id);
  try {
    image = image || (await loadImage(id, signal));
    $('[data-role=filename]', main).textContent = image.original_filename;
    while (image.status === 'pending' || image.status === 'processing') {
      waiting.hidden = false;
      $('[data-role=waiting-text]', main).textContent = t(`compare.${image.status}`);
      await sleep(POLL_MS, signal);
      image = await loadImage(id, signal);
    }
    waiting.hidden = true;
    if (image.status !== 'completed') {
      showError(error, image.error_message || t('compare.failed'));
      return {};
    }
    const files = await loadFiles(image, signal);
    const before = $('[data-role=before]', main);
    const after = $('[data-role=after]', main);
    before.src = urls.add(files.original.blob);
    after.src = urls.add(files.enhanced.blob);
    await Promise.all([before.decode(), after.decode()]);
    $('[data-role=result]', main).hidden = false;
    compareSlider($('.compare', main), { width: after.naturalWidth, height: after.naturalHeight });
    details($('[data-role=details]', main), image);
    saveLink($('[data-role=download-original]', main), before.src, files.original.filename);
    saveLink($('[data-role=download-enhanced]', main), after.src, files.enhanced.filename);
  } catch (failure) {
    if (failure.name === 'AbortError') throw failure;
    waiting.hidden = true;
    showError(error, describe(failure));
  }
  return {};
}
