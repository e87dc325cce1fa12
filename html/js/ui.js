// DOM helpers. Text always goes in as text (textContent), never as markup.

import { t, lang } from './i18n.js';

export const ICONS = '/vendor/ecl/images/icons/sprites/icons.svg';
const SVG = 'http://www.w3.org/2000/svg';

let uid = 0;
export function nextId(prefix = 'id') {
  uid += 1;
  return `${prefix}-${uid}`;
}

// h('a', {href: '/', class: 'x', on: {click: fn}}, 'text', node, [more])
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) {
      continue;
    }
    if (k === 'on') {
      for (const [ev, fn] of Object.entries(v)) {
        el.addEventListener(ev, fn);
      }
    } else if (k === 'class') {
      el.className = Array.isArray(v) ? v.filter(Boolean).join(' ') : v;
    } else if (k === 'text') {
      el.textContent = v;
    } else if (k === 'dataset') {
      Object.assign(el.dataset, v);
    } else if (k === 'value' && 'value' in el) {
      el.value = v;
    } else if (k === 'checked' || k === 'selected' || k === 'disabled'
               || k === 'hidden' || k === 'required' || k === 'multiple') {
      el[k] = Boolean(v);
      if (k !== 'checked' && k !== 'selected') {
        el.setAttribute(k, '');
      }
    } else {
      el.setAttribute(k, v === true ? '' : String(v));
    }
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) {
      continue;
    }
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

export function clear(el) {
  while (el.firstChild) {
    el.firstChild.remove();
  }
  return el;
}

export function icon(name, { size = 's', cls = '', title } = {}) {
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('class', `ecl-icon ecl-icon--${size} ${cls}`.trim());
  svg.setAttribute('focusable', 'false');
  if (title) {
    svg.setAttribute('role', 'img');
    const tt = document.createElementNS(SVG, 'title');
    tt.textContent = title;
    svg.append(tt);
  } else {
    svg.setAttribute('aria-hidden', 'true');
  }
  const use = document.createElementNS(SVG, 'use');
  use.setAttribute('href', `${ICONS}#${name}`);
  svg.append(use);
  return svg;
}

// ECL button. variant: primary | secondary | tertiary | cta | ghost
export function button(text, { variant = 'secondary', type = 'button', iconName,
  onClick, attrs = {} } = {}) {
  const label = h('span', { class: 'ecl-button__label', text });
  const inner = [label];
  if (iconName) {
    inner.push(icon(iconName, { size: 'xs', cls: 'ecl-button__icon' }));
  }
  const b = h('button', {
    type, class: `ecl-button ecl-button--${variant}`, ...attrs,
    on: onClick ? { click: onClick } : undefined,
  }, h('span', { class: 'ecl-button__container' }, inner));
  return b;
}

export function linkButton(text, href, { variant = 'secondary', attrs = {} } = {}) {
  return h('a', { href, class: `ecl-button ecl-button--${variant}`, ...attrs },
    h('span', { class: 'ecl-button__container' },
      h('span', { class: 'ecl-button__label', text })));
}

export function link(text, href, attrs = {}) {
  return h('a', { href, class: 'ecl-link', ...attrs }, text);
}

export function externalLink(text, href, attrs = {}) {
  return h('a', { href, class: 'ecl-link', rel: 'noopener', ...attrs }, text,
    h('span', { class: 'traces-sr-only', text: ` (${t('common.external_link')})` }));
}

// ---------------------------------------------------------------------------
// messages: an ECL notification in a live region (#messages unless given).
// kind: success | error | info | warning

const NOTIFY_ICON = {
  success: 'check-filled', error: 'error', info: 'information', warning: 'warning',
};

