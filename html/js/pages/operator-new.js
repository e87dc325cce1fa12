// /app/operator-new (guide 2.1, "créer un nouvel opérateur"): the operator's
// details, its identifiers (importers must give their EORI), one activity
// with its control body; then "Confirm authorisation request for New
// operator" (message, e-mail, phone) and "Send authorisation request": one
// POST /api/operators creates the operator and the caller's request.

import { startPage } from '../layout.js';
import { t, label } from '../i18n.js';
import { post, compact } from '../api.js';
import { h, append, clear, button, linkButton, notify, showProblem, icon, externalLink, link, badge } from '../ui.js';
import { field, radioGroup, requestDialog, showErrors, clearErrors } from '../forms.js';
import { loadCountries, countryOptions, controlBodies, countryLabel } from '../refdata.js';

const ID_TYPES = ['central_business_register', 'cin', 'duns', 'eori', 'imo_management', 'imo_owner'];
const DATES = ['valid_from', 'valid_until', 'publication_date', 'application_date'];

let me = null;
let form = null;
let idBody = null;
let addIdButton = null;
let cbSelect = null;
let cbCountry = null;
let dialog = null;

function section(id, title, ...children) {
  return h('section', { class: 'traces-form-section', 'aria-labelledby': id },
    h('h2', { id, class: 'traces-h2', text: title }), children);
}

// ---------------------------------------------------------------- identifiers

function identifierRow(type) {
  const tr = h('tr', { class: 'ecl-table__row traces-id-row' });
  const typeGroup = field({
    name: 'id_type', label: t('operator_new.identifier_type'), size: 'm',
    options: ID_TYPES.map((v) => ({ value: v, label: label('identifier', v) })), value: type,
    cls: 'traces-field--compact',
  });
  const valueGroup = field({
    name: 'id_value', label: t('operator_new.identifier_value'), size: 'm',
    attrs: { maxlength: '40', autocomplete: 'off', spellcheck: 'false' }, cls: 'traces-field--compact',
  });
  const remove = button(t('operator_new.identifier_remove'), {
    variant: 'tertiary', iconName: 'trash',
    attrs: { class: 'ecl-button ecl-button--tertiary traces-id-remove' },
    onClick: () => {
      const next = tr.nextElementSibling || tr.previousElementSibling;
      tr.remove();
      renumber();
      (next ? next.querySelector('select') : addIdButton).focus();
    },
  });
  tr.append(
    h('td', { class: 'ecl-table__cell' }, typeGroup),
    h('td', { class: 'ecl-table__cell' }, valueGroup),
    h('td', { class: 'ecl-table__cell traces-col-action' }, remove));
  return tr;
}

function renumber() {
  const rows = [...idBody.querySelectorAll('tr')];
  rows.forEach((tr, i) => {
    const [typeGroup, valueGroup] = tr.querySelectorAll('.traces-field');
    typeGroup.dataset.field = `identifiers[${i}].type`;
    valueGroup.dataset.field = `identifiers[${i}].value`;
    typeGroup.querySelector('label').textContent = t('operator_new.identifier_type_n', { n: i + 1 });
    valueGroup.querySelector('label').textContent = t('operator_new.identifier_value_n', { n: i + 1 });
    tr.querySelector('.traces-id-remove .ecl-button__label').textContent = t('operator_new.identifier_remove_n', { n: i + 1 });
  });
  document.getElementById('identifiers-empty').hidden = rows.length > 0;
  document.getElementById('identifiers-table').hidden = rows.length === 0;
  addIdButton.disabled = rows.length >= ID_TYPES.length;
}

function addIdentifier() {
  const used = new Set([...idBody.querySelectorAll('select')].map((s) => s.value));
  const importer = form.querySelector('input[name="activity"]:checked')?.value === 'organic_importer';
  const type = (!used.has('eori') && (importer || used.size === 0)) ? 'eori'
    : ID_TYPES.find((x) => !used.has(x)) || 'eori';
  const tr = identifierRow(type);
  idBody.append(tr);
  renumber();
  tr.querySelector('select').focus();
}

