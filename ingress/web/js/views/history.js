// The user's images and videos, newest first, paged, filtered by status; open or delete each.
import { download, getJson, remove } from '../api.js';
import { $, $$, confirmDialog, el, fromTemplate, notify, showError, sleep, UrlBag } from '../dom.js';
import { describe } from '../errors.js';
import { formatDate, formatNumber, formatPixels, t } from '../i18n.js';

const PER_PAGE = 12;
const REFRESH_MS = 3000;
const KINDS = {
  images: {
    item: 'image', statuses: ['pending', 'processing', 'completed', 'failed'], running: ['pending', 'processing'],
    empty: 'history.emptyImages', start: 'history.startImage', startHref: '#/image', confirm: 'history.deleteConfirmImage',
  },
  videos: {
    item: 'video', statuses: ['pending', 'in_progress', 'completed', 'error'], running: ['pending', 'in_progress'],
    empty: 'history.emptyVideos', start: 'history.startVideo', startHref: '#/video', confirm: 'history.deleteConfirmVideo',
  },
};
// Page and filter per kind, kept while the page is open (coming back finds them as left).
const remembered = { images: { page: 1, status: '' }, videos: { page: 1, status: '' } };

function meta(kind, entry) {
  const parts = [formatDate(entry.created_at), entry.model_type];
  if (entry.original_width) {
    const size = formatPixels(entry.original_width, entry.original_height);
    parts.push(entry.enhanced_width ? `${size} → ${formatPixels(entry.enhanced_width, entry.enhanced_height)}` : size);
  }
  if (kind === 'videos' && entry.status === 'in_progress') {
    parts.push(`${formatNumber(entry.frames_processed || 0)}/${formatNumber(entry.frame_count || 0)}`);
  }
  return parts.filter(Boolean).join(' · ');
}

function thumbnail(kind, entry) {
  const box = el('div', { class: 'item-thumb' });
  if (kind === 'videos') {
    box.append(fromTemplate('icon-video'));
  } else {
    box.append(el('img', { alt: t('history.thumb', { name: entry.original_filename }), 'data-id': entry.id }));
  }
  return box;
}

export async function historyView(main, { params: [chosen], signal, onCleanup }) {
  const kind = chosen || 'images';
  const spec = KINDS[kind];
  const state = remembered[kind];
  main.replaceChildren(fromTemplate('history'));
  const error = $('[data-role=error]', main);
  const list = $('[data-role=items]', main);
  const filter = $('[data-role=status]', main);
  const urls = new UrlBag();
  onCleanup(() => urls.release());
  for (const link of $$('[data-kind]', main)) {
    if (link.dataset.kind === kind) link.setAttribute('aria-current', 'page');
  }
  filter.replaceChildren(el('option', { value: '', text: t('history.all') }),
    ...spec.statuses.map((status) => el('option', { value: status, text: t(`status.${spec.item}.${status}`) })));
  filter.value = state.status;
  filter.addEventListener('change', () => {
    state.status = filter.value;
    state.page = 1;
    load();
  });
  $('[data-role=previous]', main).addEventListener('click', () => { state.page -= 1; load(); });
  $('[data-role=next]', main).addEventListener('click', () => { state.page += 1; load(); });

  async function erase(entry) {
    if (!(await confirmDialog(t(spec.confirm, { name: entry.original_filename })))) return;
    try {
      await remove(`/api/${kind}/${entry.id}`, { signal });
      notify(t('history.deleted'), 'success');
      await load();
      const heading = $('h1', main);
      heading.tabIndex = -1;
      heading.focus();
    } catch (failure) {
      if (failure.name !== 'AbortError') showError(error, describe(failure));
    }
  }

  function row(entry) {
    const href = `#/${spec.item}/${entry.id}`;
    const name = entry.original_filename;
    return el('li', { class: 'item' },
      thumbnail(kind, entry),
      el('div', { class: 'item-main' },
        el('a', { class: 'item-title', href, text: name }),
        el('p', { class: 'item-meta', text: meta(kind, entry) })),
      el('span', { class: `badge badge-${entry.status}`, text: t(`status.${spec.item}.${entry.status}`) }),
      el('div', { class: 'item-actions' },
        el('a', { class: 'btn btn-secondary btn-sm', href, text: t('history.open'), 'aria-label': `${t('history.open')}: ${name}` }),
        el('button', {
          type: 'button', class: 'btn btn-danger-ghost btn-sm', text: t('history.delete'),
          'aria-label': `${t('history.delete')}: ${name}`, onclick: () => erase(entry),
        })));
  }

  // Thumbnails need the token, so each original is fetched and shown from a blob.
  async function loadThumbnails() {
    for (const image of $$('img[data-id]', list)) {
      try {
        const { blob } = await download(`/api/images/${image.dataset.id}/original`, { signal });
        image.src = urls.add(blob);
      } catch (failure) {
        if (failure.name === 'AbortError') return;
        image.remove();
      }
    }
  }

  let loading = null;
  async function fetchPage() {
    showError(error, '');
    const query = { page: state.page, per_page: PER_PAGE, status: state.status };
    const body = await getJson(`/api/${kind}`, { query, signal });
    const entries = body[kind];
    if (entries.length === 0 && state.page > 1) {
      state.page -= 1; // the last entry of this page was deleted
      return fetchPage();
    }
    urls.release();
    list.replaceChildren(...entries.map(row));
    const pages = Math.max(1, Math.ceil(body.total / PER_PAGE));
    $('[data-role=pager]', main).hidden = pages <= 1;
    $('[data-role=page]', main).textContent = t('history.page', { page: state.page, pages, total: body.total });
    $('[data-role=previous]', main).disabled = state.page <= 1;
    $('[data-role=next]', main).disabled = state.page >= pages;
    const empty = $('[data-role=empty]', main);
    empty.hidden = entries.length > 0;
    $('[data-role=empty-text]', main).textContent = t(spec.empty);
    const start = $('[data-role=empty-action]', main);
    start.textContent = t(spec.start);
    start.href = spec.startHref;
    loadThumbnails();
    return entries;
  }

  function load() {
    loading = fetchPage().catch((failure) => {
      if (failure.name !== 'AbortError') showError(error, describe(failure));
      return [];
    });
    return loading;
  }

  // While something on the page is queued or running, refresh it now and then.
  (async () => {
    for (;;) {
      await sleep(REFRESH_MS, signal);
      const entries = await loading;
      if (entries.some((entry) => spec.running.includes(entry.status))) await load();
    }
  })().catch(() => {});

  await load();
  return {};
}
