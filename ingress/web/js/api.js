// The HTTP API of the manual, as the page uses it: JSON requests, authenticated downloads and
// uploads with progress. A request refused with 401 refreshes the session once and is retried.
import * as session from './session.js';
import { ApiError, errorFromResponse, networkError, sessionExpired } from './errors.js';

function url(path, query) {
  if (!query) return path;
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value !== undefined && value !== null && value !== '') params.set(key, value);
  }
  const text = params.toString();
  return text ? `${path}?${text}` : path;
}

// The second 401 in a row means the session is over (revoked, or the user was removed).
function endSession() {
  session.end('expired');
  return sessionExpired();
}

// fetch() with the token; returns the Response (ok) or throws an ApiError with the API's words.
export async function send(path, { method = 'GET', json, query, auth = true, signal, headers = {} } = {}) {
  for (let attempt = 0; ; attempt += 1) {
    const all = { ...headers };
    if (json !== undefined) all['Content-Type'] = 'application/json';
    const used = auth ? await session.token() : null;
    if (used) all.Authorization = `Bearer ${used}`;
    let response;
    try {
      response = await fetch(url(path, query), {
        method,
        headers: all,
        body: json === undefined ? undefined : JSON.stringify(json),
        signal,
      });
    } catch (error) {
      if (error.name === 'AbortError') throw error;
      throw networkError();
    }
    if (response.status === 401 && auth) {
      if (attempt > 0) throw endSession();
      // Refreshed meanwhile by another request: just try again with the new token.
      if (session.accessToken() === used) await session.refresh();
      continue;
    }
    if (!response.ok) throw await errorFromResponse(response);
    return response;
  }
}

export async function getJson(path, options) {
  return (await send(path, options)).json();
}

export async function postJson(path, json, options = {}) {
  return (await send(path, { ...options, method: 'POST', json })).json();
}

export async function remove(path, options = {}) {
  return (await send(path, { ...options, method: 'DELETE' })).json();
}

// A download as a Blob with the server's file name (Content-Disposition).
export async function download(path, options) {
  const response = await send(path, options);
  const blob = await response.blob();
  return { blob, filename: filenameOf(response.headers.get('Content-Disposition')) };
}

export function filenameOf(disposition) {
  if (!disposition) return null;
  const exact = /filename\*=UTF-8''([^;]+)/i.exec(disposition);
  if (exact) return decodeURIComponent(exact[1]);
  const plain = /filename="([^"]*)"/i.exec(disposition);
  return plain ? plain[1] : null;
}

function xhrOnce(path, form, token, onProgress, signal) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', path);
    xhr.setRequestHeader('Authorization', `Bearer ${token}`);
    xhr.upload.addEventListener('progress', (event) => {
      if (event.lengthComputable) onProgress(event.loaded / event.total);
    });
    xhr.upload.addEventListener('load', () => onProgress(1));
    xhr.addEventListener('load', () => resolve(xhr));
    xhr.addEventListener('error', () => reject(networkError()));
    xhr.addEventListener('abort', () => reject(new DOMException('aborted', 'AbortError')));
    if (signal) signal.addEventListener('abort', () => xhr.abort(), { once: true });
    xhr.send(form);
  });
}

// multipart/form-data POST with upload progress (fetch cannot report it); returns
// {status, body} for 2xx, throws ApiError otherwise.
export async function upload(path, form, { onProgress = () => {}, signal } = {}) {
  await session.ensureFresh();
  for (let attempt = 0; ; attempt += 1) {
    const used = await session.token();
    const xhr = await xhrOnce(path, form, used, onProgress, signal);
    if (xhr.status === 401) {
      if (attempt > 0) throw endSession();
      if (session.accessToken() === used) await session.refresh();
      continue;
    }
    const response = new Response(xhr.responseText, {
      status: xhr.status,
      headers: { 'Retry-After': xhr.getResponseHeader('Retry-After') || '' },
    });
    if (xhr.status < 200 || xhr.status >= 300) throw await errorFromResponse(response);
    return { status: xhr.status, body: await response.json() };
  }
}

export { ApiError };
