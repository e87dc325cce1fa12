// /app/load (guide 2.3): the Commission alone assigns the "responsible for
// the load" role (forwarders, customs representatives) for one point of
// entry: POST /api/responsible-for-load {user, point_of_entry}.

import { startPage, abilities } from '../layout.js';
import { t, label } from '../i18n.js';
import { post } from '../api.js';
import { h, append, clear, button, notify, showProblem } from '../ui.js';
import { field, showErrors, clearErrors } from '../forms.js';
import { loadCountries, countryOptions, pointsOfEntry, countryLabel } from '../refdata.js';

let poeSelect = null;
let points = [];

async function loadPoints(country) {
  clear(poeSelect).append(h('option', { value: '', text: t('common.loading') }));
  try {
    points = await pointsOfEntry(country);
  } catch (err) {
    points = [];
    showProblem(err);
  }
  append(clear(poeSelect), [
    h('option', { value: '', text: points.length ? t('common.choose') : t('load.no_points') }),
    points.map((p) => h('option', { value: String(p.id), text: `${p.name} (${p.code})${p.kind ? ` — ${label('poe_kind', p.kind)}` : ''}` }))]);
}

async function main() {
  const { me, content } = await startPage({ page: 'load', titleKey: 'load.title', app: true });
  if (!me) {
    return;
  }
  try {
    await loadCountries();
  } catch (err) {
    showProblem(err);
    return;
  }
  const msgs = h('div', { class: 'traces-form-messages' });
  const country = field({ name: 'country', field: 'country', label: t('load.country'), options: countryOptions(), value: 'FR', size: 'm' });
  const poe = field({ name: 'point_of_entry', label: t('load.point_of_entry'), required: true, options: [], size: 'l' });
  poeSelect = poe.traceControl;
  country.traceControl.addEventListener('change', () => loadPoints(country.traceControl.value));
  const form = h('form', { class: 'traces-form', id: 'load-form', novalidate: true, 'aria-labelledby': 'load-form-title' },
    h('h2', { class: 'traces-h2', id: 'load-form-title', text: t('load.form_title') }),
    msgs,
    h('div', { class: 'traces-grid traces-grid--2' },
      field({ name: 'user', label: t('load.user'), required: true, help: t('load.user_help'), attrs: { maxlength: '64', autocomplete: 'off', spellcheck: 'false' } }),
      h('div', {}, country, poe)),
    h('div', { class: 'traces-actions traces-actions--left' },
      button(t('load.assign'), { variant: 'primary', type: 'submit', attrs: { id: 'assign-load' } })));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearErrors(form);
    clear(msgs);
    const user = form.elements.user.value.trim();
    const pid = poeSelect.value;
    const body = {};
    if (user) {
      body.user = /^\d+$/.test(user) ? Number(user) : user;
    }
    if (pid) {
      body.point_of_entry = Number(pid);
    }
    try {
      const doc = await post('/api/responsible-for-load', body);
      const p = points.find((x) => String(x.id) === pid) || {};
      const role = doc.role || {};
      notify('success', t('load.done_title'), t('load.done', {
        user, point: `${p.name || (role.organisation && role.organisation.name) || ''} (${p.code || ''})`,
        country: countryLabel(p.country || country.traceControl.value),
      }), { focus: true });
      form.elements.user.value = '';
    } catch (err) {
      if (err.status === 422) {
        showErrors(form, err.errors, { summaryAt: msgs });
      } else {
        showProblem(err, { focus: true });
      }
    }
  });
  append(content, [
    h('p', { class: 'traces-intro', text: t('load.intro') }),
    abilities(me).commission ? null : h('p', { class: 'traces-note', text: t('load.commission_only') }),
    form]);
  loadPoints('FR');
}

main();
