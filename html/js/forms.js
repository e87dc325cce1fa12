// Form fields (ECL form group: label, help, error, control), the display of
// a 422 problem's errors next to their fields, and the "Confirm
// authorisation request" dialog of the guide (message, e-mail, phone).

import { t, serverMessage } from './i18n.js';
import { h, icon, nextId, notification, clear, append, button, modal, openModal,
  closeModal, problemText } from './ui.js';

function requiredMark() {
  return h('span', { class: 'ecl-form-label__required', 'aria-hidden': 'true', text: '*' });
}

function optionalMark() {
  return h('span', { class: 'ecl-form-label__optional', text: ` (${t('form.optional')})` });
}

// {name, label, type, required, value, help, autocomplete, size, attrs,
//  multiline, rows, options: [{value, label}], placeholderOption}
export function field(spec) {
  const id = spec.id || nextId(`f-${String(spec.name).replace(/[^a-z0-9]+/gi, '-')}`);
  const helpId = `${id}-help`;
  const errorId = `${id}-error`;
  const describedby = [];
  const group = h('div', {
    class: ['ecl-form-group', 'traces-field', spec.cls],
    dataset: { field: spec.field || spec.name },
  });
  group.append(h('label', { class: 'ecl-form-label', for: id },
    spec.label, spec.required ? requiredMark() : (spec.markOptional ? optionalMark() : null)));
  if (spec.help) {
    const help = h('div', { class: 'ecl-help-block', id: helpId });
    append(help, [spec.help]);
    group.append(help);
    describedby.push(helpId);
  }
  group.append(h('div', {
    class: 'ecl-feedback-message traces-error', id: errorId, hidden: true,
  }));
  let control;
  const common = {
    id, name: spec.name, required: spec.required,
    'aria-describedby': describedby.join(' ') || undefined,
    autocomplete: spec.autocomplete, ...(spec.attrs || {}),
  };
  if (spec.options) {
    control = h('select', { class: 'ecl-select', ...common },
      spec.placeholderOption !== undefined
        ? h('option', { value: '', text: spec.placeholderOption }) : null,
      spec.options.map((o) => h('option', { value: o.value, text: o.label })));
    if (spec.value !== undefined && spec.value !== null) {
      control.value = String(spec.value);
    }
    group.append(h('div', {
      class: `ecl-select__container ecl-select__container--${spec.size || 'l'}`,
    }, control, h('div', { class: 'ecl-select__icon' },
      icon('corner-arrow', { size: 's', cls: 'ecl-icon--rotate-180 ecl-select__icon-shape' }))));
  } else if (spec.multiline) {
    control = h('textarea', {
      class: `ecl-text-area ecl-text-area--${spec.size || 'l'}`, rows: spec.rows || 4, ...common,
    });
    control.value = spec.value || '';
    group.append(control);
  } else {
    control = h('input', {
      class: `ecl-text-input ecl-text-input--${spec.size || 'l'}`,
      type: spec.type || 'text', ...common,
    });
    control.value = spec.value === undefined || spec.value === null ? '' : String(spec.value);
    group.append(control);
  }
  group.traceControl = control;
  return group;
}

// a fieldset of radio buttons (ECL radio): {name, legend, options:[{value,
// label, help}], value, required, field}
export function radioGroup(spec) {
  const errorId = nextId('err');
  const fs = h('fieldset', {
    class: ['ecl-form-group', 'traces-field', 'traces-fieldset', spec.cls],
    dataset: { field: spec.field || spec.name },
    'aria-describedby': errorId,
  });
  fs.append(h('legend', { class: 'ecl-form-label' }, spec.legend,
    spec.required ? requiredMark() : null));
  if (spec.help) {
    fs.append(h('div', { class: 'ecl-help-block' }, spec.help));
  }
  fs.append(h('div', { class: 'ecl-feedback-message traces-error', id: errorId, hidden: true }));
  let first = null;
  for (const o of spec.options) {
    const id = nextId(`r-${spec.name}`);
    const helpId = o.help ? `${id}-help` : undefined;
    const input = h('input', {
      type: 'radio', class: 'ecl-radio__input', id, name: spec.name, value: o.value,
      checked: String(spec.value) === String(o.value), 'aria-describedby': helpId,
      required: spec.required,
    });
    first = first || input;
    fs.append(h('div', { class: 'ecl-radio traces-radio' },
      input,
      h('label', { class: 'ecl-radio__label', for: id },
        h('span', { class: 'ecl-radio__box' }, h('span', { class: 'ecl-radio__box-inner' })),
        h('span', { class: 'ecl-radio__text' }, o.label)),
      o.help ? h('div', { class: 'ecl-radio__help', id: helpId }, o.help) : null));
  }
  fs.traceControl = first;
  return fs;
}

