// /app/user?id=N, "Gestion de <user>" (guide 3.e): the user's details and
// roles; for each role the caller may decide, a status choice (valid,
// suspended, deleted) and the administrator toggle; "Annuler" and
// "Enregistrer les modifications" (POST /api/roles/{id}/decision).

import { startPage, setTitle } from '../layout.js';
import { t, label } from '../i18n.js';
import { get, post } from '../api.js';
import { h, clear, button, notify, showProblem, problemText, notification, fullName } from '../ui.js';
import { radioGroup, checkbox } from '../forms.js';
import { loadCountries } from '../refdata.js';
import { countsLine, roleCard, userDetails, STATUS_ORDER } from '../roles.js';

// allowed transitions (DESIGN.md: requested -> valid | deleted; valid <->
// suspended; valid | suspended -> deleted)
const NEXT = {
  requested: ['valid', 'deleted'],
  valid: ['suspended', 'deleted'],
  suspended: ['valid', 'deleted'],
  deleted: [],
};

let userId = null;
let data = null;
let rolesBox = null;
let saveButton = null;
let changeCount = null;

function decisionControls(role) {
  const box = h('div', { class: 'traces-decision', dataset: { role: String(role.id) } });
  const next = NEXT[role.status] || [];
  if (!role.can_decide || !next.length) {
    box.append(h('p', { class: 'traces-note', text: role.can_decide ? t('manage.final') : t('manage.not_yours') }));
    return box;
  }
  const group = radioGroup({
    name: `status-${role.id}`, field: `status-${role.id}`,
    legend: t('manage.decision', { role: label('kind', role.kind) }),
    value: role.status,
    options: [
      { value: role.status, label: t('manage.keep', { status: label('status.role', role.status) }) },
      ...next.map((s) => ({ value: s, label: label('decision', s) })),
    ],
  });
  group.classList.add('traces-decision__status');
  box.append(group);
  if (role.kind === 'operator') {
    const initial = role.status === 'requested' ? Boolean(role.first_request || role.admin) : Boolean(role.admin);
    const admin = checkbox({
      id: `admin-${role.id}`, name: `admin-${role.id}`, checked: initial,
      label: t('manage.admin'),
      help: role.status === 'requested' && role.first_request ? t('manage.admin_first') : t('manage.admin_help'),
      attrs: { 'data-initial': initial ? '1' : '0' },
    });
    box.append(admin);
  }
  box.append(h('div', { class: 'traces-decision__result', 'aria-live': 'polite' }));
  box.addEventListener('change', () => {
    syncAdmin(box, role);
    updateCount();
  });
  syncAdmin(box, role);
  return box;
}

function chosen(box, role) {
  const r = box.querySelector(`input[name="status-${role.id}"]:checked`);
  return r ? r.value : role.status;
}

// admin only on a role that ends valid
function syncAdmin(box, role) {
  const admin = box.querySelector(`input[name="admin-${role.id}"]`);
  if (!admin) {
    return;
  }
  const ends = chosen(box, role);
  admin.disabled = ends !== 'valid';
  admin.closest('.ecl-checkbox').classList.toggle('ecl-checkbox--disabled', admin.disabled);
}

// what would be sent for a role, or null when nothing changes
function decisionOf(box, role) {
  const status = chosen(box, role);
  const admin = box.querySelector(`input[name="admin-${role.id}"]`);
  const adminChanged = admin && !admin.disabled && (admin.checked ? '1' : '0') !== admin.dataset.initial;
  if (status === role.status && !adminChanged) {
    return null;
  }
  const body = { status };
  if (adminChanged) {
    body.admin = admin.checked;
  }
  return body;
}

function pending() {
  const out = [];
  for (const role of data.roles || []) {
    const box = rolesBox.querySelector(`.traces-decision[data-role="${role.id}"]`);
    if (box && role.can_decide) {
      const d = decisionOf(box, role);
      if (d) {
        out.push({ role, box, body: d });
      }
    }
  }
  return out;
}

function updateCount() {
  const n = pending().length;
  changeCount.textContent = n ? `(${n})` : '';
  changeCount.hidden = n === 0;
}

