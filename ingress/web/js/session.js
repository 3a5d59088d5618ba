// The signed-in session: tokens in sessionStorage (this tab only, never a cookie), the access
// token refreshed shortly before it expires, and at most one refresh in flight, because
// refresh tokens rotate: presenting a used one again revokes the whole session.
import { ApiError, errorFromResponse, networkError, sessionExpired } from './errors.js';

const KEY = 'enhancer.session';
const listeners = new Set();
let state = null; // {access, refresh, user: {username, email}}
let timer = 0;
let inflight = null;

function claims(token) {
  try {
    const part = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    return JSON.parse(atob(part.padEnd(part.length + ((4 - (part.length % 4)) % 4), '=')));
  } catch {
    return {};
  }
}

function persist() {
  if (state) sessionStorage.setItem(KEY, JSON.stringify(state));
  else sessionStorage.removeItem(KEY);
}

function secondsLeft() {
  const { exp } = claims(state.access);
  return typeof exp === 'number' ? exp - Date.now() / 1000 : 0;
}

// Refresh a minute early (a fifth of the lifetime for short-lived tokens).
function lead() {
  const { exp, iat } = claims(state.access);
  const lifetime = typeof exp === 'number' && typeof iat === 'number' ? exp - iat : 60;
  return Math.min(60, lifetime / 5);
}

function schedule() {
  clearTimeout(timer);
  if (!state) return;
  const wait = Math.max(0, (secondsLeft() - lead()) * 1000);
  timer = setTimeout(() => refresh().catch(() => {}), Math.min(wait, 2 ** 31 - 1));
}

// The server could not be asked (offline, restarting): try again later, not in a loop.
function retryLater() {
  clearTimeout(timer);
  timer = setTimeout(() => refresh().catch(() => {}), 15000);
}

export function onChange(listener) {
  listeners.add(listener);
}

function emit(reason) {
  for (const listener of listeners) listener(state, reason);
}

export function restore() {
  try {
    state = JSON.parse(sessionStorage.getItem(KEY));
  } catch {
    state = null;
  }
  if (state && !(state.access && state.refresh)) state = null;
  schedule();
  return state;
}

export function current() {
  return state;
}

export function accessToken() {
  return state ? state.access : null;
}

// The token to send now: after any refresh in flight, and refreshed first when it has
// expired already (a request with it would only earn a 401).
export async function token() {
  if (inflight) await inflight.catch(() => {});
  if (state && secondsLeft() <= 5) await refresh();
  if (!state) throw sessionExpired();
  return state.access;
}

export function start(tokens, user) {
  state = { access: tokens.access_token, refresh: tokens.refresh_token, user };
  persist();
  schedule();
  emit('start');
}

export function end(reason) {
  clearTimeout(timer);
  const had = state !== null;
  state = null;
  persist();
  if (had) emit(reason);
}

export function refresh() {
  if (!inflight) inflight = rotate().finally(() => { inflight = null; });
  return inflight;
}

// A fresh token before a long request (an upload), so it is not refused halfway.
export async function ensureFresh(seconds = 120) {
  if (state && secondsLeft() < seconds) await refresh();
}

async function rotate() {
  const used = state && state.refresh;
  if (!used) throw sessionExpired();
  let response;
  try {
    response = await fetch('/api/auth/refresh', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ refresh_token: used }),
    });
  } catch {
    retryLater();
    throw networkError();
  }
  if (response.ok) {
    const { tokens } = await response.json();
    if (state && state.refresh === used) {
      state = { ...state, access: tokens.access_token, refresh: tokens.refresh_token };
      persist();
      schedule();
    }
    return state && state.access;
  }
  const error = await errorFromResponse(response);
  if (response.status === 401 || response.status === 400) {
    end('expired');
    throw sessionExpired();
  }
  retryLater();
  throw new ApiError(error.status, error.message, { retryAfter: error.retryAfter });
}

document.addEventListener('visibilitychange', () => {
  // Timers sleep with the laptop: on return, refresh at once if the token is due.
  if (document.visibilityState === 'visible' && state && secondsLeft() < lead()) {
    refresh().catch(() => {});
  }
});