export function checkbox({ id, name, label, checked, help, attrs = {} }) {
  const cid = id || nextId(`c-${name}`);
  const helpId = help ? `${cid}-help` : undefined;
  const input = h('input', {
    type: 'checkbox', class: 'ecl-checkbox__input', id: cid, name, checked,
    'aria-describedby': helpId, ...attrs,
  });
  const box = h('div', { class: 'ecl-checkbox traces-checkbox' },
    input,
    h('label', { class: 'ecl-checkbox__label', for: cid },
      h('span', { class: 'ecl-checkbox__box' }, icon('check', { size: 's', cls: 'ecl-checkbox__icon' })),
      h('span', { class: 'ecl-checkbox__text' }, label)),
    help ? h('div', { class: 'ecl-checkbox__help', id: helpId }, help) : null);
  box.traceControl = input;
  return box;
}

export function valueOf(form, name) {
  const el = form.elements.namedItem(name);
  if (!el) {
    return '';
  }
  return typeof el.value === 'string' ? el.value.trim() : el.value;
}

// ---------------------------------------------------------------------------
// errors

function controlOf(group) {
  if (group.traceControl) {
    return group.traceControl;
  }
  return group.querySelector('input:not([type=hidden]), select, textarea, button');
}

function labelOf(group) {
  const l = group.querySelector('label, legend, [data-label]');
  if (!l) {
    return '';
  }
  const text = l.dataset && l.dataset.label ? l.dataset.label : l.textContent;
  return text.replace(/\*$/, '').replace(/\s*\([^)]*\)\s*$/, '').trim();
}

export function setFieldError(group, message) {
  const err = group.querySelector(':scope > .traces-error, .traces-error');
  const control = controlOf(group);
  group.classList.add('traces-field--invalid');
  if (err) {
    clear(err);
    err.append(icon('error', { size: 's', cls: 'ecl-feedback-message__icon' }),
      h('span', { text: message }));
    err.hidden = false;
    if (control && control !== group) {
      const ids = new Set((control.getAttribute('aria-describedby') || '').split(/\s+/).filter(Boolean));
      ids.add(err.id);
      control.setAttribute('aria-describedby', [...ids].join(' '));
    }
  }
  if (control) {
    control.setAttribute('aria-invalid', 'true');
    control.classList.add(`${control.classList.contains('ecl-select') ? 'ecl-select' : 'ecl-text-input'}--invalid`);
  }
}

export function clearErrors(root) {
  root.querySelectorAll('.traces-field--invalid').forEach((g) => {
    g.classList.remove('traces-field--invalid');
  });
  root.querySelectorAll('.traces-error').forEach((e) => {
    clear(e);
    e.hidden = true;
  });
  root.querySelectorAll('[aria-invalid]').forEach((c) => {
    c.removeAttribute('aria-invalid');
    c.classList.remove('ecl-text-input--invalid', 'ecl-select--invalid');
  });
  root.querySelectorAll('.traces-error-summary').forEach((s) => s.remove());
}

function findGroup(root, field) {
  const all = root.querySelectorAll('[data-field]');
  for (const g of all) {
    if (g.dataset.field === field) {
      return g;
    }
  }
  return null;
}

// Shows each {field, message} next to its field (data-field="<path>" on the
// group; `aliases` maps other paths to one), a summary with links above
// (`summaryAt`), and moves the focus to the first faulty field. Returns the
// errors that found no field.
export function showErrors(root, errors, { summaryAt, aliases = {}, focus = true,
  fieldLabels = {} } = {}) {
  clearErrors(root);
  const shown = [];
  const orphans = [];
  for (const e of errors || []) {
    const path = String(e.field || '');
    const group = findGroup(root, aliases[path] || path)
      || findGroup(root, path.replace(/\.[^.[\]]+$/, ''))
      || findGroup(root, path.replace(/\[\d+\].*$/, ''))
      || null;
    const message = serverMessage(e.message);
    if (group) {
      setFieldError(group, message);
      shown.push({ group, message, path });
    } else {
      orphans.push({ path, message });
    }
  }
  shown.sort((a, b) => (a.group.compareDocumentPosition(b.group)
    & Node.DOCUMENT_POSITION_FOLLOWING ? -1 : 1));
  if (summaryAt && (shown.length || orphans.length)) {
    const list = h('ul', { class: 'traces-error-list' });
    for (const s of shown) {
      const c = controlOf(s.group);
      const name = fieldLabels[s.path] || labelOf(s.group);
      list.append(h('li', {}, h('a', {
        href: c && c.id ? `#${c.id}` : '#',
        class: 'ecl-link',
        on: { click: (ev) => { ev.preventDefault(); if (c) { c.focus(); } } },
      }, name ? `${name}${t('common.colon')}${s.message}` : s.message)));
    }
    for (const o of orphans) {
      const name = fieldLabels[o.path] || o.path;
      list.append(h('li', { text: name ? `${name}${t('common.colon')}${o.message}` : o.message }));
    }
    const box = notification('error', t('errors.invalid_title'), list, { closable: false });
    box.classList.add('traces-error-summary');
    summaryAt.prepend(box);
  }
  if (focus && shown.length) {
    const c = controlOf(shown[0].group);
    if (c) {
      c.focus();
    }
    return { orphans, first: c };
  }
  return { orphans, first: null };
}

