// What every page shares: translations, the EC header (logo, language
// switch, the signed-in user and "sign out"), the TRACES menu by role, the
// breadcrumb, the footer, and the caller's profile (/api/me) on /app/ pages.

import { detectLang, loadLang, setLang, t, applyI18n, lang, LANGS } from './i18n.js';
import { get, logout } from './api.js';
import { h, clear, icon, notify, showProblem, fullName } from './ui.js';

const LOGO = '/vendor/ecl/images/logo/positive/logo-ec--{lang}.svg';

export const EU_LOGIN = {
  signup: 'https://ecas.ec.europa.eu/cas/eim/external/register.cgi',
  reset: 'https://ecas.ec.europa.eu/cas/init/initForgotPasswordProcess.cgi',
  help: 'https://webgate.ec.europa.eu/cas/help.html',
  contact: 'https://webgate.ec.europa.eu/cas/contact.html',
  account: 'https://ecas.ec.europa.eu/cas/userdata/myAccount.cgi',
  password: 'https://ecas.ec.europa.eu/cas/change.cgi',
};

export function validRoles(me) {
  return ((me && me.roles) || []).filter((r) => r.status === 'valid');
}

export function abilities(me) {
  const v = validRoles(me);
  const authority = v.some((r) => r.kind === 'authority');
  const commission = v.some((r) => r.kind === 'commission');
  const admin = v.some((r) => r.kind === 'operator' && r.admin);
  return {
    any: v.length > 0, authority, commission, admin,
    manage: authority || commission || admin,
  };
}

function menuItems(me) {
  const can = abilities(me);
  const items = [
    { href: '/app/', key: 'nav.home', page: 'home' },
    { href: '/app/certificates', key: 'nav.certificates', page: 'certificates' },
  ];
  if (can.manage) {
    items.push({ href: '/app/users', key: 'nav.users', page: 'users' });
  }
  if (can.authority) {
    items.push({ href: '/app/queue', key: 'nav.queue', page: 'queue' });
  }
  if (can.commission) {
    items.push({ href: '/app/load', key: 'nav.load', page: 'load' });
  }
  items.push({ href: '/app/profile', key: 'nav.profile', page: 'profile' });
  items.push({ href: '/contacts', key: 'nav.contacts', page: 'contacts' });
  return items;
}

function langSwitch() {
  const group = h('div', {
    class: 'traces-lang', role: 'group', 'aria-label': t('lang.switch'),
  });
  group.append(icon('global', { size: 's', cls: 'traces-lang__icon' }));
  for (const l of LANGS) {
    group.append(h('button', {
      type: 'button',
      class: 'ecl-button ecl-button--tertiary traces-lang__button',
      lang: l,
      'aria-pressed': l === lang() ? 'true' : 'false',
      'aria-label': t(`lang.name_${l}`),
      dataset: { lang: l },
      on: { click: () => { if (l !== lang()) { setLang(l); } } },
    }, l.toUpperCase()));
  }
  return group;
}

function header({ app, me, page }) {
  const actions = h('div', { class: 'ecl-site-header__action traces-header__actions' });
  if (app && me && me.user) {
    actions.append(h('div', { class: 'traces-user' },
      icon('logged-in', { size: 's', cls: 'traces-user__icon' }),
      h('span', { class: 'traces-user__name', id: 'user-name' },
        `${fullName(me.user)} (${me.user.uid || ''})`)));
    actions.append(h('button', {
      type: 'button', id: 'logout',
      class: 'ecl-button ecl-button--tertiary traces-header__button',
      on: { click: onLogout },
    }, icon('log-in', { size: 's', cls: 'traces-flip' }), h('span', { text: t('nav.logout') })));
  } else if (!app) {
    actions.append(h('a', {
      href: '/auth/login?return_to=/app/', id: 'header-login',
      class: 'ecl-button ecl-button--tertiary traces-header__button',
    }, icon('log-in', { size: 's' }), h('span', { text: t('nav.login') })));
  }
  actions.append(langSwitch());

  const top = h('div', { class: 'ecl-site-header__header' },
    h('div', { class: 'ecl-site-header__container ecl-container' },
      h('div', { class: 'ecl-site-header__top' },
        h('a', {
          class: 'ecl-link ecl-link--standalone ecl-site-header__logo-link',
          href: app ? '/app/' : '/', 'aria-label': t('site.home_link'),
        }, h('img', {
          class: 'ecl-site-header__logo-image ecl-site-header__logo-image--l traces-logo',
          src: LOGO.replace('{lang}', lang()), alt: t('site.ec'),
          width: '291', height: '72',
        })),
        actions)));

  const banner = h('div', { class: 'traces-banner' },
    h('div', { class: 'ecl-container traces-banner__inner' },
      h('p', { class: 'traces-banner__name' },
        h('a', { href: app ? '/app/' : '/', class: 'traces-banner__link' },
          h('span', { class: 'traces-banner__title', text: t('site.name') }),
          h('span', { class: 'traces-banner__subtitle', text: t('site.full') })))));

  const parts = [top, banner];
  if (app) {
    const ul = h('ul', { class: 'traces-menu__list' });
    for (const item of menuItems(me)) {
      const current = item.page === page;
      ul.append(h('li', { class: 'traces-menu__item' },
        h('a', {
          href: item.href,
          class: ['traces-menu__link', current ? 'traces-menu__link--current' : ''],
          'aria-current': current ? 'page' : undefined,
          dataset: { page: item.page },
        }, t(item.key))));
    }
    parts.push(h('nav', { class: 'traces-menu', 'aria-label': t('nav.label'), id: 'menu' },
      h('div', { class: 'ecl-container' }, ul)));
  }
  return h('header', { class: 'ecl-site-header traces-header', role: 'banner' },
    h('div', { class: 'ecl-site-header__inner' },
      h('div', { class: 'ecl-site-header__background traces-header__background' }, parts)));
}

