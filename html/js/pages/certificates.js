// /app/certificates: the Certificates of Inspection the caller's valid roles
// let it see (GET /api/certificates: status, from, to, origin, point of
// entry, free text; keyset paging with "next"). Read only: there is no edit
// control, for anybody.

import { startPage } from '../layout.js';
import { t, label } from '../i18n.js';
import { get } from '../api.js';
import { h, clear, table, button, showProblem, badge, formatDate, spinner, notification } from '../ui.js';
import { field, showErrors, clearErrors } from '../forms.js';
import { loadCountries, countryOptions, countryLabel, pointsOfEntry } from '../refdata.js';

const STATUSES = ['new', 'in_progress', 'issued', 'verified', 'rejected', 'received', 'cancelled', 'replaced', 'draft'];
const FILTERS = ['status', 'from', 'to', 'origin', 'point_of_entry', 'cn', 'q'];
const PAGE = 20;

let form = null;
let results = null;
let msgs = null;
let cursors = [];
let current = {};          // the filters of the list shown, for its pages

function readFilters() {
  const q = new URLSearchParams(window.location.search);
  const f = {};
  for (const k of FILTERS) {
    if (q.get(k)) {
      f[k] = q.get(k);
    }
  }
  return f;
}

function formFilters() {
  const f = {};
  for (const k of FILTERS) {
    const v = (form.elements.namedItem(k)?.value || '').trim();
    if (v) {
      f[k] = v;
    }
  }
  return f;
}

function writeUrl(f) {
  const s = new URLSearchParams(f).toString();
  window.history.replaceState(null, '', `${window.location.pathname}${s ? `?${s}` : ''}`);
}

async function search(after) {
  if (!after) {
    current = formFilters();
  }
  const f = current;
  clearErrors(form);
  clear(msgs);
  clear(results).append(spinner());
  let doc;
  try {
    doc = await get('/api/certificates', { ...f, after, limit: PAGE });
  } catch (err) {
    clear(results);
    if (err.status === 422) {
      showErrors(form, err.errors, { summaryAt: msgs });
    } else if (err.status === 403) {
      const { title, detail } = { title: t('certificates.no_access_title'), detail: t('certificates.no_access') };
      results.append(notification('info', title, detail, { closable: false }));
    } else {
      showProblem(err);
    }
    return;
  }
  render(doc, after);
}

function render(doc, after) {
  clear(results);
  const items = Array.isArray(doc.items) ? doc.items : [];
  results.append(h('p', { class: 'traces-count', role: 'status', id: 'certificates-count', text: t(doc.next ? 'certificates.count_more' : 'certificates.count', { n: items.length }) }));
  if (!items.length) {
    results.append(h('p', { class: 'traces-empty', id: 'certificates-empty', text: after ? t('certificates.no_more') : t('certificates.none') }));
  } else {
    results.append(table({
      caption: t('certificates.caption'),
      id: 'certificates',
      columns: [
        {
          label: t('certificates.col_reference'),
          cell: (c) => [
            h('a', { href: `/app/certificate?id=${encodeURIComponent(c.id)}`, class: 'ecl-link traces-code' }, c.reference || String(c.id)),
            h('span', { class: 'traces-sub' }, badge('cert', c.status, label('status.certificate', c.status))),
          ],
        },
        { label: t('certificates.col_issuer'), cell: (c) => (c.issuer ? [h('span', { class: 'traces-code', text: c.issuer.code || '' }), h('span', { class: 'traces-sub', text: c.issuer.name || '' })] : '') },
        {
          label: t('certificates.col_exporter'),
          cell: (c) => [
            h('span', { text: (c.exporter && c.exporter.name) || '' }),
            c.origin ? h('span', { class: 'traces-sub', text: `${t('certificates.col_origin')}${t('common.colon')}${countryLabel(c.origin)}` }) : null,
          ],
        },
        {
          label: t('certificates.col_point_of_entry'), cls: 'traces-col-poe',
          cell: (c) => (c.point_of_entry ? [h('span', { text: c.point_of_entry.name || '' }), h('span', { class: 'traces-sub traces-code', text: c.point_of_entry.code || '' })] : ''),
        },
        {
          label: t('certificates.col_importer'),
          cell: (c) => [
            h('span', { text: (c.importer && c.importer.name) || '' }),
            c.importer && c.importer.eori ? h('span', { class: 'traces-sub', text: `EORI ${c.importer.eori}` }) : null,
            c.first_consignee && c.first_consignee.name
              ? h('span', { class: 'traces-sub', text: `${t('certificates.col_consignee')}${t('common.colon')}${c.first_consignee.name}` }) : null,
          ],
        },
        { label: t('certificates.col_products'), cls: 'traces-col-products', cell: (c) => c.products || '' },
        { label: t('certificates.col_date'), cls: 'traces-col-date', cell: (c) => formatDate(c.issued_at || c.created_at) },
      ],
      rows: items,
    }));
  }
  const pager = h('div', { class: 'traces-pager' });
  if (after) {
    pager.append(button(t('common.first_page'), {
      attrs: { id: 'first-page' },
      onClick: () => { cursors = []; search(null); },
    }));
  }
  if (doc.next) {
    pager.append(button(t('common.next'), {
      variant: 'primary',
      attrs: { id: 'next-page' },
      onClick: () => { cursors.push(doc.next); search(doc.next); },
    }));
  }
  if (pager.childNodes.length) {
    results.append(pager);
  }
}

