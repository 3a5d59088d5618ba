// Videos: submit one (multipart upload with progress), then follow it live to the end:
// probe figures, frames processed, fps and ETA; cancel; play and download the result.
import { download, getJson, remove } from '../api.js';
import { $, confirmDialog, el, fromTemplate, notify, saveLink, showError, startDownload, UrlBag } from '../dom.js';
import { dropzone } from '../dropzone.js';
import { describe } from '../errors.js';
import { follow, isFinished } from '../follow.js';
import { takeOver } from '../handoff.js';
import { formatDuration, formatNumber, formatPercent, formatPixels, t } from '../i18n.js';
import { bindModelChoice, progressReporter, submitUploads } from '../upload-form.js';

const ACCEPT = 'video/*,.mkv,.mp4,.mov,.avi,.webm,.ts';

export async function videoForm(main, { signal, onCleanup }) {
  main.replaceChildren(fromTemplate('video'));
  const form = $('[data-role=form]', main);
  const error = $('[data-role=error]', main);
  const picker = dropzone($('[data-role=drop]', main), {
    id: 'video-file',
    accept: ACCEPT,
    titleKey: 'drop.videoTitle',
    onFile: () => showError(error, ''),
  });
  await bindModelChoice(form, 'general_x4');
  const reporter = progressReporter($('[data-role=progress]', form), null);
  onCleanup(() => reporter.stop());

  submitUploads(form, {
    picker, path: '/api/videos/enhance', kind: 'video', reporter, signal,
    options: (fields) => ({
      entries: [
        ['filename', picker.file().name],
        ['model_type', fields.model_type.value],
        ['scale', fields.scale.value],
        ['face_enhance', fields.face_enhance.checked ? 'true' : 'false'],
      ],
    }),
  });
  return { focus: null };
}

function probeRows(video) {
  const rows = [
    ['video.duration', formatDuration(video.duration_seconds)],
    ['video.fps', formatNumber(video.fps, 3)],
    ['video.frames', formatNumber(video.frame_count)],
    ['video.size', formatPixels(video.original_width, video.original_height)],
  ];
  if (video.enhanced_width) {
    rows.push(['video.enhancedSize', formatPixels(video.enhanced_width, video.enhanced_height)]);
  }
  return rows.flatMap(([term, value]) => [el('dt', { text: t(term) }), el('dd', { text: value })]);
}

function showProgress(main, video) {
  const total = video.frame_count || 0;
  const done = video.status === 'completed' ? total : Math.min(total, video.frames_processed || 0);
  const fraction = total ? done / total : 0;
  $('[data-role=filename]', main).textContent = video.original_filename;
  const badge = $('[data-role=status]', main);
  badge.textContent = t(`status.video.${video.status}`);
  badge.className = `badge badge-${video.status}`;
  $('[data-role=bar]', main).value = fraction * 100;
  $('[data-role=frames]', main).textContent = t('video.framesDone', {
    done: formatNumber(done), total: formatNumber(total), percent: formatPercent(fraction),
  });
  let speed = '';
  if (video.status === 'in_progress') {
    const parts = [];
    if (video.processing_fps) parts.push(t('video.speed', { fps: formatNumber(video.processing_fps, 2) }));
    if (total && done >= total) parts.push(t('video.finishing'));
    else if (video.eta_seconds == null) parts.push(t('video.etaUnknown'));
    else parts.push(t('video.eta', { time: formatDuration(video.eta_seconds) }));
    speed = parts.join(' · ');
  }
  $('[data-role=speed]', main).textContent = speed;
  $('[data-role=probe]', main).replaceChildren(...probeRows(video));
  $('[data-role=cancel]', main).hidden = isFinished(video);
}

async function showResult(main, video, urls, signal) {
  const player = $('[data-role=player]', main);
  const status = $('[data-role=player-status]', main);
  const element = $('[data-role=video]', main);
  player.hidden = false;
  status.textContent = t('video.loadingResult');
  const result = await download(`/api/videos/${video.id}/enhanced`, { signal });
  const href = urls.add(result.blob);
  element.addEventListener('loadeddata', () => { status.textContent = ''; }, { once: true });
  element.addEventListener('error', () => { status.textContent = t('video.cannotPlay'); }, { once: true });
  element.src = href;
  element.hidden = false;
  const link = $('[data-role=download-enhanced]', main);
  saveLink(link, href, result.filename || `${video.id}.mkv`);
  link.hidden = false;
}

export async function videoJob(main, { params: [id], signal, onCleanup }) {
  main.replaceChildren(fromTemplate('video-job'));
  const urls = new UrlBag();
  onCleanup(() => urls.release());
  const error = $('[data-role=error]', main);
  const cancel = $('[data-role=cancel]', main);
  const original = $('[data-role=download-original]', main);
  let video = takeOver('video', id);

  cancel.addEventListener('click', async () => {
    if (!(await confirmDialog(t('video.cancelConfirm')))) return;
    try {
      await remove(`/api/videos/${id}`);
      notify(t('video.cancelled'), 'success');
      location.hash = '/history/videos';
    } catch (failure) {
      showError(error, describe(failure));
    }
  });
  original.addEventListener('click', async () => {
    try {
      const file = await download(`/api/videos/${id}/original`, { signal });
      const href = urls.add(file.blob);
      startDownload(href, file.filename || 'original');
    } catch (failure) {
      if (failure.name !== 'AbortError') showError(error, describe(failure));
    }
  });

  try {
    video = video || (await getJson(`/api/videos/${id}`, { query: { include_base64: 'false' }, signal })).video;
    showProgress(main, video);
    if (!isFinished(video)) video = await follow(id, video, (state) => showProgress(main, state), signal);
    showProgress(main, video);
    if (video.status === 'completed') await showResult(main, video, urls, signal);
    else showError(error, video.error_message || t('video.failed'));
  } catch (failure) {
    if (failure.name === 'AbortError') throw failure;
    showError(error, describe(failure));
  }
  return {};
}