// ---------------------------------------------------------------------------
// "Confirm authorisation request for ..." (guide 2.1 and 2.2)

// onSubmit({message, email, phone}) -> promise; it may throw an ApiError: a
// 422 is shown on the dialog's fields (paths message|email|phone, with or
// without a "request." prefix) unless onInvalid(err) returns true; other
// problems are shown inside the dialog.
export function requestDialog({ id, me, onSubmit, onInvalid, labels = 'operator' }) {
  const user = (me && me.user) || {};
  const msgs = h('div', { class: 'traces-dialog-messages', 'aria-live': 'polite' });
  const titleText = h('span', { class: 'traces-dialog-title' });
  const form = h('form', { class: 'traces-form traces-request-form', novalidate: true });
  form.append(
    h('p', { class: 'traces-intro', text: t('request.intro') }),
    msgs,
    field({ name: 'message', field: 'message', label: t(`request.${labels}.message`), multiline: true, rows: 3, attrs: { maxlength: '2000' } }),
    field({ name: 'email', field: 'email', label: t(`request.${labels}.email`), type: 'email', autocomplete: 'email', value: user.email || '', attrs: { maxlength: '254' } }),
    field({ name: 'phone', field: 'phone', label: t(`request.${labels}.phone`), type: 'tel', autocomplete: 'tel', value: user.phone || '', attrs: { maxlength: '32' } }),
  );
  const cancel = button(t('request.cancel'), { variant: 'secondary', attrs: { 'data-action': 'cancel' } });
  const send = button(t('request.send'), { variant: 'primary', type: 'submit', attrs: { form: `${id}-form`, 'data-action': 'send' } });
  form.id = `${id}-form`;
  const dialog = modal({ id, title: titleText, body: form, footer: [cancel, send] });
  cancel.addEventListener('click', () => closeModal(dialog));
  let busy = false;
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    if (busy) {
      return;
    }
    busy = true;
    send.disabled = true;
    form.setAttribute('aria-busy', 'true');
    clear(msgs);
    clearErrors(form);
    const values = {
      message: form.elements.message.value.trim(),
      email: form.elements.email.value.trim(),
      phone: form.elements.phone.value.trim(),
    };
    try {
      const after = await onSubmit(values);
      form.elements.message.value = '';
      closeModal(dialog, typeof after === 'function' ? after : undefined);
    } catch (err) {
      if (err && err.status === 422) {
        if (!(onInvalid && onInvalid(err))) {
          const aliases = {
            'request.message': 'message', 'request.email': 'email', 'request.phone': 'phone',
          };
          const { orphans } = showErrors(form, err.errors, { summaryAt: msgs, aliases });
          if (orphans.length && !form.querySelector('.traces-field--invalid')) {
            msgs.querySelector('.traces-notification')?.focus();
          }
        }
      } else {
        const { title, detail } = problemText(err);
        const box = notification('error', title, detail, { closable: false });
        msgs.append(box);
        box.focus();
      }
    } finally {
      busy = false;
      send.disabled = false;
      form.removeAttribute('aria-busy');
    }
  });
  return {
    dialog,
    form,
    showErrors(errors) {
      const aliases = { 'request.message': 'message', 'request.email': 'email', 'request.phone': 'phone' };
      return showErrors(form, errors, { summaryAt: msgs, aliases });
    },
    open(title, opener) {
      clear(titleText);
      titleText.append(title);
      clear(msgs);
      clearErrors(form);
      if (opener) {
        dialog.traceOpener = opener;
      }
      openModal(dialog, form.elements.message);
    },
    // after: what to do (and focus) once closed, instead of the opener
    close(after) {
      closeModal(dialog, after);
    },
  };
}
