// /app/profile, "Mon profil": the user's details (phone and fax editable),
// the roles with their statuses and the counts line, pending requests
// shown as such, and "Accès à l'application : Pas d'accès" without a valid
// role.

import { startPage, EU_LOGIN, showFlash } from '../layout.js';
import { t } from '../i18n.js';
import { patch } from '../api.js';
import { h, clear, button, notify, showProblem, externalLink, linkButton } from '../ui.js';
import { field, showErrors, clearErrors } from '../forms.js';
import { loadCountries } from '../refdata.js';
import { countsLine, roleCard, STATUS_ORDER, userDetails } from '../roles.js';

let details = null;
let rolesBox = null;

function contactForm(user) {
  const msgs = h('div', { class: 'traces-form-messages' });
  const form = h('form', { class: 'traces-form', id: 'contact-form', novalidate: true, 'aria-labelledby': 'contact-title' },
    h('h3', { id: 'contact-title', class: 'traces-h3', text: t('profile.contact_title') }),
    msgs,
    h('div', { class: 'traces-grid traces-grid--2' },
      field({ name: 'phone', label: t('user.phone'), type: 'tel', autocomplete: 'tel', value: user.phone || '', attrs: { maxlength: '32' } }),
      field({ name: 'fax', label: t('user.fax'), type: 'tel', value: user.fax || '', attrs: { maxlength: '32' } })),
    h('div', { class: 'traces-actions traces-actions--left' },
      button(t('profile.save_contact'), { variant: 'primary', type: 'submit', attrs: { id: 'save-contact' } })));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearErrors(form);
    clear(msgs);
    const phone = form.elements.phone.value.trim();
    const fax = form.elements.fax.value.trim();
    try {
      const me = await patch('/api/me', { phone: phone || null, fax: fax || null });
      render(me);
      notify('success', t('profile.saved_title'), t('profile.saved'), { focus: true });
    } catch (err) {
      if (err.status === 422) {
        showErrors(form, err.errors, { summaryAt: msgs });
      } else {
        showProblem(err, { focus: true });
      }
    }
  });
  return form;
}

function render(me) {
  const user = me.user || {};
  clear(details).append(
    h('h2', { class: 'traces-h2', id: 'details-title', text: t('user.details_title') }),
    userDetails(user, { editable: true }),
    contactForm(user),
    h('p', { class: 'traces-eulogin-links' },
      externalLink(t('profile.eulogin_account'), EU_LOGIN.account), ' · ',
      externalLink(t('profile.eulogin_password'), EU_LOGIN.password)));
  const roles = (me.roles || []).slice().sort((a, b) => (
    STATUS_ORDER.indexOf(b.status) - STATUS_ORDER.indexOf(a.status)));
  clear(rolesBox).append(
    h('h2', { class: 'traces-h2', id: 'roles-title', text: t('roles.title') }),
    countsLine(me.counts),
    h('p', {}, linkButton(t('roles.add'), '/app/', { variant: 'secondary', attrs: { id: 'add-role' } })));
  if (!roles.length) {
    rolesBox.append(h('p', { class: 'traces-empty', text: t('roles.none') }));
  }
  const pending = roles.filter((r) => r.status === 'requested');
  if (pending.length) {
    rolesBox.append(h('h3', { class: 'traces-h3', id: 'pending-title', text: t('profile.pending_title', { n: pending.length }) }),
      h('p', { class: 'traces-note', text: t('profile.pending_note') }),
      h('div', { class: 'traces-roles', id: 'pending-roles' }, pending.map((r) => roleCard(r))));
  }
  const others = roles.filter((r) => r.status !== 'requested');
  if (others.length) {
    rolesBox.append(h('h3', { class: 'traces-h3', text: t('profile.other_roles') }),
      h('div', { class: 'traces-roles', id: 'roles' }, others.map((r) => roleCard(r))));
  }
}

async function main() {
  const { me, content } = await startPage({ page: 'profile', titleKey: 'profile.title', app: true });
  if (!me) {
    return;
  }
  showFlash();
  try {
    await loadCountries();
  } catch (err) {
    showProblem(err);
  }
  details = h('section', { class: 'traces-section', 'aria-labelledby': 'details-title' });
  rolesBox = h('section', { class: 'traces-section', 'aria-labelledby': 'roles-title' });
  content.append(details, rolesBox);
  render(me);
}

main();