export function notification(kind, title, description, { closable = true } = {}) {
  const box = h('div', {
    class: `ecl-notification ecl-notification--${kind} traces-notification`,
    role: kind === 'error' ? 'alert' : 'status',
    tabindex: '-1',
    dataset: { kind },
  });
  box.append(icon(NOTIFY_ICON[kind] || 'information',
    { size: 'l', cls: 'ecl-notification__icon' }));
  const content = h('div', { class: 'ecl-notification__content' });
  if (title) {
    content.append(h('div', { class: 'ecl-notification__title', text: title }));
  }
  if (description) {
    const d = h('div', { class: 'ecl-notification__description' });
    append(d, [description]);
    content.append(d);
  }
  if (closable) {
    content.append(h('button', {
      type: 'button',
      class: 'ecl-button ecl-button--tertiary ecl-notification__close traces-notification__close',
      on: { click: () => box.remove() },
    }, h('span', { class: 'ecl-button__container' },
      h('span', { class: 'ecl-button__label', text: t('common.close') }),
      icon('close', { size: 's', cls: 'ecl-button__icon' }))));
  }
  box.append(content);
  return box;
}

export function messagesRegion() {
  return document.getElementById('messages');
}

export function notify(kind, title, description, { region, focus = false, replace = true } = {}) {
  const where = region || messagesRegion();
  const box = notification(kind, title, description);
  if (!where) {
    return box;
  }
  if (replace) {
    clear(where);
  }
  where.append(box);
  if (focus) {
    box.focus();
  } else if (kind === 'error' || kind === 'success') {
    box.scrollIntoView({ block: 'nearest' });
  }
  return box;
}

export function clearMessages(region) {
  const where = region || messagesRegion();
  if (where) {
    clear(where);
  }
}

// an ApiError (or any error) as a message the user can act upon
export function problemText(err) {
  if (!err || typeof err !== 'object') {
    return { title: t('errors.generic_title'), detail: t('errors.generic') };
  }
  if (err.unavailable) {
    return { title: t('errors.unavailable_title'), detail: t('errors.unavailable') };
  }
  const detail = err.problem && err.problem.detail ? err.problem.detail : '';
  switch (err.status) {
  case 403:
    if (String(err.type).endsWith(':no-access')) {
      return { title: t('errors.no_access_title'), detail: t('errors.no_access') };
    }
    return { title: t('errors.forbidden_title'), detail: detail || t('errors.forbidden') };
  case 404:
    return { title: t('errors.not_found_title'), detail: t('errors.not_found') };
  case 409:
    return { title: t('errors.conflict_title'), detail: detail || t('errors.conflict') };
  case 422:
    return { title: t('errors.invalid_title'), detail: t('errors.invalid') };
  case 429:
    return { title: t('errors.busy_title'), detail: t('errors.busy') };
  default:
    if (err.status === undefined) {
      console.error(err);
    }
    return { title: t('errors.generic_title'), detail: detail || t('errors.generic') };
  }
}

export function showProblem(err, opts = {}) {
  const { title, detail } = problemText(err);
  return notify(err && err.status === 403 && String(err.type).endsWith(':no-access')
    ? 'info' : 'error', title, detail, opts);
}

// ---------------------------------------------------------------------------
// dialogs: native <dialog> (focus kept inside, Escape closes) with ECL modal
// styles; focus goes back to what opened it

export function modal({ id, title, body, footer, size = 'm', onClose }) {
  const titleId = `${id}-title`;
  const closeBtn = h('button', {
    type: 'button',
    class: 'ecl-button ecl-button--tertiary ecl-modal__close ecl-button--icon-only',
    'data-close': '',
  }, h('span', { class: 'ecl-button__container' },
    h('span', { class: 'ecl-button__label', text: t('common.close') }),
    icon('close', { size: 'm', cls: 'ecl-button__icon' })));
  const dialog = h('dialog', {
    id, class: `ecl-modal ecl-modal--${size} traces-modal`, 'aria-labelledby': titleId,
  },
  h('div', { class: 'ecl-modal__container' },
    h('div', { class: 'ecl-modal__content' },
      h('header', { class: 'ecl-modal__header' },
        h('div', { class: 'ecl-modal__header-content', id: titleId, role: 'heading', 'aria-level': '2' }, title),
        closeBtn),
      h('div', { class: 'ecl-modal__body' },
        h('div', { class: 'ecl-modal__body-scroll' }, body)),
      footer ? h('footer', { class: 'ecl-modal__footer' },
        h('div', { class: 'ecl-modal__footer-content' }, footer)) : null)));
  closeBtn.addEventListener('click', () => closeModal(dialog));
  // focus goes back to the opener, unless the caller said what comes next
  // (dialog.traceAfterClose: a function run once the dialog is closed)
  dialog.addEventListener('close', () => {
    const back = dialog.traceOpener;
    const after = dialog.traceAfterClose;
    dialog.traceOpener = null;
    dialog.traceAfterClose = null;
    if (onClose) {
      onClose();
    }
    if (typeof after === 'function') {
      after();
    } else if (back && back.isConnected && back.getClientRects().length) {
      back.focus();
    }
  });
  // a click on the backdrop (the dialog itself, outside the content) closes it
  dialog.addEventListener('click', (ev) => {
    if (ev.target === dialog || ev.target.classList.contains('ecl-modal__container')) {
      closeModal(dialog);
    }
  });
  document.body.append(dialog);
  return dialog;
}