function render() {
  const user = data.user || {};
  setTitle(t('manage.title', { name: fullName(user), uid: user.uid || '' }));
  const roles = (data.roles || []).slice().sort((a, b) => (
    STATUS_ORDER.indexOf(b.status) - STATUS_ORDER.indexOf(a.status)));
  clear(rolesBox).append(
    h('section', { class: 'traces-section', 'aria-labelledby': 'details-title' },
      h('h2', { class: 'traces-h2', id: 'details-title', text: t('user.details_title') }),
      userDetails(user)),
    h('section', { class: 'traces-section', 'aria-labelledby': 'roles-title' },
      h('h2', { class: 'traces-h2', id: 'roles-title', text: t('roles.title') }),
      countsLine(data.counts || {}),
      roles.length ? h('div', { class: 'traces-roles', id: 'roles' },
        roles.map((r) => roleCard(r, decisionControls(r))))
        : h('p', { class: 'traces-empty', text: t('roles.none') })));
  updateCount();
}

async function load() {
  data = await get(`/api/users/${userId}`);
  render();
}

async function save() {
  const changes = pending();
  if (!changes.length) {
    notify('info', t('manage.nothing_title'), t('manage.nothing'), { focus: true });
    return;
  }
  saveButton.disabled = true;
  const failures = [];
  let done = 0;
  for (const c of changes) {
    try {
      await post(`/api/roles/${c.role.id}/decision`, c.body);
      done += 1;
    } catch (err) {
      failures.push({ ...c, err });
      if (err.unavailable) {
        break;
      }
    }
  }
  saveButton.disabled = false;
  if (done) {
    try {
      await load();
    } catch (err) {
      showProblem(err);
    }
  }
  // the problems stay next to their roles, and above
  for (const f of failures) {
    const { title, detail } = problemText(f.err);
    const box = rolesBox.querySelector(`.traces-decision[data-role="${f.role.id}"] .traces-decision__result`);
    if (box) {
      clear(box).append(notification('error', title, detail, { closable: false }));
    }
  }
  if (failures.length) {
    const f = failures[0];
    const { title, detail } = problemText(f.err);
    notify('error', done ? t('manage.partly_saved', { n: done }) : title, detail, { focus: true });
  } else {
    notify('success', t('manage.saved_title'), t('manage.saved', { n: done }), { focus: true });
  }
}

function cancel() {
  if (!pending().length) {
    window.location.assign('/app/users?status=requested');
    return;
  }
  render();
  notify('info', t('manage.cancelled_title'), t('manage.cancelled'), { focus: true });
}

async function main() {
  const { me, content } = await startPage({
    page: 'users', titleKey: 'manage.title_short', app: true,
    crumbs: [{ key: 'nav.organisations', href: '/app/users' }, { key: 'users.title', href: '/app/users?status=requested' }, { key: 'manage.title_short' }],
  });
  if (!me) {
    return;
  }
  userId = new URLSearchParams(window.location.search).get('id');
  if (!userId || !/^\d+$/.test(userId)) {
    notify('error', t('errors.not_found_title'), t('manage.no_user'));
    return;
  }
  try {
    await loadCountries();
  } catch (err) {
    showProblem(err);
    return;
  }
  changeCount = h('span', { class: 'traces-change-count', hidden: true, 'aria-live': 'polite' });
  saveButton = button(t('manage.save'), { variant: 'primary', attrs: { id: 'save-changes' }, onClick: save });
  saveButton.querySelector('.ecl-button__container').append(changeCount);
  rolesBox = h('div', { id: 'user-page' });
  content.append(
    h('div', { class: 'traces-toolbar' },
      h('p', { class: 'traces-toolbar__info', text: t('manage.intro') }),
      h('div', { class: 'traces-toolbar__buttons' },
        button(t('manage.cancel'), { variant: 'secondary', attrs: { id: 'cancel-changes' }, onClick: cancel }),
        saveButton)),
    rolesBox,
    h('p', {}, h('a', { href: '/app/users?status=requested', class: 'ecl-link', id: 'back-to-list' }, t('manage.back'))));
  try {
    await load();
  } catch (err) {
    clear(rolesBox);
    showProblem(err);
  }
}

main();
