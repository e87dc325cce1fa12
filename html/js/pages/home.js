// /app/: after sign-in. Without a valid role: choose the role (guide 2:
// "Opérateur" or "Organisme de contrôle AB"); with one: the way to the
// certificates and the other screens.

import { startPage, abilities, showFlash } from '../layout.js';
import { t } from '../i18n.js';
import { h, notify, icon, link, fullName } from '../ui.js';

function choice({ id, href, title, lead, details }) {
  return h('li', { class: 'traces-choice' },
    h('a', { id, href, class: 'traces-choice__link' },
      h('span', { class: 'traces-choice__title', text: title }),
      h('span', { class: 'traces-choice__lead', text: lead }),
      icon('corner-arrow', { size: 'm', cls: 'ecl-icon--rotate-90 traces-choice__arrow' })),
    details ? h('div', { class: 'traces-choice__details' }, details) : null);
}

function roleChoice() {
  return h('section', { class: 'traces-section', 'aria-labelledby': 'choose-title' },
    h('h2', { id: 'choose-title', class: 'traces-h2', text: t('home.choose_title') }),
    h('p', { text: t('home.choose_intro') }),
    h('ul', { class: 'traces-choices' },
      choice({
        id: 'choose-operator', href: '/app/operator',
        title: t('home.operator'), lead: t('home.operator_lead'),
        details: [
          h('p', { text: t('home.operator_importer') }),
          h('p', { text: t('home.operator_consignee') }),
        ],
      }),
      choice({
        id: 'choose-control-body', href: '/app/control-body',
        title: t('home.control_body'), lead: t('home.control_body_lead'),
        details: h('p', { text: t('home.control_body_details') }),
      })),
    h('div', { class: 'traces-aside' },
      h('h3', { class: 'traces-h3', text: t('home.forwarder_title') }),
      h('p', { text: t('home.forwarder_text') }),
      h('p', {}, link(t('home.forwarder_contact'), '/contacts#dgccrf'))));
}

function shortcuts(me) {
  const can = abilities(me);
  const items = [
    { href: '/app/certificates', key: 'certificates' },
    can.manage ? { href: '/app/users', key: 'users' } : null,
    can.authority ? { href: '/app/queue', key: 'queue' } : null,
    can.commission ? { href: '/app/load', key: 'load' } : null,
    { href: '/app/profile', key: 'profile' },
  ].filter(Boolean);
  return h('section', { class: 'traces-section', 'aria-labelledby': 'shortcuts-title' },
    h('h2', { id: 'shortcuts-title', class: 'traces-h2', text: t('home.shortcuts') }),
    h('ul', { class: 'traces-choices traces-choices--small' },
      items.map((i) => choice({
        id: `go-${i.key}`, href: i.href,
        title: t(`home.go.${i.key}`), lead: t(`home.go.${i.key}_lead`),
      }))));
}

async function main() {
  const { me, content } = await startPage({ page: 'home', titleKey: 'home.title', app: true });
  if (!me) {
    return;
  }
  showFlash();
  const roles = me.roles || [];
  const can = abilities(me);
  const pending = roles.filter((r) => r.status === 'requested');
  content.append(h('p', { class: 'traces-lead', text: t('home.hello', { name: fullName(me.user) }) }));
  if (!can.any) {
    content.append(h('div', { class: 'traces-status-line' },
      h('span', { text: t('profile.access') }), ' ',
      h('strong', { id: 'application-access', text: t('profile.access_none') })));
  }
  if (pending.length) {
    content.append(h('div', { class: 'traces-inline-message' },
      h('p', {},
        t('home.pending', { n: pending.length }), ' ',
        link(t('home.pending_link'), '/app/profile'))));
  }
  if (can.any) {
    content.append(shortcuts(me));
    content.append(h('section', { class: 'traces-section', 'aria-labelledby': 'more-title' },
      h('h2', { id: 'more-title', class: 'traces-h2', text: t('home.another_role') }),
      h('p', {}, link(t('home.operator'), '/app/operator', { id: 'choose-operator' }), ' · ',
        link(t('home.control_body'), '/app/control-body', { id: 'choose-control-body' }))));
  } else {
    notify('info', t('home.select_role_title'), t('home.select_role'));
    content.append(roleChoice());
  }
}

main();