function identifiersSection() {
  idBody = h('tbody', { class: 'ecl-table__body' });
  addIdButton = button(t('operator_new.identifier_add'), {
    variant: 'secondary', iconName: 'plus', attrs: { id: 'add-identifier' }, onClick: addIdentifier,
  });
  const group = h('div', { class: 'ecl-form-group traces-field traces-identifiers', dataset: { field: 'identifiers' } },
    h('p', { class: 'ecl-form-label traces-sr-only', id: 'identifiers-label', 'data-label': t('operator_new.identifiers') }, t('operator_new.identifiers')),
    h('div', { class: 'ecl-help-block', id: 'identifiers-help' },
      h('strong', { text: t('operator_new.eori_rule') }), ' ',
      t('operator_new.eori_where'), ' ',
      externalLink('pro.douane.gouv.fr/eori', 'https://pro.douane.gouv.fr/eori/')),
    h('div', { class: 'ecl-feedback-message traces-error', id: 'identifiers-error', hidden: true }),
    h('p', { id: 'identifiers-empty', class: 'traces-empty', text: t('operator_new.identifiers_none') }),
    h('div', { class: 'ecl-table-responsive' },
      h('table', { class: 'ecl-table traces-table traces-id-table', id: 'identifiers-table', hidden: true, 'aria-labelledby': 'identifiers-label' },
        h('thead', { class: 'ecl-table__head' },
          h('tr', { class: 'ecl-table__row' },
            h('th', { class: 'ecl-table__header', scope: 'col', text: t('operator_new.identifier_type') }),
            h('th', { class: 'ecl-table__header', scope: 'col', text: t('operator_new.identifier_value') }),
            h('th', { class: 'ecl-table__header', scope: 'col' }, h('span', { class: 'traces-sr-only', text: t('common.actions') })))),
        idBody)),
    h('div', { class: 'traces-actions traces-actions--left' }, addIdButton));
  // the group's error is announced with the button that fixes it
  group.traceControl = addIdButton;
  addIdButton.setAttribute('aria-describedby', 'identifiers-help identifiers-error');
  return section('identifiers-title', t('operator_new.identifiers_title'), group);
}

// ---------------------------------------------------------------- activity

async function loadControlBodies(country, keep) {
  const before = keep ? cbSelect.value : '';
  clear(cbSelect).append(h('option', { value: '', text: t('common.loading') }));
  let items = [];
  try {
    items = await controlBodies(country ? { country } : {});
  } catch (err) {
    showProblem(err);
  }
  items.sort((a, b) => String(a.code).localeCompare(String(b.code)));
  append(clear(cbSelect), [
    h('option', { value: '', text: items.length ? t('operator_new.control_body_choose') : t('operator_new.control_body_none') }),
    items.map((c) => h('option', { value: String(c.id), text: `${c.code} — ${c.name}` }))]);
  if (before && items.some((c) => String(c.id) === before)) {
    cbSelect.value = before;
  }
}

function activitySection() {
  const activity = radioGroup({
    name: 'activity', field: 'activity.activity', legend: t('operator_new.activity'), required: true,
    help: t('operator_new.activity_help'),
    options: [
      { value: 'organic_importer', label: label('activity', 'organic_importer'), help: t('operator_new.importer_help') },
      { value: 'organic_operator', label: label('activity', 'organic_operator'), help: t('operator_new.operator_help') },
    ],
  });
  const sectionLine = h('p', { class: 'traces-activity-line', id: 'activity-line', 'aria-live': 'polite' });
  const updateLine = () => {
    const v = form.querySelector('input[name="activity"]:checked')?.value;
    clear(sectionLine);
    if (v) {
      sectionLine.append(h('span', { text: `${t('operator_new.section')}${t('common.colon')}` }),
        h('strong', { text: label('activity_section', v) }), ' ',
        badge('operator', 'new', label('status.operator', 'new')));
    }
  };
  activity.addEventListener('change', updateLine);

  const cbGroup = field({
    name: 'control_body_id', field: 'activity.control_body_id', label: t('operator_new.control_body'),
    required: true, options: [], help: t('operator_new.control_body_help'),
  });
  cbSelect = cbGroup.traceControl;
  const cbCountryGroup = field({
    name: 'cb_country', field: 'cb_country', label: t('operator_new.control_body_country'),
    options: countryOptions(), placeholderOption: t('common.all_countries'), value: 'FR', size: 'm',
  });
  cbCountry = cbCountryGroup.traceControl;
  cbCountry.addEventListener('change', () => loadControlBodies(cbCountry.value, true));

  const group = h('div', { class: 'traces-field-block', dataset: { field: 'activity' } },
    h('div', { class: 'ecl-feedback-message traces-error', hidden: true, id: 'activity-error' }),
    activity,
    sectionLine,
    h('div', { class: 'traces-grid traces-grid--2' }, cbCountryGroup, cbGroup),
    h('div', { class: 'traces-grid traces-grid--2' },
      field({ name: 'act_identifier', field: 'activity.identifier', label: t('operator_new.activity_identifier'), attrs: { maxlength: '60' }, help: t('operator_new.activity_identifier_help') })),
    h('div', { class: 'traces-grid traces-grid--4' },
      DATES.map((d) => field({ name: d, field: `activity.${d}`, type: 'date', label: t(`operator_new.${d}`), size: 'm' }))),
    field({ name: 'remarks', field: 'activity.remarks', label: t('operator_new.remarks'), multiline: true, rows: 3, attrs: { maxlength: '2000', placeholder: t('operator_new.remarks_placeholder') } }));
  group.traceControl = activity.traceControl;
  return section('activity-title', t('operator_new.activities_title'),
    h('p', { class: 'traces-note', text: t('operator_new.activity_important') }), group);
}

