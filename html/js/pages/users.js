// /app/users, "Organisations > Utilisateurs" (guide 3): administrators of
// an operator, INAO and the Commission "search pending requests"; the name
// of each user opens the page where the request is decided.

import { startPage, abilities } from '../layout.js';
import { t, label } from '../i18n.js';
import { h, append, button, showProblem } from '../ui.js';
import { field } from '../forms.js';
import { loadCountries } from '../refdata.js';
import { requestsList } from '../requests.js';

async function main() {
  const { me, content } = await startPage({
    page: 'users', titleKey: 'users.title', app: true,
    crumbs: [{ key: 'nav.organisations', href: '/app/users' }, { key: 'users.title' }],
  });
  if (!me) {
    return;
  }
  try {
    await loadCountries();
  } catch (err) {
    showProblem(err);
    return;
  }
  const q = new URLSearchParams(window.location.search);
  const results = h('div', { id: 'results', class: 'traces-results' });
  const form = h('form', { class: 'traces-form traces-search', role: 'search', novalidate: true, 'aria-labelledby': 'search-title' },
    h('h2', { id: 'search-title', class: 'traces-h2', text: t('users.search_title') }),
    h('div', { class: 'traces-grid traces-grid--3' },
      field({
        name: 'status', label: t('users.status'), size: 'm', value: q.get('status') || 'requested',
        options: ['requested', 'valid', 'suspended', 'deleted'].map((s) => ({ value: s, label: label('status.role', s) })),
      }),
      field({
        name: 'kind', label: t('users.kind'), size: 'm', value: q.get('kind') || '',
        placeholderOption: t('users.all_kinds'),
        options: ['operator', 'control_body', 'point_of_entry', 'authority'].map((k) => ({ value: k, label: label('kind', k) })),
      })),
    h('div', { class: 'traces-actions traces-actions--left' },
      button(t('users.search_pending'), { variant: 'primary', attrs: { id: 'search-pending' }, iconName: 'search', onClick: () => run('requested') }),
      button(t('common.search'), { variant: 'secondary', type: 'submit', attrs: { id: 'search-status' } })));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    run(form.elements.status.value);
  });
  function run(status) {
    form.elements.status.value = status;
    const params = { status, kind: form.elements.kind.value || undefined };
    const s = new URLSearchParams(Object.entries(params).filter(([, v]) => v)).toString();
    window.history.replaceState(null, '', `${window.location.pathname}?${s}`);
    requestsList({
      params, target: results, id: 'requests',
      caption: t('users.results_caption', { status: label('status.role', status) }),
      empty: status === 'requested' ? t('users.none_pending') : t('requests.none'),
    }).load();
  }
  const can = abilities(me);
  append(content, [
    h('p', { class: 'traces-intro', text: t('users.intro') }),
    can.manage ? null : h('p', { class: 'traces-note', text: t('users.not_manager') }),
    form,
    h('section', { 'aria-labelledby': 'results-title', class: 'traces-section' },
      h('h2', { id: 'results-title', class: 'traces-h2', text: t('users.results') }),
      h('p', { class: 'traces-legend', text: t('users.legend') }),
      results)]);
  if (q.get('status')) {
    run(q.get('status'));
  }
}

main();
