// Small DOM helpers. The page never turns strings into HTML (the CSP's Trusted Types would
// refuse it): markup lives in index.html's <template>s, text goes in with textContent.
import { t, translate } from './i18n.js';

export function $(selector, root = document) {
  return root.querySelector(selector);
}

export function $$(selector, root = document) {
  return [...root.querySelectorAll(selector)];
}

// A translated copy of <template id="tpl-name">.
export function fromTemplate(name) {
  const template = document.getElementById(`tpl-${name}`);
  const fragment = template.content.cloneNode(true);
  translate(fragment);
  return fragment;
}

// el('p', {class: 'hint', text: 'Hola'}, child...) — attributes, then children.
export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === 'text') node.textContent = value;
    else if (name === 'class') node.className = value;
    else if (name.startsWith('on')) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? '' : value);
  }
  node.append(...children.filter((child) => child !== null && child !== undefined));
  return node;
}

export function show(node, visible) {
  node.hidden = !visible;
}

// The role=alert box of a form: the message in words, or hidden.
export function showError(box, message) {
  box.textContent = message || '';
  box.hidden = !message;
}

// Transient messages (saved, deleted, session expired) in a polite live region.
export function notify(message, kind = 'info') {
  const region = document.getElementById('toasts');
  const toast = el('div', { class: `toast toast-${kind}`, role: kind === 'error' ? 'alert' : 'status' },
    el('span', { text: message }),
    el('button', { type: 'button', class: 'toast-close', 'aria-label': t('app.close'), text: '×',
      onclick: () => toast.remove() }));
  region.append(toast);
  setTimeout(() => toast.remove(), kind === 'error' ? 12000 : 5000);
}

// A modal yes/no question on a real <dialog> (focus trapped, Esc cancels).
export function confirmDialog(message) {
  const dialog = document.getElementById('confirm');
  $('[data-role=message]', dialog).textContent = message;
  return new Promise((resolve) => {
    dialog.addEventListener('close', () => resolve(dialog.returnValue === 'yes'), { once: true });
    dialog.returnValue = '';
    dialog.showModal();
    $('[value=no]', dialog).focus();
  });
}

// Object URLs made for one view, released when the view goes away.
export class UrlBag {
  constructor() {
    this.urls = [];
  }

  add(blob) {
    const made = URL.createObjectURL(blob);
    this.urls.push(made);
    return made;
  }

  release() {
    for (const made of this.urls) URL.revokeObjectURL(made);
    this.urls = [];
  }
}

// Save a Blob under a name, as the browser's own download.
export function saveLink(anchor, href, filename) {
  anchor.href = href;
  anchor.download = filename;
  anchor.removeAttribute('aria-disabled');
}

export function sleep(ms, signal) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => {
      clearTimeout(timer);
      reject(new DOMException('aborted', 'AbortError'));
    }, { once: true });
  });
}

// A download the page fetched itself (it needs the token), started as the browser's own.
export function startDownload(href, filename) {
  const anchor = el('a', { href, download: filename, hidden: true });
  document.body.append(anchor);
  anchor.click();
  anchor.remove();
}