// ---------------------------------------------------------------- details

function detailsSection() {
  const country = field({ name: 'country', label: t('operator_new.country'), required: true, options: countryOptions(), placeholderOption: t('common.choose'), value: 'FR' });
  country.traceControl.addEventListener('change', () => {
    const c = country.traceControl.value;
    if (c && cbCountry && cbCountry.value !== c) {
      cbCountry.value = c;
      loadControlBodies(c, false);
    }
  });
  return section('details-title', t('operator_new.details_title'),
    h('p', { class: 'traces-note', text: t('operator_new.details_note') }),
    h('div', { class: 'traces-grid traces-grid--2' },
      field({ name: 'name', label: t('operator_new.name'), required: true, autocomplete: 'organization', attrs: { maxlength: '200' } }),
      country,
      field({ name: 'region', label: t('operator_new.region'), attrs: { maxlength: '100' } }),
      field({ name: 'postcode', label: t('operator_new.postcode'), autocomplete: 'postal-code', size: 's', attrs: { maxlength: '20' } }),
      field({ name: 'city', label: t('operator_new.city'), required: true, autocomplete: 'address-level2', attrs: { maxlength: '100' } }),
      field({ name: 'address', label: t('operator_new.address'), required: true, autocomplete: 'street-address', attrs: { maxlength: '300' } })),
    h('fieldset', { class: 'traces-fieldset traces-coordinates' },
      h('legend', { class: 'ecl-form-label', text: t('operator_new.coordinates') }),
      h('div', { class: 'traces-grid traces-grid--2' },
        field({ name: 'latitude', label: t('operator_new.latitude'), size: 'm', attrs: { inputmode: 'decimal', placeholder: '48.8566' } }),
        field({ name: 'longitude', label: t('operator_new.longitude'), size: 'm', attrs: { inputmode: 'decimal', placeholder: '2.3522' } }))),
    h('div', { class: 'traces-grid traces-grid--2' },
      field({ name: 'phone', label: t('operator_new.phone'), type: 'tel', autocomplete: 'tel', attrs: { maxlength: '32' } }),
      field({ name: 'fax', label: t('operator_new.fax'), type: 'tel', attrs: { maxlength: '32' } }),
      field({ name: 'email', label: t('operator_new.email'), type: 'email', autocomplete: 'email', attrs: { maxlength: '254' } }),
      field({ name: 'web_url', label: t('operator_new.web_url'), type: 'url', autocomplete: 'url', attrs: { maxlength: '300', placeholder: 'https://' } })));
}

// ---------------------------------------------------------------- submit

function number(v) {
  const s = String(v || '').trim().replace(',', '.');
  if (s === '') {
    return undefined;
  }
  const n = Number(s);
  return Number.isFinite(n) && /^-?\d+(\.\d+)?$/.test(s) ? n : s;
}

function payload() {
  const v = (n) => (form.elements.namedItem(n)?.value || '').trim();
  const cb = v('control_body_id');
  return {
    name: v('name'), country: v('country'), region: v('region'), postcode: v('postcode'),
    city: v('city'), address: v('address'),
    latitude: number(v('latitude')), longitude: number(v('longitude')),
    phone: v('phone'), fax: v('fax'), email: v('email'), web_url: v('web_url'),
    identifiers: [...idBody.querySelectorAll('tr')].map((tr) => ({
      type: tr.querySelector('select').value,
      value: tr.querySelector('input').value.trim().toUpperCase().replace(/\s+/g, ''),
    })),
    activity: {
      activity: form.querySelector('input[name="activity"]:checked')?.value,
      control_body_id: /^\d+$/.test(cb) ? Number(cb) : undefined,
      identifier: v('act_identifier'),
      valid_from: v('valid_from'), valid_until: v('valid_until'),
      publication_date: v('publication_date'), application_date: v('application_date'),
      remarks: v('remarks'),
    },
  };
}

