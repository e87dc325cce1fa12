// Translations: html/i18n/fr.json and html/i18n/en.json hold every label and
// message of the pages. The language is the one chosen with the FR/EN switch
// (kept in localStorage), else the browser's (navigator.language), else
// English. Keys are dotted paths into the JSON ("nav.certificates").

export const LANGS = ['fr', 'en'];
const STORE = 'traces.lang';

let dict = {};
let current = 'en';

export function detectLang() {
  let stored = null;
  try {
    stored = window.localStorage.getItem(STORE);
  } catch (e) {
    stored = null;
  }
  if (LANGS.includes(stored)) {
    return stored;
  }
  const wanted = (navigator.languages && navigator.languages.length
    ? navigator.languages : [navigator.language || 'en']);
  for (const l of wanted) {
    const code = String(l || '').toLowerCase().slice(0, 2);
    if (LANGS.includes(code)) {
      return code;
    }
  }
  return 'en';
}

export async function loadLang(lang) {
  const res = await fetch(`/i18n/${lang}.json`, {
    credentials: 'same-origin',
    headers: { Accept: 'application/json' },
  });
  if (!res.ok) {
    throw new Error(`translations ${lang}: HTTP ${res.status}`);
  }
  dict = await res.json();
  current = lang;
  document.documentElement.lang = lang;
}

export function lang() {
  return current;
}

function lookup(key) {
  return key.split('.').reduce(
    (o, k) => (o && typeof o === 'object' ? o[k] : undefined), dict);
}

export function has(key) {
  return typeof lookup(key) === 'string';
}

// t('roles.counts', {n: 2}): "{n}" placeholders are replaced
export function t(key, vars) {
  let v = lookup(key);
  if (typeof v !== 'string') {
    console.warn(`i18n: no "${key}" in ${current}.json`);
    return key;
  }
  if (vars) {
    v = v.replace(/\{(\w+)\}/g, (m, k) => (
      vars[k] === undefined || vars[k] === null ? m : String(vars[k])));
  }
  return v;
}

// a label of a code list ("status.role.requested"), the code itself if unknown
export function label(group, code) {
  if (code === undefined || code === null || code === '') {
    return '';
  }
  const key = `${group}.${code}`;
  return has(key) ? t(key) : String(code);
}

// the messages of the module's 422 errors are English sentences: known ones
// are translated, others are shown as they are
export function serverMessage(message) {
  const m = dict.server_messages;
  if (m && typeof m[message] === 'string') {
    return m[message];
  }
  return message || '';
}

export function setLang(l) {
  if (!LANGS.includes(l)) {
    return;
  }
  try {
    window.localStorage.setItem(STORE, l);
  } catch (e) {
    // private mode: the choice lasts for this page only
  }
  window.location.reload();
}

// static markup: data-i18n="key" sets the text, data-i18n-attr="attr:key;..."
// sets attributes
export function applyI18n(root = document) {
  root.querySelectorAll('[data-i18n]').forEach((el) => {
    el.textContent = t(el.dataset.i18n);
  });
  root.querySelectorAll('[data-i18n-attr]').forEach((el) => {
    for (const pair of el.dataset.i18nAttr.split(';')) {
      const [attr, key] = pair.split(':').map((s) => s.trim());
      if (attr && key) {
        el.setAttribute(attr, t(key));
      }
    }
  });
}

// a subtree of the translations (lists of paragraphs of the documentation)
export function raw(key) {
  return lookup(key);
}
