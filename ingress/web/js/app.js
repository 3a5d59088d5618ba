// The web app's shell: language, session, the hash router and the top bar.
import { send } from './api.js';
import { $, $$, notify } from './dom.js';
import { describe } from './errors.js';
import { chooseLanguage, t, translate } from './i18n.js';
import * as session from './session.js';
import * as auth from './views/auth.js';
import { compareView } from './views/compare.js';
import { historyView } from './views/history.js';
import { imageForm } from './views/image.js';
import { videoForm, videoJob } from './views/video.js';

const ID = '([0-9a-f]{24})';
const ROUTES = [
  { pattern: /^\/login$/, view: auth.login, public: true, title: 'login.title' },
  { pattern: /^\/register$/, view: auth.register, public: true, title: 'register.title' },
  { pattern: /^\/image$/, view: imageForm, nav: 'image', title: 'image.title' },
  { pattern: new RegExp(`^/image/${ID}$`), view: compareView, nav: 'image', title: 'compare.title' },
  { pattern: /^\/video$/, view: videoForm, nav: 'video', title: 'video.title' },
  { pattern: new RegExp(`^/video/${ID}$`), view: videoJob, nav: 'video', title: 'video.title' },
  { pattern: /^\/history(?:\/(images|videos))?$/, view: historyView, nav: 'history', title: 'history.title' },
];

let active = null; // {controller, cleanups}
let notice = null; // shown once by the sign-in page (session expired, signed out)
let returnTo = null; // where to go after signing in
let firstRender = true;

export function go(path) {
  if (location.hash === `#${path}`) render();
  else location.hash = path;
}

function teardown() {
  if (!active) return;
  active.controller.abort();
  for (const cleanup of active.cleanups) cleanup();
  active = null;
}

function updateTopbar(route) {
  const state = session.current();
  $('#topbar').hidden = !state || route.public;
  $('#account-name').textContent = state ? state.user.username : '';
  $('#account-name').title = state ? t('nav.signedInAs', { name: state.user.email }) : '';
  for (const link of $$('[data-nav]')) {
    if (link.dataset.nav === route.nav) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
}

async function render() {
  const path = location.hash.replace(/^#/, '');
  const route = ROUTES.find((candidate) => candidate.pattern.test(path));
  const signedIn = session.current() !== null;
  if (!route) return go(signedIn ? '/image' : '/login');
  if (!route.public && !signedIn) {
    returnTo = path;
    return go('/login');
  }
  if (route.public && signedIn) return go('/image');
  teardown();
  const abort = new AbortController();
  const cleanups = [];
  active = { controller: abort, cleanups };
  const context = {
    params: path.match(route.pattern).slice(1),
    signal: abort.signal,
    onCleanup: (cleanup) => cleanups.push(cleanup),
    notice,
  };
  notice = null;
  updateTopbar(route);
  document.title = `${t(route.title)} · ${t('app.name')}`;
  const main = $('#main');
  window.scrollTo(0, 0);
  try {
    const shown = (await route.view(main, context)) || {};
    if (abort.signal.aborted) return undefined;
    const target = shown.focus || $('h1', main);
    if (target && (!firstRender || shown.focus)) {
      if (target.tagName === 'H1') target.tabIndex = -1;
      target.focus({ preventScroll: true });
    }
  } catch (error) {
    if (error.name !== 'AbortError') notify(describe(error), 'error');
  }
  firstRender = false;
  return undefined;
}

session.onChange((state, reason) => {
  if (reason === 'start') {
    const target = returnTo || '/image';
    returnTo = null;
    go(target);
  } else if (reason === 'expired' || reason === 'logout') {
    notice = t(reason === 'expired' ? 'session.expired' : 'session.loggedOut');
    go('/login');
  }
});

async function logout() {
  const state = session.current();
  if (!state) return;
  try {
    await send('/api/auth/logout', { method: 'POST', json: { refresh_token: state.refresh } });
  } catch {
    // Signed out here either way; the tokens expire on their own.
  }
  session.end('logout');
}

function start() {
  chooseLanguage();
  translate(document.body);
  document.title = t('app.name');
  $('#logout').addEventListener('click', logout);
  $('#skip').addEventListener('click', (event) => {
    event.preventDefault();
    $('#main').focus();
  });
  // A file dropped beside a drop zone must not replace the page with the file.
  for (const type of ['dragover', 'drop']) {
    window.addEventListener(type, (event) => {
      if (!(event.target instanceof HTMLInputElement && event.target.type === 'file')) event.preventDefault();
    });
  }
  window.addEventListener('unhandledrejection', (event) => {
    if (event.reason && event.reason.name === 'AbortError') event.preventDefault();
    else notify(describe(event.reason), 'error');
  });
  window.addEventListener('hashchange', render);
  session.restore();
  render();
}

start();