async function main() {
  const { me, content } = await startPage({ page: 'certificates', titleKey: 'certificates.title', app: true });
  if (!me) {
    return;
  }
  let poes = [];
  try {
    await loadCountries();
    poes = await pointsOfEntry();
  } catch (err) {
    showProblem(err);
    return;
  }
  const f = readFilters();
  msgs = h('div', { class: 'traces-form-messages' });
  results = h('div', { id: 'results', class: 'traces-results' });
  form = h('form', { class: 'traces-form traces-search', role: 'search', novalidate: true, 'aria-labelledby': 'filters-title' },
    h('h2', { class: 'traces-h2', id: 'filters-title', text: t('certificates.filters') }),
    msgs,
    h('div', { class: 'traces-grid traces-grid--4' },
      field({ name: 'q', label: t('certificates.q'), type: 'search', value: f.q, size: 'm', help: t('certificates.q_help'), attrs: { maxlength: '100' } }),
      field({
        name: 'status', label: t('certificates.status'), size: 'm', value: f.status, placeholderOption: t('certificates.all_statuses'),
        options: STATUSES.map((s) => ({ value: s, label: label('status.certificate', s) })),
      }),
      field({ name: 'from', label: t('certificates.from'), type: 'date', value: f.from, size: 'm' }),
      field({ name: 'to', label: t('certificates.to'), type: 'date', value: f.to, size: 'm' }),
      field({ name: 'origin', label: t('certificates.origin'), options: countryOptions(), placeholderOption: t('common.all_countries'), value: f.origin, size: 'm' }),
      field({
        name: 'point_of_entry', label: t('certificates.point_of_entry'), size: 'm', value: f.point_of_entry,
        placeholderOption: t('certificates.all_points'),
        options: poes.map((p) => ({ value: String(p.id), label: `${p.name} (${p.code})` })),
      }),
      field({ name: 'cn', label: t('certificates.cn'), value: f.cn, size: 's', attrs: { maxlength: '10', inputmode: 'numeric' } })),
    h('div', { class: 'traces-actions traces-actions--left' },
      button(t('common.search'), { variant: 'primary', type: 'submit', iconName: 'search', attrs: { id: 'certificates-search' } }),
      button(t('common.reset'), {
        variant: 'secondary', attrs: { id: 'certificates-reset' },
        onClick: () => { form.reset(); for (const k of FILTERS) { const el = form.elements.namedItem(k); if (el) { el.value = ''; } } writeUrl({}); cursors = []; search(null); },
      })));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    writeUrl(formFilters());
    cursors = [];
    search(null);
  });
  content.append(
    h('p', { class: 'traces-intro', text: t('certificates.intro') }),
    h('p', { class: 'traces-note', id: 'read-only-note', text: t('certificates.read_only') }),
    form,
    h('section', { class: 'traces-section', 'aria-labelledby': 'results-title' },
      h('h2', { class: 'traces-h2', id: 'results-title', text: t('certificates.results') }),
      results));
  search(null);
}

main();
