// A drop zone built around a real <input type=file>: the input covers the zone, so a click,
// the keyboard (Tab, then Enter or Space) and a dropped file all reach it natively.
import { $, fromTemplate } from './dom.js';
import { formatBytes, t } from './i18n.js';

export function dropzone(slot, { id, accept, titleKey, onFile }) {
  slot.replaceChildren(fromTemplate('dropzone'));
  const zone = $('[data-role=dropzone]', slot);
  const input = $('[data-role=file]', zone);
  const title = $('[data-role=title]', zone);
  const hint = $('[data-role=hint]', zone);
  input.id = id;
  input.accept = accept;

  function describeChoice(file) {
    zone.classList.toggle('has-file', Boolean(file));
    title.textContent = file ? t('drop.chosen', { name: file.name, size: formatBytes(file.size) }) : t(titleKey);
    hint.textContent = t(file ? 'drop.change' : 'drop.hint');
    input.setAttribute('aria-label', `${title.textContent}. ${hint.textContent}`);
  }

  let depth = 0; // dragenter/dragleave also fire for the zone's children
  zone.addEventListener('dragenter', () => {
    depth += 1;
    zone.classList.add('dragging');
  });
  zone.addEventListener('dragleave', () => {
    depth = Math.max(0, depth - 1);
    if (depth === 0) zone.classList.remove('dragging');
  });
  zone.addEventListener('drop', () => {
    depth = 0;
    zone.classList.remove('dragging');
  });
  input.addEventListener('change', () => {
    const file = input.files[0] || null;
    describeChoice(file);
    onFile(file);
  });
  describeChoice(null);
  return { input, file: () => input.files[0] || null };
}