const FIELD_LABELS = () => ({
  identifiers: t('operator_new.identifiers'),
  'request.message': t('request.operator.message'),
  'request.email': t('request.operator.email'),
  'request.phone': t('request.operator.phone'),
});

function showFormErrors(errors) {
  const summary = document.getElementById('form-messages');
  const formErrors = errors.filter((e) => !String(e.field || '').startsWith('request.'));
  const requestErrors = errors.filter((e) => String(e.field || '').startsWith('request.'));
  if (formErrors.length) {
    if (requestErrors.length) {
      dialog.showErrors(requestErrors);
    }
    dialog.close(() => showErrors(form, errors, { summaryAt: summary, fieldLabels: FIELD_LABELS() }));
    return true;
  }
  return false;
}

async function create(values) {
  const body = compact({ ...payload(), request: values });
  if (!body.identifiers) {
    body.identifiers = [];
  }
  const doc = await post('/api/operators', body);
  const op = doc.operator || {};
  clearErrors(form);
  clear(document.getElementById('form-messages'));
  form.hidden = true;
  document.getElementById('create-top').hidden = true;
  const done = document.getElementById('done');
  done.hidden = false;
  clear(done).append(
    h('dl', { class: 'traces-dl' },
      h('dt', { text: t('operator_new.name') }), h('dd', { id: 'created-name', text: op.name || body.name }),
      h('dt', { text: t('operator_new.country') }), h('dd', { text: countryLabel(op.country || body.country) }),
      h('dt', { text: t('operator.col_status') }), h('dd', {}, badge('operator', op.status || 'new', label('status.operator', op.status || 'new')))),
    h('p', { text: t('operator_new.admin_note') }),
    h('p', { class: 'traces-actions traces-actions--left' },
      linkButton(t('nav.profile'), '/app/profile', { variant: 'primary' }),
      linkButton(t('nav.home'), '/app/', { variant: 'secondary' })));
  return () => notify('success', t('request.sent_title'), t('operator_new.sent', { name: op.name || body.name }), { focus: true });
}

async function main() {
  const start = await startPage({
    page: 'operator-new', titleKey: 'operator_new.title', app: true,
    crumbs: [{ key: 'nav.register', href: '/app/' }, { key: 'operator.title', href: '/app/operator' }, { key: 'operator_new.title' }],
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
  form = h('form', { id: 'operator-form', class: 'traces-form', novalidate: true, 'aria-labelledby': 'page-title' });
  const submitTop = button(t('operator_new.create'), { variant: 'primary', type: 'submit', attrs: { id: 'create-top', form: 'operator-form' } });
  content.append(
    h('div', { class: 'traces-toolbar' },
      h('p', { class: 'traces-toolbar__info', text: t('operator_new.intro') }),
      h('div', { class: 'traces-toolbar__buttons' }, submitTop)),
    h('p', { class: 'traces-required-note' }, h('span', { class: 'ecl-form-label__required', 'aria-hidden': 'true', text: '*' }), ' ', t('form.required_note')),
    h('div', { id: 'form-messages', class: 'traces-form-messages' }),
    form,
    h('div', { id: 'done', class: 'traces-done', hidden: true }));
  form.append(
    detailsSection(),
    identifiersSection(),
    activitySection(),
    h('div', { class: 'traces-actions' },
      link(t('common.cancel'), '/app/operator', { class: 'ecl-link traces-cancel' }),
      button(t('operator_new.create'), { variant: 'primary', type: 'submit', attrs: { id: 'create-bottom' } })));
  renumber();
  loadControlBodies('FR', false);
  dialog = requestDialog({
    id: 'confirm-dialog', me, labels: 'operator', onSubmit: create, onInvalid: (err) => showFormErrors(err.errors),
  });
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    clear(document.getElementById('form-messages'));
    dialog.open(t('operator_new.confirm_title'), ev.submitter || document.activeElement);
  });
}

main();
