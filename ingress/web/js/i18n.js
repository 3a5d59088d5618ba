// Every text the page shows, by language. A second language is one more entry in MESSAGES
// with the same keys (tests/web/test_static.py checks that the keys match).
// Values may hold {name} placeholders, filled by t(key, {name: ...}).

const MESSAGES = {
  es: {
    'app.name': 'Image Enhancer',
    'app.tagline': 'Fotos y vídeos más nítidos con Real-ESRGAN',
    'app.skip': 'Saltar al contenido',
    'app.loading': 'Cargando…',
    'app.close': 'Cerrar',

    'nav.label': 'Secciones',
    'nav.image': 'Mejorar foto',
    'nav.video': 'Vídeo',
    'nav.history': 'Historial',
    'nav.logout': 'Salir',
    'nav.signedInAs': 'Sesión iniciada como {name}',

    'login.title': 'Iniciar sesión',
    'login.lead': 'Entra para mejorar tus fotos y vídeos.',
    'login.submit': 'Entrar',
    'login.noAccount': '¿No tienes cuenta?',
    'login.toRegister': 'Crear una cuenta',
    'register.title': 'Crear cuenta',
    'register.lead': 'Solo necesitas un correo y una contraseña.',
    'register.submit': 'Crear cuenta',
    'register.haveAccount': '¿Ya tienes cuenta?',
    'register.toLogin': 'Iniciar sesión',
    'field.username': 'Nombre de usuario',
    'field.usernameHint': 'De 3 a 50 caracteres: letras, números, punto, guion o guion bajo.',
    'field.email': 'Correo electrónico',
    'field.password': 'Contraseña',
    'field.passwordHint': 'Mínimo 8 caracteres.',
    'session.expired': 'Tu sesión ha caducado. Vuelve a iniciar sesión.',
    'session.loggedOut': 'Has cerrado la sesión.',

    'image.title': 'Mejorar una foto',
    'image.lead': 'Sube una foto PNG, JPEG o WEBP y elige cómo mejorarla.',
    'image.submit': 'Mejorar foto',
    'image.previewTitle': 'Vista previa',
    'image.previewEmpty': 'Aquí verás la foto que elijas.',
    'upload.progress': 'Subiendo… {percent}',
    'image.processing': 'Mejorando con {model}… {seconds} s',
    'image.waiting': 'En cola… {seconds} s',
    'drop.imageTitle': 'Arrastra una foto aquí',
    'drop.videoTitle': 'Arrastra un vídeo aquí',
    'drop.hint': 'o pulsa para elegir un archivo',
    'drop.change': 'Elegir otro archivo',
    'drop.chosen': '{name} · {size}',
    'field.model': 'Modelo',
    'field.size': 'Tamaño de salida',
    'field.sizeScale': 'Escala',
    'field.sizeExact': 'Tamaño exacto',
    'field.scale': 'Factor de escala',
    'field.width': 'Ancho (px)',
    'field.height': 'Alto (px)',
    'field.exactHint': 'Deja uno vacío para mantener la proporción.',
    'field.face': 'Mejorar rostros (GFPGAN)',
    'field.format': 'Formato de salida',
    'model.unavailable': '{name} (no disponible)',
    'model.downloads': '{name} (se descarga al primer uso)',
    'model.option': '{name} · {use}',
    'model.noneAvailable': 'Ningún modelo está disponible ahora mismo.',
    'scale.option': '{scale}×',
    'error.noFile': 'Elige un archivo primero.',
    'error.tooLargeLocal': 'El archivo pesa {size}; el máximo es {max}.',
    'error.exactSize': 'Indica el ancho, el alto o ambos.',

    'compare.title': 'Resultado',
    'compare.before': 'Original',
    'compare.after': 'Mejorada',
    'compare.slider': 'Comparar: a la izquierda el original, a la derecha la mejorada',
    'compare.viewport': 'Comparación antes y después',
    'compare.zoomFit': 'Ajustar a la pantalla',
    'compare.zoom1': 'Ver a 1:1',
    'compare.zoomHint': 'Haz doble clic en un punto para verlo a 1:1.',
    'compare.downloadOriginal': 'Descargar original',
    'compare.downloadEnhanced': 'Descargar mejorada',
    'compare.another': 'Mejorar otra foto',
    'compare.pending': 'La foto está en cola.',
    'compare.processing': 'Mejorando la foto…',
    'compare.failed': 'No se pudo mejorar la foto.',
    'details.model': 'Modelo',
    'details.size': 'Tamaño',
    'details.sizeValue': '{from} → {to}',
    'details.time': 'Tiempo de proceso',
    'details.device': 'Procesador',
    'details.gpu': 'GPU',
    'details.cpu': 'CPU',
    'details.created': 'Creado',
    'details.face': 'Rostros',
    'details.yes': 'Sí',
    'details.no': 'No',

    'video.title': 'Mejorar un vídeo',
    'video.lead': 'El vídeo se procesa en segundo plano: puedes seguir el progreso aquí o desde el historial.',
    'video.submit': 'Enviar vídeo',
    'video.probe': 'Vídeo original',
    'video.duration': 'Duración',
    'video.fps': 'Fotogramas por segundo',
    'video.frames': 'Fotogramas',
    'video.size': 'Tamaño',
    'video.enhancedSize': 'Tamaño mejorado',
    'video.progress': 'Progreso',
    'video.framesDone': '{done} de {total} fotogramas · {percent}',
    'video.speed': '{fps} fps',
    'video.eta': 'quedan unos {time}',
    'video.etaUnknown': 'calculando el tiempo restante…',
    'video.finishing': 'uniendo el vídeo final…',
    'video.cancel': 'Cancelar y eliminar',
    'video.cancelConfirm': '¿Cancelar el procesamiento y eliminar este vídeo?',
    'video.cancelled': 'Vídeo cancelado y eliminado.',
    'video.result': 'Resultado',
    'video.loadingResult': 'Cargando el vídeo mejorado…',
    'video.cannotPlay': 'Este navegador no puede reproducir el vídeo (MKV, H.264). Descárgalo para verlo.',
    'video.downloadEnhanced': 'Descargar vídeo mejorado (MKV)',
    'video.downloadOriginal': 'Descargar original',
    'video.another': 'Enviar otro vídeo',
    'video.failed': 'No se pudo procesar el vídeo.',
    'video.player': 'Vídeo mejorado',

    'history.title': 'Historial',
    'history.lead': 'Tus fotos y vídeos, los más recientes primero.',
    'history.images': 'Fotos',
    'history.videos': 'Vídeos',
    'history.kinds': 'Tipo',
    'history.filter': 'Estado',
    'history.all': 'Todos',
    'history.emptyImages': 'Todavía no hay fotos aquí.',
    'history.emptyVideos': 'Todavía no hay vídeos aquí.',
    'history.startImage': 'Mejorar una foto',
    'history.startVideo': 'Enviar un vídeo',
    'history.open': 'Abrir',
    'history.delete': 'Eliminar',
    'history.deleteConfirmImage': '¿Eliminar la foto «{name}» y su resultado?',
    'history.deleteConfirmVideo': '¿Eliminar el vídeo «{name}» y su resultado?',
    'history.deleted': 'Eliminado.',
    'history.previous': 'Anterior',
    'history.next': 'Siguiente',
    'history.page': 'Página {page} de {pages} · {total} en total',
    'history.pager': 'Páginas',
    'history.thumb': 'Miniatura de {name}',

    'status.image.pending': 'En cola',
    'status.image.processing': 'Procesando',
    'status.image.completed': 'Completada',
    'status.image.failed': 'Fallida',
    'status.video.pending': 'En cola',
    'status.video.in_progress': 'En proceso',
    'status.video.completed': 'Completado',
    'status.video.error': 'Error',

    'dialog.confirm': 'Sí, eliminar',
    'dialog.cancel': 'No, volver',

    'error.network': 'No se pudo conectar con el servidor. Comprueba la conexión e inténtalo de nuevo.',
    'error.http': 'El servidor respondió con un error ({status}).',
    'error.retryAfter': '{message} Vuelve a intentarlo en {seconds} s.',
    'error.unexpected': 'Algo salió mal en la página: {message}',
    'error.notFound': 'No encontrado.',

    'unit.seconds': '{n} s',
    'unit.minutes': '{m} min {s} s',
    'unit.hours': '{h} h {m} min',
    'unit.pixels': '{w}×{h}',
  },
};

