// How a role is shown (profile, user management, request lists).

import { t, label } from './i18n.js';
import { h, badge, formatDate } from './ui.js';
import { countryLabel } from './refdata.js';

export const STATUS_ORDER = ['deleted', 'requested', 'suspended', 'valid'];

// "0 Supprimé 1 Demandé 0 Suspendu 0 Valide" (guide 3, "Statuts des rôles
// de l'utilisateur à afficher")
export function countsText(counts) {
  const c = counts || {};
  return STATUS_ORDER.map((s) => `${Number(c[s] || 0)} ${label('status.role', s)}`).join(' ');
}

export function countsFrom(roles) {
  const c = { deleted: 0, requested: 0, suspended: 0, valid: 0 };
  for (const r of roles || []) {
    if (r.status in c) {
      c[r.status] += 1;
    }
  }
  return c;
}

export function countsLine(counts, id = 'role-counts') {
  return h('p', { class: 'traces-counts' },
    h('span', { class: 'traces-counts__label', text: `${t('roles.counts_label')}${t('common.colon')}` }),
    ' ',
    h('span', { class: 'traces-counts__values', id, dataset: { counts: '' }, text: countsText(counts) }));
}

export function roleStatusBadge(role) {
  return badge('role', role.status, label('status.role', role.status));
}

export function organisationText(role) {
  const o = role.organisation || {};
  const parts = [o.name];
  if (o.code && role.kind !== 'operator') {
    parts[0] = `${o.name || ''} — ${o.code}`;
  }
  return parts.filter(Boolean).join(' ');
}

// the heading line of a role: "Opérateur · Organic Importer"
export function roleKindText(role) {
  const parts = [label('kind', role.kind)];
  if (role.activity) {
    parts.push(label('activity_short', role.activity));
  }
  return parts.join(' · ');
}

export function roleDetails(role) {
  const o = role.organisation || {};
  const dl = h('dl', { class: 'traces-dl traces-dl--compact' });
  const add = (key, value) => {
    if (value === undefined || value === null || value === '') {
      return;
    }
    dl.append(h('dt', { text: t(key) }), h('dd', {}, value));
  };
  add('roles.organisation', organisationText(role));
  if (o.country) {
    add('roles.country', countryLabel(o.country));
  }
  if (role.kind === 'operator' && o.status) {
    add('roles.organisation_status', badge('operator', o.status, label('status.operator', o.status)));
  }
  add('roles.requested_at', formatDate(role.requested_at, { time: true }));
  if (role.decided_at) {
    add('roles.decided_at', formatDate(role.decided_at, { time: true }));
  }
  if (role.decided_by) {
    add('roles.decided_by', role.decided_by);
  }
  add('roles.message', role.message);
  add('roles.contact_email', role.contact_email);
  add('roles.contact_phone', role.contact_phone);
  return dl;
}

export function roleCard(role, extra) {
  const headingId = `role-${role.id}-title`;
  return h('article', {
    class: ['traces-role', `traces-role--${role.status}`],
    'aria-labelledby': headingId,
    dataset: { roleId: String(role.id), status: role.status },
  },
  h('header', { class: 'traces-role__header' },
    h('h3', { class: 'traces-role__title', id: headingId }, roleKindText(role)),
    h('div', { class: 'traces-role__badges' },
      roleStatusBadge(role),
      role.admin ? badge('admin', 'yes', t('roles.admin')) : null,
      role.status === 'requested' ? h('span', { class: 'traces-role__pending', text: t('roles.pending') }) : null)),
  roleDetails(role),
  extra || null);
}

// Détails de l'utilisateur (guide 3): phone and fax are shown unless the
// page edits them
export function userDetails(user, { editable = false } = {}) {
  const dl = h('dl', { class: 'traces-dl', id: 'user-details' });
  const row = (key, value, id) => dl.append(h('dt', { text: t(key) }), h('dd', { id, text: value || '—' }));
  row('user.uid', user.uid, 'user-uid');
  row('user.domain', user.domain === 'external' || !user.domain ? t('user.domain_external') : user.domain, 'user-domain');
  row('user.given_name', user.given_name, 'user-given-name');
  row('user.family_name', user.family_name, 'user-family-name');
  row('user.email', user.email, 'user-email');
  if (!editable) {
    row('user.phone', user.phone, 'user-phone');
    row('user.fax', user.fax, 'user-fax');
  }
  row('user.access', user.application_access === 'granted' ? t('profile.access_granted') : t('profile.access_none'), 'application-access');
  return dl;
}
