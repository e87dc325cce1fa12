// /app/operator (guide 2.1): search the operators already registered (by
// country, activity, name), select the one you work for and "request
// authorisation", or "create a new operator".

import { startPage } from '../layout.js';
import { t, label } from '../i18n.js';
import { get, post, compact } from '../api.js';
import { h, clear, table, button, linkButton, notify, showProblem, badge, spinner } from '../ui.js';
import { field, requestDialog } from '../forms.js';
import { loadCountries, countryOptions, countryLabel } from '../refdata.js';

const PAGE = 20;
let me = null;
let results = null;
let selected = null;       // {id, name}
let cursors = [];          // "after" of each page shown, for "previous"
let filters = {};
let dialog = null;

function readUrl() {
  const q = new URLSearchParams(window.location.search);
  return {
    country: q.get('country') || '', activity: q.get('activity') || '', name: q.get('name') || '',
  };
}

function writeUrl(f) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(f)) {
    if (v) {
      q.set(k, v);
    }
  }
  const s = q.toString();
  window.history.replaceState(null, '', `${window.location.pathname}${s ? `?${s}` : ''}`);
}

function searchForm() {
  const f = readUrl();
  const form = h('form', { class: 'traces-form traces-search', role: 'search', 'aria-labelledby': 'search-title', novalidate: true },
    h('h2', { id: 'search-title', class: 'traces-h2', text: t('operator.search_title') }),
    h('div', { class: 'traces-grid traces-grid--3' },
      field({ name: 'country', label: t('operator.country'), options: countryOptions(), placeholderOption: t('common.all_countries'), value: f.country, size: 'm' }),
      field({
        name: 'activity', label: t('operator.activity'), size: 'm', value: f.activity,
        placeholderOption: t('common.all_activities'),
        options: ['organic_importer', 'organic_operator'].map((a) => ({ value: a, label: label('activity', a) })),
      }),
      field({ name: 'name', label: t('operator.name'), type: 'search', value: f.name, size: 'm', attrs: { maxlength: '100' } })),
    h('div', { class: 'traces-actions' },
      button(t('common.search'), { variant: 'primary', type: 'submit', iconName: 'search', attrs: { id: 'operator-search' } })));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    filters = {
      country: form.elements.country.value, activity: form.elements.activity.value,
      name: form.elements.name.value.trim(),
    };
    writeUrl(filters);
    cursors = [];
    search(null);
  });
  filters = f;
  return form;
}

async function search(after) {
  clear(results).append(spinner());
  let doc;
  try {
    doc = await get('/api/operators', { ...filters, after, limit: PAGE });
  } catch (err) {
    clear(results);
    showProblem(err);
    return;
  }
  renderResults(doc, after);
}