function footer() {
  const links = [
    { key: 'footer.documentation', href: '/documentation' },
    { key: 'footer.contact', href: '/contacts' },
    { key: 'footer.legal', href: t('footer.legal_url'), ext: true },
    { key: 'footer.cookies', href: t('footer.cookies_url'), ext: true },
    { key: 'footer.privacy', href: t('footer.privacy_url'), ext: true },
  ];
  return h('footer', { class: 'ecl-site-footer traces-footer' },
    h('div', { class: 'ecl-container ecl-site-footer__container' },
      h('div', { class: 'traces-footer__row' },
        h('div', { class: 'traces-footer__column' },
          h('p', { class: 'traces-footer__title', text: t('site.name') }),
          h('p', { class: 'traces-footer__text', text: t('footer.about') }),
          h('p', { class: 'traces-footer__text', text: t('footer.managed') })),
        h('div', { class: 'traces-footer__column' },
          h('p', { class: 'traces-footer__title', text: t('footer.links') }),
          h('ul', { class: 'traces-footer__list' },
            links.map((l) => h('li', {},
              h('a', {
                href: l.href, class: 'ecl-link ecl-link--standalone ecl-link--inverted traces-footer__link',
                rel: l.ext ? 'noopener' : undefined,
              }, t(l.key))))))),
      h('p', { class: 'traces-footer__text traces-footer__legal', text: t('footer.ec') })));
}

function breadcrumb(items, root = '/app/') {
  const ol = h('ol', { class: 'traces-breadcrumb__list' });
  const all = [{ key: 'nav.root', href: root }, ...items];
  all.forEach((it, i) => {
    const last = i === all.length - 1;
    ol.append(h('li', { class: 'traces-breadcrumb__item' },
      last ? h('span', { 'aria-current': 'page', text: it.text || t(it.key) })
        : h('a', { href: it.href, class: 'ecl-link ecl-link--standalone' }, it.text || t(it.key))));
  });
  return h('nav', { class: 'traces-breadcrumb', 'aria-label': t('nav.breadcrumb') }, ol);
}

async function onLogout(ev) {
  const b = ev.currentTarget;
  b.disabled = true;
  try {
    const url = await logout();
    window.location.assign(url);
  } catch (err) {
    b.disabled = false;
    showProblem(err, { focus: true });
  }
}

function fatal(message) {
  const where = document.getElementById('messages') || document.body;
  where.append(h('div', { class: 'traces-fatal', role: 'alert' },
    h('p', { lang: 'fr', text: 'Le service TRACES est temporairement indisponible. Veuillez réessayer dans quelques minutes.' }),
    h('p', { lang: 'en', text: 'The TRACES service is temporarily unavailable. Please try again in a few minutes.' }),
    message ? h('p', { class: 'traces-fatal__detail', text: message }) : null));
}

let started = false;

// {page, titleKey, app, breadcrumb:[{key|text, href}]}; returns {me, content}
// or {me: null} when the page cannot go on (the message is shown)
export async function startPage({ page, titleKey, title, app = false, crumbs = [] }) {
  if (!started) {
    started = true;
    window.addEventListener('unhandledrejection', (ev) => {
      showProblem(ev.reason);
    });
  }
  try {
    await loadLang(detectLang());
  } catch (e) {
    try {
      await loadLang(detectLang() === 'fr' ? 'en' : 'fr');
    } catch (e2) {
      fatal(String(e2.message || e2));
      return { me: null };
    }
  }
  const headerSlot = document.getElementById('site-header');
  const footerSlot = document.getElementById('site-footer');
  const content = document.getElementById('content');
  applyI18n();
  let me = null;
  let failed = null;
  if (app) {
    try {
      me = await get('/api/me');
    } catch (err) {
      failed = err;
    }
  }
  if (headerSlot) {
    clear(headerSlot).append(header({ app, me, page }));
  }
  if (footerSlot) {
    clear(footerSlot).append(footer());
  }
  const crumbSlot = document.getElementById('breadcrumb');
  if (crumbSlot && (app || crumbs.length)) {
    clear(crumbSlot).append(breadcrumb(crumbs.length ? crumbs : [{ key: titleKey }],
      app ? '/app/' : '/'));
  }
  const titleText = title || (titleKey ? t(titleKey) : '');
  const h1 = document.getElementById('page-title');
  if (h1 && titleText) {
    h1.textContent = titleText;
  }
  document.title = `${titleText ? `${titleText} - ` : ''}${t('site.title')}`;
  if (failed) {
    showProblem(failed);
    if (content) {
      clear(content).append(h('p', { class: 'traces-retry' },
        h('a', { href: window.location.href, class: 'ecl-link' }, t('common.retry'))));
    }
    return { me: null, content };
  }
  document.body.classList.add('traces-ready');
  return { me, content };
}

// a message kept across a navigation (sessionStorage), shown by the next page
export function flash(kind, title, description) {
  try {
    window.sessionStorage.setItem('traces.flash', JSON.stringify({ kind, title, description }));
  } catch (e) {
    // ignore
  }
}

export function showFlash() {
  let f = null;
  try {
    f = JSON.parse(window.sessionStorage.getItem('traces.flash') || 'null');
    window.sessionStorage.removeItem('traces.flash');
  } catch (e) {
    f = null;
  }
  if (f) {
    notify(f.kind, f.title, f.description);
  }
}

export function setTitle(text) {
  const h1 = document.getElementById('page-title');
  if (h1) {
    h1.textContent = text;
  }
  document.title = `${text} - ${t('site.title')}`;
}

export { breadcrumb };
