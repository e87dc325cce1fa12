// The list of access requests (GET /api/requests): Organisations > Users
// and the INAO queue. Each row: the user's name (3, a link to the user's
// page), the request's status (1), the user's general status (2).

import { t, label } from './i18n.js';
import { get } from './api.js';
import { h, clear, table, badge, formatDate, button, showProblem, spinner } from './ui.js';
import { countryLabel } from './refdata.js';
import { roleKindText, organisationText } from './roles.js';

export function userLink(r) {
  const u = r.user || {};
  const name = [u.given_name, u.family_name].filter(Boolean).join(' ');
  return h('a', {
    href: `/app/user?id=${encodeURIComponent(u.id)}`,
    class: 'ecl-link traces-user-link',
    dataset: { uid: u.uid || '' },
  }, name ? `${name} (${u.uid || ''})` : (u.uid || String(u.id)));
}

export function requestsTable(items, { caption, id }) {
  return table({
    caption, id,
    columns: [
      {
        label: t('requests.col_user'),
        cell: (r) => [userLink(r), r.user && r.user.email ? h('span', { class: 'traces-sub', text: r.user.email }) : null],
      },
      { label: t('requests.col_role'), cell: (r) => roleKindText(r) },
      {
        label: t('requests.col_organisation'),
        cell: (r) => [
          h('span', { text: organisationText(r) }),
          r.organisation && r.organisation.country
            ? h('span', { class: 'traces-sub', text: countryLabel(r.organisation.country) }) : null,
          r.kind === 'operator' && r.organisation && r.organisation.status === 'new'
            ? badge('operator', 'new', t('requests.new_operator')) : null,
        ],
      },
      { label: t('requests.col_status'), cell: (r) => badge('role', r.status, label('status.role', r.status)) },
      {
        label: t('requests.col_user_status'),
        cell: (r) => badge('user', r.user && r.user.status, label('status.user', r.user && r.user.status)),
      },
      { label: t('requests.col_requested_at'), cell: (r) => formatDate(r.requested_at, { time: true }) },
      {
        label: t('requests.col_message'),
        cell: (r) => [
          r.message ? h('span', { text: r.message }) : null,
          r.contact_email ? h('span', { class: 'traces-sub', text: r.contact_email }) : null,
          r.contact_phone ? h('span', { class: 'traces-sub', text: r.contact_phone }) : null,
        ],
      },
    ],
    rows: items,
  });
}

// a list with its own "next" paging: params of GET /api/requests, a filter
// of the rows (e.g. new operators only), where to draw
export function requestsList({ params, filter, target, caption, id, empty }) {
  const cursors = [];
  async function load(after) {
    clear(target).append(spinner());
    let doc;
    try {
      doc = await get('/api/requests', { ...params, after, limit: 50 });
    } catch (err) {
      clear(target);
      showProblem(err);
      return;
    }
    let items = Array.isArray(doc.items) ? doc.items : [];
    if (filter) {
      items = items.filter(filter);
    }
    clear(target);
    target.append(h('p', { class: 'traces-count', role: 'status', text: t(doc.next ? 'common.count_more' : 'common.count', { n: items.length }) }));
    if (!items.length) {
      target.append(h('p', { class: 'traces-empty', text: empty || t('requests.none') }));
    } else {
      target.append(requestsTable(items, { caption, id }));
    }
    const pager = h('div', { class: 'traces-pager' });
    if (after) {
      pager.append(button(t('common.previous'), {
        onClick: () => { cursors.pop(); load(cursors.length ? cursors[cursors.length - 1] : null); },
      }));
    }
    if (doc.next) {
      pager.append(button(t('common.next'), {
        attrs: { 'data-next': '' },
        onClick: () => { cursors.push(doc.next); load(doc.next); },
      }));
    }
    if (pager.childNodes.length) {
      target.append(pager);
    }
  }
  return { load: () => { cursors.length = 0; return load(null); } };
}
