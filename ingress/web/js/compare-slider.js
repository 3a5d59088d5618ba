// The before/after slider: both images drawn at the same size, the original clipped to the
// left of the divider. A range input moves it (keyboard, screen readers), and so does a
// pointer dragged over the images. "1:1" shows the enhanced image's real pixels in a
// scrollable viewport, centred on the last point pressed (double-click zooms there at once).
import { $ } from './dom.js';
import { t } from './i18n.js';

export function compareSlider(root, { width, height }) {
  const viewport = $('[data-role=viewport]', root);
  const stage = $('[data-role=stage]', root);
  const range = $('[data-role=range]', root);
  const zoom = $('[data-role=zoom]', root);
  let zoomed = false;
  let focus = { x: 0.5, y: 0.5 };
  let dragging = false;

  function setPosition(percent) {
    const clamped = Math.min(100, Math.max(0, percent));
    stage.style.setProperty('--pos', `${clamped}%`);
    range.value = String(Math.round(clamped));
  }

  function pointAt(event) {
    const box = stage.getBoundingClientRect();
    return { x: (event.clientX - box.left) / box.width, y: (event.clientY - box.top) / box.height };
  }

  function layout() {
    viewport.classList.toggle('zoomed', zoomed);
    zoom.setAttribute('aria-pressed', String(zoomed));
    zoom.textContent = t(zoomed ? 'compare.zoomFit' : 'compare.zoom1');
    stage.style.aspectRatio = `${width} / ${height}`;
    if (zoomed) {
      root.style.maxWidth = 'none';
      stage.style.width = `${width}px`;
      viewport.scrollLeft = focus.x * width - viewport.clientWidth / 2;
      viewport.scrollTop = focus.y * height - viewport.clientHeight / 2;
    } else {
      // As wide as the column allows, never taller than most of the screen; the slider
      // below takes the same width, so its thumb sits under the divider.
      root.style.maxWidth = `calc(70vh * ${width / height})`;
      stage.style.width = '100%';
    }
  }

  range.addEventListener('input', () => setPosition(Number(range.value)));
  stage.addEventListener('pointerdown', (event) => {
    if (event.button !== 0) return;
    focus = pointAt(event);
    dragging = true;
    stage.setPointerCapture(event.pointerId);
    setPosition(focus.x * 100);
  });
  stage.addEventListener('pointermove', (event) => {
    if (dragging) setPosition(pointAt(event).x * 100);
  });
  for (const type of ['pointerup', 'pointercancel']) {
    stage.addEventListener(type, () => { dragging = false; });
  }
  stage.addEventListener('dblclick', (event) => {
    focus = pointAt(event);
    zoomed = !zoomed;
    layout();
  });
  zoom.addEventListener('click', () => {
    zoomed = !zoomed;
    layout();
  });
  setPosition(50);
  layout();
  return { setPosition };
}
