// Reference lists: countries (kept for the browser session), points of
// entry, control bodies.

import { get } from './api.js';
import { lang, t } from './i18n.js';

let countries = null;
const byCode = new Map();

export async function loadCountries() {
  if (countries) {
    return countries;
  }
  try {
    const cached = JSON.parse(window.sessionStorage.getItem('traces.countries') || 'null');
    if (Array.isArray(cached) && cached.length) {
      countries = cached;
    }
  } catch (e) {
    countries = null;
  }
  if (!countries) {
    const doc = await get('/api/countries');
    countries = Array.isArray(doc.items) ? doc.items : [];
    try {
      window.sessionStorage.setItem('traces.countries', JSON.stringify(countries));
    } catch (e) {
      // ignore
    }
  }
  for (const c of countries) {
    byCode.set(c.code, c);
  }
  return countries;
}

export function countryName(code) {
  if (!code) {
    return '';
  }
  const c = byCode.get(code);
  if (!c) {
    return code;
  }
  return (lang() === 'fr' ? c.name_fr : c.name_en) || c.name_en || code;
}

// "France (FR)", as TRACES writes it
export function countryLabel(code) {
  if (!code) {
    return '';
  }
  return `${countryName(code)} (${code})`;
}

export function countryOptions() {
  const list = (countries || []).map((c) => ({ value: c.code, label: countryLabel(c.code) }));
  const coll = new Intl.Collator(lang());
  list.sort((a, b) => coll.compare(a.label, b.label));
  return list;
}

export async function pointsOfEntry(country) {
  const doc = await get('/api/points-of-entry', country ? { country } : {});
  return Array.isArray(doc.items) ? doc.items : [];
}

// every page of /api/control-bodies for a filter (a country has few entries)
export async function controlBodies(params, max = 300) {
  const out = [];
  let after = null;
  do {
    const doc = await get('/api/control-bodies', { ...params, limit: 100, after });
    out.push(...(Array.isArray(doc.items) ? doc.items : []));
    after = doc.next || null;
  } while (after && out.length < max);
  return out;
}

export const CATEGORIES = ['A', 'B', 'C', 'D', 'E', 'F'];

export function categoryName(c) {
  return t(`categories.${c}`);
}