function renderResults(doc, after) {
  clear(results);
  const items = Array.isArray(doc.items) ? doc.items : [];
  results.append(h('h2', { class: 'traces-h2', id: 'results-title', text: t('operator.results') }),
    h('p', { class: 'traces-count', role: 'status', text: t(doc.next ? 'common.count_more' : 'common.count', { n: items.length }) }));
  if (!items.length) {
    results.append(h('p', { class: 'traces-empty', id: 'operators-empty', text: t('operator.none') }));
  } else {
    results.append(table({
      caption: t('operator.results_caption'),
      id: 'operators',
      columns: [
        {
          label: h('span', { class: 'traces-sr-only', text: t('common.select') }),
          cls: 'traces-col-select',
          cell: (o) => {
            const id = `op-${o.id}`;
            return h('span', { class: 'traces-select' },
              h('input', {
                type: 'radio', name: 'operator', id, value: String(o.id),
                class: 'traces-select__input',
                checked: selected && selected.id === o.id,
                on: { change: () => { selected = { id: o.id, name: o.name }; markSelected(); } },
              }),
              h('label', { for: id, class: 'traces-sr-only', text: t('operator.select_one', { name: o.name }) }));
          },
        },
        { label: t('operator.col_name'), cell: (o) => h('strong', { text: o.name || '' }) },
        { label: t('operator.col_country'), cell: (o) => countryLabel(o.country) },
        { label: t('operator.col_city'), cell: (o) => o.city || '' },
        {
          label: t('operator.col_activities'),
          cell: (o) => (o.activities || []).map((a) => label('activity_short', a)).join(', '),
        },
        { label: t('operator.col_status'), cell: (o) => badge('operator', o.status, label('status.operator', o.status)) },
      ],
      rows: items,
    }));
    // a click anywhere on a row selects it
    results.querySelectorAll('#operators tbody tr').forEach((tr) => {
      tr.addEventListener('click', (ev) => {
        if (ev.target.closest('a, button, input')) {
          return;
        }
        const r = tr.querySelector('input[type=radio]');
        r.checked = true;
        r.dispatchEvent(new Event('change'));
      });
    });
    markSelected();
  }
  const pager = h('div', { class: 'traces-pager' });
  if (after) {
    pager.append(button(t('common.previous'), {
      attrs: { id: 'prev-page' },
      onClick: () => { cursors.pop(); search(cursors.length ? cursors[cursors.length - 1] : null); },
    }));
  }
  if (doc.next) {
    pager.append(button(t('common.next'), {
      attrs: { id: 'next-page' },
      onClick: () => { cursors.push(doc.next); search(doc.next); },
    }));
  }
  if (pager.childNodes.length) {
    results.append(pager);
  }
}

function markSelected() {
  results.querySelectorAll('#operators tbody tr').forEach((tr) => {
    const r = tr.querySelector('input[type=radio]');
    tr.classList.toggle('traces-row--selected', r.checked);
    tr.setAttribute('aria-selected', r.checked ? 'true' : 'false');
  });
  const info = document.getElementById('selected-operator');
  if (info) {
    info.textContent = selected ? t('operator.selected', { name: selected.name }) : t('operator.nothing_selected');
  }
}

function requestAuthorisation(ev) {
  if (!selected) {
    notify('error', t('operator.select_first_title'), t('operator.select_first'), { focus: true });
    return;
  }
  dialog.open(t('request.title', { name: selected.name }), ev.currentTarget);
}

async function sendRequest(values) {
  const target = selected;
  await post(`/api/operators/${target.id}/requests`, compact(values));
  return () => notify('success', t('request.sent_title'), t('operator.request_sent', { name: target.name }), { focus: true });
}

async function main() {
  const start = await startPage({
    page: 'operator', titleKey: 'operator.title', app: true,
    crumbs: [{ key: 'nav.register', href: '/app/' }, { key: 'operator.title' }],
  });
  me = start.me;
  if (!me) {
    return;
  }
  const { content } = start;
  try {
    await loadCountries();
  } catch (err) {
    showProblem(err);
    return;
  }
  dialog = requestDialog({ id: 'request-dialog', me, onSubmit: sendRequest, labels: 'operator' });
  const toolbar = h('div', { class: 'traces-toolbar' },
    h('p', { class: 'traces-toolbar__info', id: 'selected-operator', 'aria-live': 'polite', text: t('operator.nothing_selected') }),
    h('div', { class: 'traces-toolbar__buttons' },
      button(t('operator.request'), { variant: 'primary', attrs: { id: 'request-authorisation' }, onClick: requestAuthorisation }),
      linkButton(t('operator.create'), '/app/operator-new', { variant: 'secondary', attrs: { id: 'create-operator' } })));
  results = h('div', { id: 'results', class: 'traces-results' });
  content.append(
    h('p', { class: 'traces-intro', text: t('operator.intro') }),
    h('p', { class: 'traces-intro', text: t('operator.intro_create') }),
    toolbar,
    searchForm(),
    results);
  search(null);
}

main();