export function openModal(dialog, focusTarget) {
  dialog.traceOpener = document.activeElement;
  if (!dialog.open) {
    dialog.showModal();
  }
  const target = focusTarget
    || dialog.querySelector('input:not([type=hidden]), textarea, select, button:not([data-close])');
  if (target) {
    target.focus();
  }
}

export function closeModal(dialog, after) {
  if (after) {
    dialog.traceAfterClose = after;
  }
  if (dialog.open) {
    dialog.close();
  } else if (after) {
    dialog.traceAfterClose = null;
    after();
  }
}

// ---------------------------------------------------------------------------
// formatting

export function formatDate(value, { time = false } = {}) {
  if (!value) {
    return '';
  }
  const d = new Date(value);
  if (Number.isNaN(d.getTime())) {
    return String(value);
  }
  const opts = time
    ? { year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', timeZone: 'UTC', timeZoneName: 'short' }
    : { year: 'numeric', month: '2-digit', day: '2-digit', timeZone: 'UTC' };
  return new Intl.DateTimeFormat(lang() === 'fr' ? 'fr-FR' : 'en-GB', opts).format(d);
}

export function formatNumber(n, digits = 3) {
  if (n === null || n === undefined || n === '') {
    return '';
  }
  return new Intl.NumberFormat(lang() === 'fr' ? 'fr-FR' : 'en-GB',
    { maximumFractionDigits: digits }).format(Number(n));
}

export function dash(v) {
  return v === null || v === undefined || v === '' ? '—' : v;
}

export function fullName(user) {
  if (!user) {
    return '';
  }
  const n = [user.given_name, user.family_name].filter(Boolean).join(' ');
  return n || user.uid || '';
}

// badge of a status: role statuses, user general status, certificate statuses
export function badge(kind, status, text) {
  return h('span', {
    class: `traces-badge traces-badge--${kind}-${status || 'none'}`,
    dataset: { status: status || 'none' },
    text,
  });
}

// ECL table from columns [{key?, label, cell(row) -> node|string, cls}]
export function table({ caption, columns, rows, id, cls = '' }) {
  const thead = h('thead', { class: 'ecl-table__head' },
    h('tr', { class: 'ecl-table__row' },
      columns.map((c) => h('th', {
        scope: 'col', class: ['ecl-table__header', c.cls],
      }, c.label))));
  const tbody = h('tbody', { class: 'ecl-table__body' },
    rows.map((r) => {
      const tr = h('tr', { class: 'ecl-table__row' });
      columns.forEach((c, i) => {
        const content = c.cell(r);
        const cell = h(i === 0 && c.rowHeader ? 'th' : 'td', {
          class: ['ecl-table__cell', c.cls],
          'data-ecl-table-header': typeof c.label === 'string' ? c.label : '',
          scope: i === 0 && c.rowHeader ? 'row' : undefined,
        });
        append(cell, [content]);
        tr.append(cell);
      });
      return tr;
    }));
  return h('div', { class: 'ecl-table-responsive traces-table-wrap' },
    h('table', { class: `ecl-table ecl-table--zebra traces-table ${cls}`.trim(), id },
      caption ? h('caption', { class: 'ecl-table__caption', text: caption }) : null,
      thead, tbody));
}

export function spinner(text) {
  return h('p', { class: 'traces-loading', role: 'status' }, text || t('common.loading'));
}
