// What the service offers: the models of GET /api/models (with `available`/`weights` when the
// service reports them; absent means available) and the limits of GET /api/info.
import { getJson } from './api.js';
import { el } from './dom.js';
import { t } from './i18n.js';

let models = null;
let limits = null;

export async function loadModels() {
  if (!models) {
    models = getJson('/api/models', { auth: false }).then((body) => body.models);
    models.catch(() => { models = null; });
  }
  return models;
}

// {max_request_bytes, ...} or {} when /api/info cannot say (the server then decides alone).
export async function loadLimits() {
  if (!limits) {
    limits = getJson('/api/info', { auth: false }).then((body) => body.limits || {}, () => ({}));
  }
  return limits;
}

export function isAvailable(model) {
  return model.available !== false;
}

function label(model) {
  if (!isAvailable(model)) return t('model.unavailable', { name: model.id });
  if (model.weights === 'downloads on first use') return t('model.downloads', { name: model.id });
  // The first words of the use case ("Anime, manga, ..." -> "Anime"); the hint has the rest.
  return t('model.option', { name: model.id, use: model.use_case.split(/,| - /)[0] });
}

// Fill a <select> with the models, unavailable ones shown but disabled; keeps `preferred`
// selected when it can be used. Returns the list.
export function fillModels(select, list, preferred = 'general_x4') {
  select.replaceChildren(...list.map((model) => el('option', {
    value: model.id,
    text: label(model),
    disabled: !isAvailable(model),
  })));
  const usable = list.filter(isAvailable);
  const chosen = usable.find((model) => model.id === preferred) || usable[0];
  if (chosen) select.value = chosen.id;
  return list;
}

export function describeModel(list, id) {
  const model = list.find((entry) => entry.id === id);
  return model ? `${model.name}: ${model.description}` : '';
}

export function defaultScale(list, id) {
  const model = list.find((entry) => entry.id === id);
  return model ? model.default_scale : 4;
}

export function fillScales(select, selected) {
  select.replaceChildren(...[1, 2, 3, 4].map((scale) => el('option', {
    value: String(scale),
    text: t('scale.option', { scale }),
  })));
  select.value = String(selected);
}