const FALLBACK = 'es';
let language = FALLBACK;

export function languages() {
  return Object.keys(MESSAGES);
}

export function setLanguage(wanted) {
  language = MESSAGES[wanted] ? wanted : FALLBACK;
  document.documentElement.lang = language;
}

// The first of the browser's languages we have, else Spanish (the manual's language).
export function chooseLanguage(preferred = navigator.languages || []) {
  const found = preferred.map((tag) => tag.split('-')[0]).find((tag) => MESSAGES[tag]);
  setLanguage(found || FALLBACK);
}

export function t(key, values = {}) {
  const text = MESSAGES[language][key] ?? MESSAGES[FALLBACK][key];
  if (text === undefined) {
    console.warn(`missing text: ${key}`);
    return key;
  }
  return text.replace(/\{(\w+)\}/g, (_, name) => (name in values ? String(values[name]) : `{${name}}`));
}

// Static markup names its texts with data-i18n (textContent) and data-i18n-<attr> (attributes).
export function translate(root) {
  for (const el of root.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll('*')) {
    for (const { name, value } of [...el.attributes]) {
      if (name.startsWith('data-i18n-')) el.setAttribute(name.slice('data-i18n-'.length), t(value));
    }
  }
}

export function formatNumber(value, digits = 0) {
  return new Intl.NumberFormat(language, { maximumFractionDigits: digits }).format(value);
}

export function formatPercent(fraction) {
  return new Intl.NumberFormat(language, { style: 'percent', maximumFractionDigits: 0 }).format(fraction);
}

export function formatBytes(bytes) {
  const units = ['B', 'KB', 'MB', 'GB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${formatNumber(value, unit === 0 ? 0 : 1)} ${units[unit]}`;
}

export function formatDuration(seconds) {
  const whole = Math.max(0, Math.round(seconds));
  if (whole < 60) return t('unit.seconds', { n: formatNumber(seconds < 10 ? seconds : whole, 1) });
  if (whole < 3600) return t('unit.minutes', { m: Math.floor(whole / 60), s: whole % 60 });
  return t('unit.hours', { h: Math.floor(whole / 3600), m: Math.floor((whole % 3600) / 60) });
}

export function formatPixels(width, height) {
  return t('unit.pixels', { w: width, h: height });
}

// The API's timestamps are UTC without a zone ("2024-12-03T10:35:00", as in the manual).
export function formatDate(value) {
  if (!value) return '';
  const date = new Date(/[zZ]|[+-]\d\d:?\d\d$/.test(value) ? value : `${value}Z`);
  return new Intl.DateTimeFormat(language, { dateStyle: 'medium', timeStyle: 'short' }).format(date);
}
