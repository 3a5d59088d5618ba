// Errors the page shows to people: always a sentence, never a blank page or raw JSON.
import { t } from './i18n.js';

export class ApiError extends Error {
  constructor(status, message, { retryAfter = null, sessionEnded = false } = {}) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.retryAfter = retryAfter;
    this.sessionEnded = sessionEnded;
  }
}

// The API's own words ({"error": "..."}, the manual's bodies), else a sentence for the status.
export async function errorFromResponse(response) {
  let message = '';
  try {
    const body = await response.json();
    if (body && typeof body.error === 'string') message = body.error;
  } catch {
    // Not JSON (a proxy's page, an empty body): the status says enough.
  }
  const retryAfter = Number(response.headers.get('Retry-After')) || null;
  return new ApiError(response.status, message || t('error.http', { status: response.status }), { retryAfter });
}

export function sessionExpired() {
  return new ApiError(401, t('session.expired'), { sessionEnded: true });
}

export function networkError() {
  return new ApiError(0, t('error.network'));
}

export function describe(error) {
  if (error instanceof ApiError) {
    if (error.retryAfter) return t('error.retryAfter', { message: error.message, seconds: error.retryAfter });
    return error.message;
  }
  return t('error.unexpected', { message: (error && error.message) || String(error) });
}
