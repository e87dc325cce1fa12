// /app/control-body (guide 2.2): search the organic control bodies by
// country or name; the table shows name, address, product categories A-F
// and code; select one entry, or several when you work in several
// countries, then "request authorisation": one request per entry.

import { startPage } from '../layout.js';
import { t } from '../i18n.js';
import { get, post, compact } from '../api.js';
import { h, clear, table, button, notify, showProblem, spinner } from '../ui.js';
import { field, requestDialog, checkbox } from '../forms.js';
import { loadCountries, countryOptions, countryLabel, CATEGORIES, categoryName } from '../refdata.js';

const PAGE = 50;
let me = null;
let results = null;
let filters = {};
let cursors = [];
const selected = new Map();     // id -> entry
let dialog = null;
let selectionBox = null;

function searchForm() {
  const q = new URLSearchParams(window.location.search);
  filters = { country: q.get('country') || '', name: q.get('name') || '' };
  const form = h('form', { class: 'traces-form traces-search', role: 'search', 'aria-labelledby': 'search-title', novalidate: true },
    h('h2', { id: 'search-title', class: 'traces-h2', text: t('control_body.search_title') }),
    h('div', { class: 'traces-grid traces-grid--3' },
      field({ name: 'country', label: t('control_body.country'), options: countryOptions(), placeholderOption: t('common.all_countries'), value: filters.country, size: 'm' }),
      field({ name: 'name', label: t('control_body.name'), type: 'search', value: filters.name, size: 'm', attrs: { maxlength: '100' } })),
    h('div', { class: 'traces-actions' },
      button(t('common.search'), { variant: 'primary', type: 'submit', iconName: 'search', attrs: { id: 'control-body-search' } })));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    filters = { country: form.elements.country.value, name: form.elements.name.value.trim() };
    const s = new URLSearchParams(Object.entries(filters).filter(([, v]) => v)).toString();
    window.history.replaceState(null, '', `${window.location.pathname}${s ? `?${s}` : ''}`);
    cursors = [];
    search(null);
  });
  return form;
}

async function search(after) {
  clear(results).append(spinner());
  let doc;
  try {
    doc = await get('/api/control-bodies', { ...filters, after, limit: PAGE });
  } catch (err) {
    clear(results);
    showProblem(err);
    return;
  }
  render(doc, after);
}

function categoriesCell(entry) {
  const cats = new Set(entry.categories || []);
  return h('ul', { class: 'traces-categories' },
    CATEGORIES.filter((c) => cats.has(c)).map((c) => h('li', {},
      h('span', { text: categoryName(c) }), ' ', h('strong', { class: 'traces-category-code', text: c }))));
}

function render(doc, after) {
  clear(results);
  const items = Array.isArray(doc.items) ? doc.items : [];
  results.append(h('h2', { class: 'traces-h2', text: t('control_body.results') }),
    h('p', { class: 'traces-count', role: 'status', text: t(doc.next ? 'common.count_more' : 'common.count', { n: items.length }) }));
  if (!items.length) {
    results.append(h('p', { class: 'traces-empty', text: t('control_body.none') }));
  } else {
    results.append(table({
      caption: t('control_body.results_caption'),
      id: 'control-bodies',
      columns: [
        { label: t('control_body.col_name'), cell: (c) => h('strong', { text: c.name || '' }) },
        { label: t('control_body.col_address'), cell: (c) => c.address || '' },
        { label: t('control_body.col_categories'), cell: categoriesCell },
        { label: t('control_body.col_code'), cell: (c) => h('span', { class: 'traces-code', text: c.code }) },
        { label: t('control_body.col_country'), cell: (c) => countryLabel(c.country) },
        {
          label: h('span', { class: 'traces-sr-only', text: t('common.select') }),
          cls: 'traces-col-select',
          cell: (c) => checkbox({
            id: `cb-${c.id}`, name: 'control_body', checked: selected.has(c.id),
            label: h('span', { class: 'traces-sr-only', text: t('control_body.select_one', { code: c.code, name: c.name }) }),
            attrs: { value: String(c.id), 'data-code': c.code },
          }),
        },
      ],
      rows: items,
    }));
    results.querySelectorAll('input[name="control_body"]').forEach((input) => {
      input.addEventListener('change', () => {
        const entry = items.find((c) => String(c.id) === input.value);
        if (input.checked) {
          selected.set(entry.id, entry);
        } else {
          selected.delete(entry.id);
        }
        renderSelection();
      });
    });
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
  renderSelection();
}

function renderSelection() {
  clear(selectionBox);
  const list = [...selected.values()];
  selectionBox.append(h('p', { class: 'traces-toolbar__info', id: 'selection-count' },
    list.length ? t('control_body.selected', { n: list.length }) : t('control_body.nothing_selected')));
  if (list.length) {
    selectionBox.append(h('ul', { class: 'traces-chips', 'aria-label': t('control_body.selection') },
      list.map((c) => h('li', { class: 'traces-chip' },
        h('span', { text: c.code }),
        h('button', {
          type: 'button', class: 'traces-chip__remove',
          'aria-label': t('control_body.unselect', { code: c.code }),
          on: {
            click: () => {
              selected.delete(c.id);
              const box = document.getElementById(`cb-${c.id}`);
              if (box) {
                box.checked = false;
              }
              renderSelection();
              document.getElementById('request-authorisation').focus();
            },
          },
        }, '×')))));
  }
}

function requestAuthorisation(ev) {
  if (!selected.size) {
    notify('error', t('control_body.select_first_title'), t('control_body.select_first'), { focus: true });
    return;
  }
  const list = [...selected.values()];
  const names = [...new Set(list.map((c) => c.name))].join(', ');
  dialog.open(t('request.title', { name: `${names} (${list.map((c) => c.code).join(', ')})` }), ev.currentTarget);
}

async function sendRequest(values) {
  const list = [...selected.values()];
  const doc = await post('/api/control-bodies/requests', compact({
    control_body_ids: list.map((c) => c.id), ...values,
  }));
  const n = Array.isArray(doc.requests) ? doc.requests.length : list.length;
  selected.clear();
  results.querySelectorAll('input[name="control_body"]').forEach((i) => { i.checked = false; });
  renderSelection();
  return () => notify('success', t('request.sent_title'),
    t('control_body.request_sent', { n, codes: list.map((c) => c.code).join(', ') }), { focus: true });
}

async function main() {
  const start = await startPage({
    page: 'control-body', titleKey: 'control_body.title', app: true,
    crumbs: [{ key: 'nav.register', href: '/app/' }, { key: 'control_body.title' }],
  });
  me = start.me;
  if (!me) {
    return;
  }
  try {
    await loadCountries();
  } catch (err) {
    showProblem(err);
    return;
  }
  dialog = requestDialog({ id: 'request-dialog', me, onSubmit: sendRequest, labels: 'control_body' });
  selectionBox = h('div', { class: 'traces-selection', 'aria-live': 'polite' });
  results = h('div', { id: 'results', class: 'traces-results' });
  start.content.append(
    h('p', { class: 'traces-intro', text: t('control_body.intro') }),
    h('div', { class: 'traces-toolbar' },
      selectionBox,
      h('div', { class: 'traces-toolbar__buttons' },
        button(t('control_body.request'), { variant: 'primary', attrs: { id: 'request-authorisation' }, onClick: requestAuthorisation }))),
    searchForm(),
    results);
  renderSelection();
  search(null);
}

main();
