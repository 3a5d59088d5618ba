// Following a video job to its end: the progress event stream (GET /api/videos/{id}/events,
// Server-Sent Events) where the service has it, else polling GET /api/videos/{id}.
// fetch() reads the stream because EventSource cannot send the Authorization header.
import { getJson, send } from './api.js';
import { sleep } from './dom.js';
import { ApiError } from './errors.js';

const TERMINAL = new Set(['completed', 'error']);
const POLL_MS = 1000;
let streamMissing = false; // this service has no event stream: poll without asking again

export function isFinished(video) {
  return Boolean(video) && TERMINAL.has(video.status);
}

function parseEvent(block) {
  const event = { type: 'message', data: [] };
  for (const line of block.split(/\r?\n/)) {
    if (line.startsWith(':')) continue;
    const [field, ...rest] = line.split(':');
    const value = rest.join(':').replace(/^ /, '');
    if (field === 'event') event.type = value;
    if (field === 'data') event.data.push(value);
  }
  return { type: event.type, data: event.data.join('\n') };
}

// Merge each event's fields into `video`; returns the last state once the stream ends
// (or null when the service has no stream).
async function streamEvents(id, video, onUpdate, signal) {
  let response;
  try {
    response = await send(`/api/videos/${id}/events`, { headers: { Accept: 'text/event-stream' }, signal });
  } catch (error) {
    // A server without the route: older ones say 'Not Found', newer 'Ruta no encontrada'.
    if (error instanceof ApiError && error.status === 404
        && (error.message === 'Not Found' || error.message === 'Ruta no encontrada')) {
      streamMissing = true;
      return null;
    }
    throw error;
  }
  if (!(response.headers.get('Content-Type') || '').startsWith('text/event-stream')) {
    streamMissing = true;
    return null;
  }
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let state = video;
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return state;
    buffer += value;
    let cut = buffer.search(/\r?\n\r?\n/);
    while (cut >= 0) {
      const event = parseEvent(buffer.slice(0, cut));
      buffer = buffer.slice(cut).replace(/^\r?\n\r?\n/, '');
      cut = buffer.search(/\r?\n\r?\n/);
      if (!event.data) continue;
      let payload;
      try {
        payload = JSON.parse(event.data);
      } catch {
        continue;
      }
      state = { ...state, ...(payload.video || payload) };
      if (TERMINAL.has(event.type) && !TERMINAL.has(state.status)) state.status = event.type;
      onUpdate(state);
      if (isFinished(state)) {
        reader.cancel().catch(() => {});
        return state;
      }
    }
  }
}

async function poll(id, onUpdate, signal) {
  for (let failures = 0; ;) {
    try {
      const { video } = await getJson(`/api/videos/${id}`, { query: { include_base64: 'false' }, signal });
      failures = 0;
      onUpdate(video);
      if (isFinished(video)) return video;
    } catch (error) {
      // A blip in the connection: keep following; anything else is the view's to show.
      if (!(error instanceof ApiError) || error.status !== 0) throw error;
      failures += 1;
    }
    await sleep(POLL_MS * Math.min(5, 1 + failures), signal);
  }
}

// Resolves with the finished video (its full object from GET); onUpdate gets every state.
export async function follow(id, video, onUpdate, signal) {
  if (!streamMissing) {
    const streamed = await streamEvents(id, video, onUpdate, signal);
    if (isFinished(streamed)) {
      // The events carry progress; the finished object has every field.
      const { video: full } = await getJson(`/api/videos/${id}`, { query: { include_base64: 'false' }, signal });
      return full;
    }
  }
  return poll(id, onUpdate, signal);
}
