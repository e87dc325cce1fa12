// The guide's path (seed/guide-acces-traces-coi-bio.txt) in a real browser:
// Debian's Chromium driven by playwright-core against the running stack
// (TRACES_URL), signing in through the EU Login stand-in
// (/auth/login?login_hint=<uid> signs that uid in without a form).
//
// Prints TAP (t/90-browser.t runs it under prove). Screenshots of every
// screen go to t/browser/screenshots/ (not committed).
//
//   TRACES_URL=http://127.0.0.1:20300 node t/browser/guide.test.mjs
//
// Environment: TRACES_URL (default http://127.0.0.1:18080), TRACES_CHROMIUM
// (default /usr/bin/chromium), TRACES_BROWSER_ONLY=<regexp> runs only the
// parts whose name matches, TRACES_BROWSER_SLOWMO=<ms>.

import { chromium } from 'playwright-core';
import { mkdtemp, mkdir, readFile, rm, access } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = join(HERE, '..', '..');
const BASE = (process.env.TRACES_URL || 'http://127.0.0.1:18080').replace(/\/$/, '');
const CHROMIUM = process.env.TRACES_CHROMIUM || '/usr/bin/chromium';
const SHOTS = join(HERE, 'screenshots');
const ONLY = process.env.TRACES_BROWSER_ONLY ? new RegExp(process.env.TRACES_BROWSER_ONLY) : null;
const ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];
const TIMEOUT = 15000;

// ------------------------------------------------------------------ TAP

let count = 0;
let failures = 0;

function ok(cond, name, diag) {
  count += 1;
  console.log(`${cond ? 'ok' : 'not ok'} ${count} - ${name}`);
  if (!cond) {
    failures += 1;
    if (diag) {
      for (const line of String(diag).split('\n')) {
        console.log(`#   ${line}`);
      }
    }
  }
  return Boolean(cond);
}

function is(got, want, name) {
  return ok(got === want, name, `got:      ${JSON.stringify(got)}\nexpected: ${JSON.stringify(want)}`);
}

function like(got, re, name) {
  return ok(re.test(String(got)), name, `got:      ${JSON.stringify(got)}\nexpected to match ${re}`);
}

function note(msg) {
  console.log(`# ${msg}`);
}

// ------------------------------------------------------------------ i18n

const dict = {
  fr: JSON.parse(await readFile(join(ROOT, 'html/i18n/fr.json'), 'utf8')),
  en: JSON.parse(await readFile(join(ROOT, 'html/i18n/en.json'), 'utf8')),
};

function tr(lang, key, vars) {
  let v = key.split('.').reduce((o, k) => (o ? o[k] : undefined), dict[lang]);
  if (typeof v !== 'string') {
    throw new Error(`no ${key} in ${lang}.json`);
  }
  for (const [k, x] of Object.entries(vars || {})) {
    v = v.replaceAll(`{${k}}`, String(x));
  }
  return v;
}

function countsText(lang, c) {
  return ['deleted', 'requested', 'suspended', 'valid']
    .map((s) => `${c[s] || 0} ${tr(lang, `status.role.${s}`)}`).join(' ');
}

function flatKeys(o, p = '') {
  return Object.entries(o).flatMap(([k, v]) => (
    v && typeof v === 'object' && !Array.isArray(v) ? flatKeys(v, p ? `${p}.${k}` : k) : [p ? `${p}.${k}` : k]));
}

function escapeRe(s) {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

// ------------------------------------------------------------------ browser

let shotNo = 0;
const actors = [];

function rand() {
  return `${Date.now() % 1e8}${Math.floor(Math.random() * 1000)}`;
}

async function actor(uid, lang, { storeLang = true } = {}) {
  const dir = await mkdtemp(join(tmpdir(), 'traces-browser-'));
  const context = await chromium.launchPersistentContext(dir, {
    executablePath: CHROMIUM,
    headless: true,
    args: ARGS,
    viewport: { width: 1280, height: 900 },
    locale: lang === 'fr' ? 'fr-FR' : 'en-GB',
    timezoneId: 'Europe/Paris',
    slowMo: Number(process.env.TRACES_BROWSER_SLOWMO || 0),
  });
  context.setDefaultTimeout(TIMEOUT);
  const a = { uid, lang, dir, context, problems: [], expected: new Set() };
  // nothing leaves the machine: only the stack and the EU Login stand-in
  await context.route((url) => !/^https?:\/\/(127\.0\.0\.1|localhost)(:\d+)?\//.test(url.href),
    (route) => route.abort());
  if (storeLang) {
    await context.addInitScript((l) => {
      try {
        window.localStorage.setItem('traces.lang', l);
      } catch (e) {
        // the stand-in's pages
      }
    }, lang);
  }
  a.page = context.pages()[0] || await context.newPage();
  const page = a.page;
  page.on('pageerror', (e) => a.problems.push(`uncaught exception: ${e.message}`));
  page.on('console', (m) => {
    const text = m.text();
    if (/Content Security Policy|Refused to (load|execute|apply)/i.test(text)) {
      a.problems.push(`CSP: ${text}`);
    } else if (/^i18n:/.test(text)) {
      a.problems.push(`translation: ${text}`);
    }
  });
  page.on('response', (res) => {
    const url = res.url();
    if (!url.startsWith(BASE)) {
      return;
    }
    const path = url.slice(BASE.length);
    const st = res.status();
    if (st >= 500 && !a.expected.has(st)) {
      a.problems.push(`${st} for ${path}`);
    } else if (st === 404 && !path.startsWith('/api/')) {
      a.problems.push(`404 for ${path}`);
    }
  });
  actors.push(a);
  return a;
}

async function closeActor(a) {
  const i = actors.indexOf(a);
  if (i >= 0) {
    actors.splice(i, 1);
  }
  await a.context.close().catch(() => {});
  await rm(a.dir, { recursive: true, force: true }).catch(() => {});
}

// the real sign-in: /auth/login -> EU Login stand-in -> /auth/callback -> return_to
async function signIn(a, returnTo = '/app/') {
  await a.page.goto(`${BASE}/auth/login?login_hint=${encodeURIComponent(a.uid)}&return_to=${encodeURIComponent(returnTo)}`);
  await a.page.waitForURL((u) => u.href.startsWith(BASE + returnTo.split('?')[0]), { timeout: TIMEOUT });
  await ready(a);
}

async function ready(a) {
  await a.page.waitForSelector('body.traces-ready, #messages .traces-notification', { timeout: TIMEOUT });
}

// a list may hold many more requests than one page (the whole suite runs
// before this test): follow "next" until what is looked for shows up
async function findOnPages(a, container, wanted, pages = 40) {
  for (let i = 0; i < pages; i++) {
    await a.page.locator(`${container} .traces-count`).first().waitFor();
    if (await a.page.locator(`${container} ${wanted}`).count() > 0) {
      return true;
    }
    const next = a.page.locator(`${container} [data-next]`);
    if (await next.count() === 0) {
      return false;
    }
    await next.first().click();
    await a.page.waitForFunction((c) => document.querySelector(`${c} .traces-count`)
      && !document.querySelector(`${c} .traces-loading`), container);
  }
  return false;
}

async function go(a, path) {
  await a.page.goto(BASE + path);
  await ready(a);
}

async function shot(a, name) {
  shotNo += 1;
  const file = join(SHOTS, `${String(shotNo).padStart(2, '0')}-${a.lang}-${name}.png`);
  // a modal dialog is fixed on the viewport: no full page then
  const fullPage = !(await a.page.locator('dialog[open]').count());
  await a.page.screenshot({ path: file, fullPage }).catch((e) => note(`screenshot ${name}: ${e.message}`));
}

function clean(a, name) {
  ok(a.problems.length === 0, `${name}: no CSP violation, script error, missing translation or missing file`, a.problems.join('\n'));
  a.problems.length = 0;
}

async function text(a, selector) {
  return (await a.page.locator(selector).first().innerText()).replace(/\s+/g, ' ').trim();
}

async function successMessage(a) {
  const box = a.page.locator('#messages .traces-notification[data-kind="success"]');
  await box.waitFor();
  return (await box.innerText()).replace(/\s+/g, ' ');
}

// every form control and button has an accessible name, one h1, lang set,
// images have alt, and text meets WCAG 2.1 AA contrast
async function a11y(a, name) {
  const problems = await a.page.evaluate(() => {
    const out = [];
    const visible = (el) => el.getClientRects().length > 0 || el.closest('.traces-sr-only, .ecl-checkbox, .ecl-radio');
    for (const el of document.querySelectorAll('input:not([type=hidden]), select, textarea')) {
      if (!visible(el) || el.closest('dialog:not([open])')) {
        continue;
      }
      const named = (el.labels && el.labels.length && [...el.labels].some((l) => l.textContent.trim()))
        || el.getAttribute('aria-label') || el.getAttribute('aria-labelledby') || el.title;
      if (!named) {
        out.push(`no label: ${el.outerHTML.slice(0, 120)}`);
      }
    }
    for (const el of document.querySelectorAll('button, a[href]')) {
      if (!el.getClientRects().length) {
        continue;
      }
      if (!(el.textContent.trim() || el.getAttribute('aria-label') || el.getAttribute('title'))) {
        out.push(`no name: ${el.outerHTML.slice(0, 120)}`);
      }
    }
    for (const img of document.querySelectorAll('img')) {
      if (!img.hasAttribute('alt')) {
        out.push(`no alt: ${img.outerHTML.slice(0, 120)}`);
      }
    }
    if (document.querySelectorAll('h1').length !== 1) {
      out.push(`${document.querySelectorAll('h1').length} h1 elements`);
    }
    if (!/^(fr|en)$/.test(document.documentElement.lang)) {
      out.push(`html lang="${document.documentElement.lang}"`);
    }
    // contrast of every visible text node's element against its background
    const rgb = (s) => {
      const m = s.match(/rgba?\(([^)]+)\)/);
      if (!m) {
        return null;
      }
      const p = m[1].split(/[ ,/]+/).filter(Boolean).map(Number);
      return { r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1 };
    };
    const lum = (c) => {
      const f = (v) => { const x = v / 255; return x <= 0.03928 ? x / 12.92 : ((x + 0.055) / 1.055) ** 2.4; };
      return 0.2126 * f(c.r) + 0.7152 * f(c.g) + 0.0722 * f(c.b);
    };
    const background = (el) => {
      for (let e = el; e; e = e.parentElement) {
        const cs = getComputedStyle(e);
        if (cs.backgroundImage && cs.backgroundImage !== 'none' && !e.matches('.ecl-site-header__background, .ecl-select, select')) {
          return null;       // an image: not measured
        }
        const c = rgb(cs.backgroundColor);
        if (c && c.a >= 0.99) {
          return c;
        }
      }
      return { r: 255, g: 255, b: 255, a: 1 };
    };
    const seen = new Set();
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    for (let n = walker.nextNode(); n; n = walker.nextNode()) {
      const el = n.parentElement;
      if (!n.textContent.trim() || !el || seen.has(el) || !el.getClientRects().length) {
        continue;
      }
      seen.add(el);
      if (el.closest('.traces-sr-only, [hidden], dialog:not([open]), option, noscript, script, style, [aria-disabled="true"], :disabled, .ecl-checkbox--disabled')) {
        continue;
      }
      const cs = getComputedStyle(el);
      if (cs.visibility === 'hidden' || Number(cs.opacity) < 0.5) {
        continue;
      }
      const fg = rgb(cs.color);
      const bg = background(el);
      if (!fg || !bg) {
        continue;
      }
      const l1 = lum(fg);
      const l2 = lum(bg);
      const ratio = (Math.max(l1, l2) + 0.05) / (Math.min(l1, l2) + 0.05);
      const size = parseFloat(cs.fontSize);
      const large = size >= 24 || (size >= 18.66 && Number(cs.fontWeight) >= 700);
      if (ratio < (large ? 3 : 4.5) - 0.01) {
        out.push(`contrast ${ratio.toFixed(2)} (${cs.color} on rgb(${bg.r}, ${bg.g}, ${bg.b})): "${n.textContent.trim().slice(0, 40)}"`);
      }
    }
    return out;
  });
  ok(problems.length === 0, `${name}: labels, names, one h1, lang, AA contrast`, problems.slice(0, 12).join('\n'));
}

// ------------------------------------------------------------------ steps

const state = {};

async function part(name, fn) {
  if (ONLY && !ONLY.test(name)) {
    return;
  }
  note(`--- ${name}`);
  try {
    await fn();
  } catch (e) {
    ok(false, `${name}: ran to the end`, e && e.stack ? e.stack : String(e));
    for (const a of actors) {
      await shot(a, `failure-${name.replace(/[^a-z0-9]+/gi, '-')}`);
    }
  }
}

// the welcome page, language switch, default language from the browser
async function welcome() {
  for (const lang of ['fr', 'en']) {
    const a = await actor('-', lang, { storeLang: false });
    await go(a, '/');
    is(await text(a, 'h1'), tr(lang, 'welcome.title'), `welcome (${lang}): "${tr(lang, 'welcome.title')}", language from navigator.language`);
    is(await text(a, '#login'), tr(lang, 'welcome.login'), `welcome (${lang}): the login button`);
    is(await a.page.getAttribute('#login', 'href'), '/auth/login?return_to=/app/', 'welcome: the button goes to /auth/login?return_to=/app/');
    is(await a.page.getAttribute('#signup', 'href'), 'https://ecas.ec.europa.eu/cas/eim/external/register.cgi', 'welcome: sign up on EU Login');
    is(await text(a, '#signup'), tr(lang, 'welcome.signup'), `welcome (${lang}): sign-up link text`);
    ok(await a.page.locator('#reset-password').count() === 1, 'welcome: reset password link');
    is(await text(a, '#how-to'), tr(lang, 'welcome.how_to'), `welcome (${lang}): how to create an EU Login account`);
    ok(await a.page.locator('#documentation').count() === 1 && await a.page.locator('#contacts').count() === 1, 'welcome: documentation and contacts links');
    await a11y(a, `welcome (${lang})`);
    // keyboard: the skip link first, then the focus is visible on the button
    await a.page.keyboard.press('Tab');
    ok(await a.page.evaluate(() => document.activeElement?.classList.contains('traces-skip')), `welcome (${lang}): Tab first reaches "skip to main content"`);
    for (let i = 0; i < 15 && !(await a.page.evaluate(() => document.activeElement?.id === 'login')); i += 1) {
      await a.page.keyboard.press('Tab');
    }
    const outline = await a.page.evaluate(() => {
      const cs = getComputedStyle(document.activeElement);
      return { id: document.activeElement.id, style: cs.outlineStyle, width: parseFloat(cs.outlineWidth) };
    });
    ok(outline.id === 'login' && outline.style !== 'none' && outline.width >= 2, `welcome (${lang}): the login button is reached by keyboard, with a visible focus`, JSON.stringify(outline));
    await shot(a, 'welcome');
    // switch to the other language; it is remembered
    const other = lang === 'fr' ? 'en' : 'fr';
    await a.page.click(`.traces-lang button[data-lang="${other}"]`);
    await a.page.waitForFunction((l) => document.documentElement.lang === l && document.body.classList.contains('traces-ready'), other);
    is(await text(a, 'h1'), tr(other, 'welcome.title'), `welcome: the ${other.toUpperCase()} switch translates the page`);
    await a.page.reload();
    await ready(a);
    is(await text(a, 'h1'), tr(other, 'welcome.title'), 'welcome: the chosen language is remembered (localStorage)');
    is(await a.page.getAttribute(`.traces-lang button[data-lang="${other}"]`, 'aria-pressed'), 'true', 'welcome: the switch says which language is on');
    if (lang === 'fr') {
      await go(a, '/contacts');
      const body = await text(a, '#content');
      ok(body.includes('traces.inao@inao.gouv.fr') && body.includes('Bureau-4B-Traces@dgccrf.finances.gouv.fr'), 'contacts: INAO and DGCCRF addresses');
      is(await a.page.getAttribute('#mail-inao', 'href'), 'mailto:traces.inao@inao.gouv.fr', 'contacts: INAO mail link');
      await shot(a, 'contacts');
      await go(a, '/documentation#eu-login');
      ok(await a.page.locator('#eu-login h2').count() === 1, 'documentation: the EU Login account section');
      await shot(a, 'documentation');
      await a11y(a, 'documentation');
    }
    clean(a, `welcome (${lang})`);
    await closeActor(a);
  }
}

// create a new operator (importer) through the guide's form; the first try
// has no EORI (and then a bad one), the problem is shown next to the field
async function createOperator(lang, label) {
  const uid = `op${label}.${rand()}`;
  const a = await actor(uid, lang);
  await signIn(a, '/app/');
  ok(await a.page.locator('#choose-operator').isVisible(), `${label} (${lang}): after sign-in without a role, choose the role`);
  like(await text(a, '#choose-operator'), new RegExp(escapeRe(tr(lang, 'home.operator'))), `${label}: "${tr(lang, 'home.operator')}" choice`);
  like(await text(a, '#choose-control-body'), new RegExp(escapeRe(tr(lang, 'home.control_body'))), `${label}: "${tr(lang, 'home.control_body')}" choice`);
  is(await text(a, '#application-access'), tr(lang, 'profile.access_none'), `${label}: application access: none`);
  await a11y(a, `${label} home`);
  await shot(a, 'choose-role');

  await a.page.click('#choose-operator');
  await a.page.waitForURL(`${BASE}/app/operator`);
  await ready(a);
  await a.page.locator('#operators').waitFor();
  ok(await a.page.locator('#operators tbody tr').count() > 0, `${label}: the operator search lists the registered operators`);
  await a.page.selectOption('#content select[name="activity"]', 'organic_importer');
  await a.page.selectOption('#content select[name="country"]', 'FR');
  await a.page.click('#operator-search');
  await a.page.waitForFunction(() => !document.querySelector('#results .traces-loading'));
  ok(await a.page.locator('#operators tbody tr').count() > 0, `${label}: search by country and activity`);
  await a11y(a, `${label} operator search`);
  await shot(a, 'operator-search');

  await a.page.click('#create-operator');
  await a.page.waitForURL(`${BASE}/app/operator-new`);
  await ready(a);
  const name = `Bio Import ${label} ${rand()} SAS`;
  const form = a.page.locator('#operator-form');
  await form.locator('input[name="name"]').fill(name);
  await form.locator('input[name="region"]').fill('Normandie');
  await form.locator('input[name="postcode"]').fill('76600');
  await form.locator('input[name="city"]').fill('Le Havre');
  await form.locator('input[name="address"]').fill('12 quai de Southampton');
  await form.locator('input[name="latitude"]').fill('49.4944');
  await form.locator('input[name="longitude"]').fill('0.1079');
  await form.locator('input[name="phone"]').fill('+33 2 35 00 00 00');
  await form.locator('input[name="email"]').fill(`${uid}@example.eu`);
  await form.locator('input[name="web_url"]').fill('https://bio-import.example.fr');
  await form.locator('input[name="activity"][value="organic_importer"]').check({ force: true });
  await a.page.waitForFunction(() => [...document.querySelectorAll('select[name="control_body_id"] option')].some((o) => /FR-BIO-01/.test(o.textContent)));
  const cb = await a.page.$eval('select[name="control_body_id"]', (s) => [...s.options].find((o) => /FR-BIO-01/.test(o.textContent)).value);
  await a.page.selectOption('select[name="control_body_id"]', cb);
  await form.locator('input[name="act_identifier"]').fill('FR-BIO-01-77123');
  await form.locator('input[name="valid_from"]').fill('2026-01-01');
  await form.locator('input[name="valid_until"]').fill('2028-12-31');
  await form.locator('input[name="publication_date"]').fill('2026-01-02');
  await form.locator('input[name="application_date"]').fill('2026-01-01');
  await form.locator('textarea[name="remarks"]').fill('Importateur certifié, pays tiers');
  await a11y(a, `${label} new operator form`);
  await shot(a, 'new-operator-form');

  const send = async () => {
    await a.page.click('#create-top');
    const dialog = a.page.locator('#confirm-dialog');
    await dialog.waitFor({ state: 'visible' });
    return dialog;
  };
  let dialog = await send();
  is(await text(a, '#confirm-dialog .ecl-modal__header-content'), tr(lang, 'operator_new.confirm_title'), `${label}: "${tr(lang, 'operator_new.confirm_title')}"`);
  ok(await a.page.evaluate(() => document.activeElement && document.activeElement.closest('dialog[open]') !== null), `${label}: the focus moves into the dialog`);
  await dialog.locator('textarea[name="message"]').fill('Operator n. 11111');
  is(await dialog.locator('input[name="email"]').inputValue(), `${uid}@example.eu`, `${label}: the dialog's e-mail is the user's`);
  await dialog.locator('input[name="phone"]').fill('+32 4567898');
  await a11y(a, `${label} confirmation dialog`);
  await shot(a, 'confirm-dialog');
  await dialog.locator('button[data-action="send"]').click();

  // 422: an importer without EORI
  const idsError = a.page.locator('[data-field="identifiers"] > .traces-error');
  await idsError.waitFor({ state: 'visible' });
  await dialog.waitFor({ state: 'hidden' });
  like(await idsError.innerText(), /EORI/, `${label}: the EORI error is shown next to the identifiers`);
  is(await idsError.innerText().then((s) => s.trim()), tr(lang, 'server_messages.an organic importer must give its EORI number'), `${label}: in ${lang}`);
  ok(await a.page.evaluate(() => document.activeElement && document.activeElement.closest('[data-field="identifiers"]') !== null), `${label}: the focus moves to the first error`);
  ok(await a.page.locator('#form-messages .traces-error-summary').isVisible(), `${label}: and an error summary lists it`);
  await shot(a, 'eori-missing');

  // a bad EORI: the error is next to its row
  await a.page.keyboard.press('Enter');       // the focus is on "Add an identifier"
  await a.page.locator('#identifiers-table tbody tr').first().waitFor();
  is(await a.page.locator('#identifiers-table select').first().inputValue(), 'eori', `${label}: the new identifier row is an EORI`);
  await a.page.locator('#identifiers-table input').first().fill('FR123');
  dialog = await send();
  await dialog.locator('button[data-action="send"]').click();
  const rowError = a.page.locator('[data-field="identifiers[0].value"] .traces-error');
  await rowError.waitFor({ state: 'visible' });
  like(await rowError.innerText(), /EORI/, `${label}: a bad EORI is shown next to its value`);
  ok(await a.page.evaluate(() => document.activeElement && document.activeElement.matches('[data-field="identifiers[0].value"] input')), `${label}: the focus is on that value`);
  await shot(a, 'eori-invalid');

  // fixed: FR + SIRET
  const siret = `${Math.floor(1e13 + Math.random() * 8e13)}`;
  await a.page.locator('#identifiers-table input').first().fill(`FR${siret}`);
  dialog = await send();
  await dialog.locator('button[data-action="send"]').click();
  const msg = await successMessage(a);
  ok(msg.includes(name), `${label}: green message after "Send authorisation request"`, msg);
  ok(await a.page.locator('#done').isVisible(), `${label}: the operator is created (status new)`);
  is(await text(a, '#created-name'), name, `${label}: with its name`);
  await shot(a, 'operator-created');

  await go(a, '/app/profile');
  is(await text(a, '#role-counts'), countsText(lang, { requested: 1 }), `${label}: profile counts "${countsText(lang, { requested: 1 })}"`);
  is(await text(a, '#application-access'), tr(lang, 'profile.access_none'), `${label}: profile: "${tr(lang, 'profile.access_none')}"`);
  const pending = await text(a, '#pending-roles');
  ok(pending.includes(name) && pending.includes(tr(lang, 'status.role.requested')) && pending.includes(tr(lang, 'roles.pending')),
    `${label}: the pending request is shown as such`, pending);
  await a11y(a, `${label} profile`);
  await shot(a, 'profile-requested');
  // phone and fax: PATCH /api/me; a bad one is shown next to its field
  await a.page.fill('#contact-form input[name="fax"]', 'fax?');
  await a.page.click('#save-contact');
  await a.page.locator('#contact-form [data-field="fax"] .traces-error').waitFor({ state: 'visible' });
  ok(await a.page.evaluate(() => document.activeElement?.name === 'fax'), `${label}: profile: a bad fax number is shown, focus on it`);
  await a.page.fill('#contact-form input[name="phone"]', '+33 2 35 11 22 33');
  await a.page.fill('#contact-form input[name="fax"]', '+33 2 35 11 22 34');
  await a.page.click('#save-contact');
  like(await successMessage(a), new RegExp(escapeRe(tr(lang, 'profile.saved_title'))), `${label}: profile: phone and fax saved`);
  await a.page.reload();
  await ready(a);
  is(await a.page.inputValue('#contact-form input[name="phone"]'), '+33 2 35 11 22 33', `${label}: profile: the phone is kept`);

  // no certificate yet: the page says why
  await go(a, '/app/certificates');
  await a.page.locator('#results .traces-notification, #results .traces-empty').first().waitFor();
  like(await text(a, '#results'), new RegExp(escapeRe(tr(lang, 'certificates.no_access_title'))), `${label}: certificates before validation: no access yet`);
  clean(a, label);
  return { a, uid, name };
}

// Organisations > Users: search pending requests, open the user, decide
async function decide(a, uid, { status = 'valid', label }) {
  const lang = a.lang;
  await go(a, '/app/users');
  ok(await a.page.locator('#menu a[data-page="users"]').count() === 1, `${label}: Organisations > Users is in the menu`);
  await a.page.click('#search-pending');
  await findOnPages(a, '#results', `a[data-uid="${uid}"]`);
  const link = a.page.locator(`#requests a[data-uid="${uid}"]`);
  await link.first().waitFor();
  const row = a.page.locator('#requests tbody tr').filter({ has: a.page.locator(`a[data-uid="${uid}"]`) });
  const cells = (await row.first().innerText()).replace(/\s+/g, ' ');
  ok(cells.split(tr(lang, 'status.role.requested')).length >= 3, `${label}: the list shows the request's status and the user's general status`, cells);
  await a11y(a, `${label} users`);
  await shot(a, 'users-pending');
  await link.first().click();
  await a.page.waitForURL(/\/app\/user\?id=\d+/);
  await ready(a);
  await a.page.locator('#roles').waitFor();
  like(await text(a, 'h1'), new RegExp(`${escapeRe(tr(lang, 'manage.title', { name: '', uid: '' }).trim().split(' ')[0])}.*${escapeRe(uid)}`), `${label}: "${tr(lang, 'manage.title_short')}" page of the user`);
  const details = await text(a, '#user-details');
  for (const k of ['uid', 'domain', 'given_name', 'family_name', 'email', 'phone', 'fax', 'access']) {
    if (!details.includes(tr(lang, `user.${k}`))) {
      ok(false, `${label}: user details show ${k}`, details);
    }
  }
  ok(details.includes(uid) && details.includes(tr(lang, 'user.domain_external')), `${label}: user details (user name, domain, names, e-mail, phone, fax, access)`);
  const card = a.page.locator('.traces-role[data-status="requested"]').filter({ has: a.page.locator('.traces-decision input[type=radio]') }).first();
  await card.locator(`input[type=radio][value="${status}"]`).check({ force: true });
  await a11y(a, `${label} user page`);
  await shot(a, 'user-decide');
  await a.page.click('#save-changes');
  const msg = await successMessage(a);
  ok(msg.includes(tr(lang, 'manage.saved_title')), `${label}: "${tr(lang, 'manage.saved_title')}"`, msg);
  await a.page.waitForFunction((want) => document.querySelector('#role-counts')?.textContent.trim() === want,
    countsText(lang, { [status]: 1 }));
  is(await text(a, '#role-counts'), countsText(lang, { [status]: 1 }), `${label}: counts now "${countsText(lang, { [status]: 1 })}"`);
  await shot(a, 'user-decided');
}

async function inaoValidates(lang, created, label) {
  const inao = await actor('inao.agent', lang);
  await signIn(inao, '/app/queue');
  await inao.page.locator('#new-operators, #queue-new-operators .traces-empty').first().waitFor();
  await findOnPages(inao, '#queue-new-operators', `a[data-uid="${created.uid}"]`);
  const queue = await text(inao, '#queue-new-operators');
  ok(queue.includes(created.uid) && queue.includes(created.name), `${label}: the INAO queue lists the new operator`, queue.slice(0, 400));
  await shot(inao, 'inao-queue');
  await decide(inao, created.uid, { label: `${label} INAO` });
  const admin = await inao.page.locator('.traces-role[data-status="valid"] .traces-badge--admin-yes').count();
  ok(admin === 1, `${label}: the first requester is now administrator`);
  clean(inao, `${label} INAO`);
  await closeActor(inao);

  // the user now sees its operator's certificates (none yet)
  const a = created.a;
  await go(a, '/app/certificates');
  await a.page.locator('#certificates-empty, #certificates').first().waitFor();
  ok(await a.page.locator('#certificates-empty').isVisible(), `${label}: the certificates page renders and says there is none`);
  is(await text(a, '#certificates-empty'), tr(lang, 'certificates.none'), `${label}: "${tr(lang, 'certificates.none')}"`);
  await a11y(a, `${label} certificates`);
  await shot(a, 'certificates-none');
  await go(a, '/app/profile');
  is(await text(a, '#application-access'), tr(lang, 'profile.access_granted'), `${label}: application access granted`);
  is(await text(a, '#role-counts'), countsText(lang, { valid: 1 }), `${label}: profile counts after validation`);
  clean(a, `${label} after validation`);
}

// a second user asks for the same operator; its administrator validates
async function secondUser(lang, created) {
  const v = await actor(`second.${rand()}`, lang);
  await signIn(v, '/app/');
  await v.page.click('#choose-operator');
  await v.page.waitForURL(`${BASE}/app/operator`);
  await ready(v);
  await v.page.fill('#content input[name="name"]', created.name);
  await v.page.press('#content input[name="name"]', 'Enter');
  const radio = v.page.locator('#operators input[type=radio]');
  await v.page.waitForFunction(() => document.querySelectorAll('#operators tbody tr').length === 1);
  like(await text(v, '#operators tbody'), new RegExp(escapeRe(created.name)), 'second user: finds the new operator by name');
  // keyboard only: select, request, fill, send
  await radio.first().focus();
  await v.page.keyboard.press('Space');
  like(await text(v, '#selected-operator'), new RegExp(escapeRe(created.name)), 'second user: selected with the keyboard');
  await v.page.focus('#request-authorisation');
  await v.page.keyboard.press('Enter');
  const dialog = v.page.locator('#request-dialog');
  await dialog.waitFor({ state: 'visible' });
  is(await text(v, '#request-dialog .ecl-modal__header-content'), tr(lang, 'request.title', { name: created.name }), 'second user: "Confirm authorisation request for <operator>"');
  ok(await v.page.evaluate(() => document.activeElement?.name === 'message'), 'second user: focus on the message');
  await v.page.keyboard.type('Service import, achats');
  await dialog.locator('input[name="phone"]').fill('+33 1 23 45 67 89');
  await dialog.locator('input[name="email"]').fill('not an e-mail');
  await dialog.locator('button[data-action="send"]').click();
  await dialog.locator('[data-field="email"] .traces-error').waitFor({ state: 'visible' });
  ok(await v.page.evaluate(() => document.activeElement?.name === 'email'), 'second user: a bad e-mail is shown in the dialog, focus on it');
  await dialog.locator('input[name="email"]').fill(`${v.uid}@example.eu`);
  await shot(v, 'request-dialog');
  await dialog.locator('input[name="email"]').press('Enter');
  const msg = await successMessage(v);
  ok(msg.includes(created.name), 'second user: green message after the request', msg);
  await dialog.waitFor({ state: 'hidden' });
  await shot(v, 'request-sent');
  // the same request again: 409, shown in the dialog
  await v.page.click('#request-authorisation');
  await dialog.waitFor({ state: 'visible' });
  await dialog.locator('button[data-action="send"]').click();
  const conflict = dialog.locator('.traces-dialog-messages .traces-notification[data-kind="error"]');
  await conflict.waitFor();
  like(await conflict.innerText(), new RegExp(escapeRe(tr(lang, 'errors.conflict_title'))), 'second user: a second request for the same operator is refused (409) with its detail');
  await shot(v, 'request-conflict');
  await v.page.keyboard.press('Escape');
  await dialog.waitFor({ state: 'hidden' });
  clean(v, 'second user');

  // the first user, administrator, validates it
  await decide(created.a, v.uid, { label: 'administrator' });
  // ...and may not suspend itself, the last administrator: 409 with its detail
  const a = created.a;
  const self = await a.page.evaluate(() => fetch('/api/me').then((r) => r.json()).then((d) => d.user.id));
  await go(a, `/app/user?id=${self}`);
  await a.page.locator('#roles').waitFor();
  await a.page.locator('.traces-role[data-status="valid"] input[type=radio][value="suspended"]').first().check({ force: true });
  await a.page.click('#save-changes');
  const err = a.page.locator('#messages .traces-notification[data-kind="error"]');
  await err.waitFor();
  const errText = (await err.innerText()).replace(/\s+/g, ' ');
  ok(errText.includes(tr(a.lang, 'errors.conflict_title')) && errText.length > tr(a.lang, 'errors.conflict_title').length + 10,
    'administrator: suspending the last administrator is refused (409), the problem\'s detail is shown', errText);
  ok(await a.page.locator('.traces-decision__result .traces-notification').count() === 1, 'administrator: and next to the role');
  await shot(a, 'conflict-409');
  await a.page.click('#cancel-changes');
  is(await a.page.locator('.traces-role[data-status="valid"] input[type=radio][value="valid"]').first().isChecked(), true, 'administrator: "Annuler" puts the choices back');
  clean(created.a, 'administrator');
  await go(v, '/app/certificates');
  await v.page.locator('#certificates-empty, #certificates').first().waitFor();
  ok(await v.page.locator('#certificates-empty').isVisible(), 'second user: validated by the administrator, sees the certificates page');
  await closeActor(v);
}

// a control body working in several countries
async function controlBody(lang) {
  const w = await actor(`ocb.${rand()}`, lang);
  await signIn(w, '/app/');
  await w.page.click('#choose-control-body');
  await w.page.waitForURL(`${BASE}/app/control-body`);
  await ready(w);
  await w.page.fill('#content input[name="name"]', 'Control Union');
  await w.page.click('#control-body-search');
  await w.page.locator('#control-bodies input[data-code="AE-BIO-149"]').waitFor({ state: 'attached' });
  const head = await text(w, '#control-bodies thead');
  ok(['col_name', 'col_address', 'col_categories', 'col_code'].every((k) => head.includes(tr(lang, `control_body.${k}`))), 'control body: the table has name, address, product categories, code');
  const row = await text(w, '#control-bodies tbody tr');
  ok(['A', 'B', 'C', 'D', 'E', 'F'].every((c) => row.includes(tr(lang, `categories.${c}`))), 'control body: categories A-F with their names', row);
  for (const code of ['AE-BIO-149', 'AF-BIO-149', 'AL-BIO-149']) {
    await w.page.locator(`#control-bodies input[data-code="${code}"]`).check({ force: true });
  }
  like(await text(w, '#selection-count'), /3/, 'control body: three entries selected');
  await a11y(w, 'control body search');
  await shot(w, 'control-body-selected');
  await w.page.click('#request-authorisation');
  const dialog = w.page.locator('#request-dialog');
  await dialog.waitFor({ state: 'visible' });
  like(await text(w, '#request-dialog .ecl-modal__header-content'), /AE-BIO-149.*AF-BIO-149.*AL-BIO-149/, 'control body: the dialog names the entries');
  await dialog.locator('textarea[name="message"]').fill('Test demonstration');
  await dialog.locator('input[name="email"]').fill('name@domain.com');
  await dialog.locator('input[name="phone"]').fill('+32 02 123456');
  await shot(w, 'control-body-dialog');
  await dialog.locator('button[data-action="send"]').click();
  const msg = await successMessage(w);
  ok(/AE-BIO-149/.test(msg) && /AL-BIO-149/.test(msg), 'control body: green message, one request per entry', msg);
  await shot(w, 'control-body-sent');
  await go(w, '/app/profile');
  is(await text(w, '#role-counts'), countsText(lang, { requested: 3 }), 'control body: the profile shows 3 requested roles');
  await shot(w, 'control-body-profile');
  clean(w, 'control body');
  await closeActor(w);
}

// the forwarder (responsible for the load) reads certificates, changes none
async function forwarder(lang) {
  const f = await actor('forwarder.lehavre', lang);
  await signIn(f, '/app/certificates');
  await f.page.locator('#certificates').waitFor();
  const rows = await f.page.locator('#certificates tbody tr').count();
  ok(rows > 0, `forwarder: sees certificates (${rows} on the first page)`);
  const poes = await f.page.$$eval('#certificates tbody tr td.traces-col-poe', (tds) => tds.map((td) => td.textContent));
  ok(poes.every((p) => /FRLEH4/.test(p)), 'forwarder: only through its point of entry (Le Havre)', poes.join(' | '));
  const editRe = /modifier|éditer|edit|supprimer|delete|enregistrer|save|valider|validate|créer|create/i;
  const controls = async () => f.page.$$eval('#content button, #content a, #content input[type=submit]',
    (els) => els.map((e) => e.textContent.trim()));
  ok(!(await controls()).some((s) => editRe.test(s)), 'forwarder: no edit control on the list', (await controls()).join(' | '));
  if (await f.page.locator('#next-page').count()) {
    await f.page.click('#next-page');
    await f.page.locator('#first-page').waitFor();
    ok(await f.page.locator('#certificates tbody tr').count() > 0, 'forwarder: "next" page');
  }
  await a11y(f, 'forwarder certificates');
  await shot(f, 'certificates');
  // filters: the reference of one certificate
  const ref = await text(f, '#certificates tbody tr td:first-child a');
  await f.page.fill('#content input[name="q"]', ref);
  await f.page.click('#certificates-search');
  await f.page.waitForFunction((r) => {
    const rows = document.querySelectorAll('#certificates tbody tr');
    return rows.length === 1 && rows[0].textContent.includes(r);
  }, ref);
  ok(true, 'forwarder: search by reference');
  await f.page.click(`#certificates a:text("${ref}")`);
  await f.page.waitForURL(/\/app\/certificate\?id=\d+/);
  await ready(f);
  await f.page.locator('#part-1').waitFor();
  const boxes = await f.page.$$eval('[data-box]', (els) => els.map((e) => e.dataset.box));
  is(boxes.join(','), Array.from({ length: 18 }, (_, i) => i + 1).join(','), 'certificate: boxes 1 to 18 of part I');
  ok(await f.page.locator('#product-lines tbody tr').count() > 0, 'certificate: box 13 product lines');
  ok(await f.page.locator('#part-2').isVisible() && await f.page.locator('#status-history tbody tr').count() > 0, 'certificate: part II and status history');
  like(await text(f, '#part-1 [data-box="10"]'), /FRLEH4|Le Havre/, 'certificate: box 10 is Le Havre');
  ok(await f.page.locator('#content input, #content select, #content textarea, #content form').count() === 0, 'certificate: no form control at all');
  ok(!(await controls()).some((s) => editRe.test(s)), 'certificate: no edit control', (await controls()).join(' | '));
  await a11y(f, 'certificate');
  await shot(f, 'certificate');
  clean(f, 'forwarder');
  await closeActor(f);
}

// the Commission assigns "responsible for the load"
async function commission(lang) {
  const x = `forwarder.${rand()}`;
  const fresh = await actor(x, lang);
  await signIn(fresh, '/app/');       // the EU Login identity exists in TRACES
  const c = await actor('commission.agent', lang);
  await signIn(c, '/app/load');
  ok(await c.page.locator('#menu a[data-page="load"]').count() === 1, 'commission: the menu has "responsible for the load"');
  await c.page.fill('#load-form input[name="user"]', x);
  await c.page.waitForFunction(() => [...document.querySelectorAll('#load-form select[name="point_of_entry"] option')].some((o) => /FRDKK4/.test(o.textContent)));
  const dkk = await c.page.$eval('#load-form select[name="point_of_entry"]', (s) => [...s.options].find((o) => /FRDKK4/.test(o.textContent)).value);
  await c.page.selectOption('#load-form select[name="point_of_entry"]', dkk);
  await a11y(c, 'commission load form');
  await c.page.click('#assign-load');
  const msg = await successMessage(c);
  ok(msg.includes(x) && /FRDKK4/.test(msg), 'commission: the role is assigned for Dunkerque', msg);
  await shot(c, 'load-assigned');
  clean(c, 'commission');
  await closeActor(c);
  await go(fresh, '/app/profile');
  like(await text(fresh, '#roles'), new RegExp(escapeRe(tr(lang, 'kind.point_of_entry'))), 'commission: the forwarder has the role, valid');
  await go(fresh, '/app/certificates');
  await fresh.page.locator('#certificates, #certificates-empty').first().waitFor();
  ok(true, 'commission: the new forwarder\'s certificates page renders');
  clean(fresh, 'new forwarder');
  await closeActor(fresh);
}

// 503 and 401 from the API, sign-out
async function failures_(lang) {
  const a = await actor(`edge.${rand()}`, lang);
  await signIn(a, '/app/');
  // the database is down: a clear message, never a blank page
  a.expected.add(503);
  await a.page.route('**/api/me', (route) => route.fulfill({
    status: 503, contentType: 'application/problem+json',
    body: JSON.stringify({ type: 'about:blank', title: 'Service Unavailable', status: 503, detail: 'The database is not available.' }),
  }));
  await a.page.goto(`${BASE}/app/profile`);
  const box = a.page.locator('#messages .traces-notification[data-kind="error"]');
  await box.waitFor();
  like(await box.innerText(), new RegExp(escapeRe(tr(lang, 'errors.unavailable_title'))), '503: "service temporarily unavailable"');
  like(await box.innerText(), lang === 'fr' ? /base de données/ : /database/, '503: the database is named');
  ok(await a.page.locator('#page-title').innerText().then((s) => s.trim().length > 0), '503: the page is not blank (title, header, message)');
  await shot(a, 'unavailable');
  await a.page.unroute('**/api/me');
  await a.page.route('**/api/certificates?*', (route) => route.fulfill({
    status: 503, contentType: 'application/problem+json',
    body: JSON.stringify({ type: 'about:blank', title: 'Service Unavailable', status: 503, detail: 'The database is not available.' }),
  }));
  await go(a, '/app/certificates');
  await box.waitFor();
  like(await box.innerText(), new RegExp(escapeRe(tr(lang, 'errors.unavailable_title'))), '503 on a list: the message is shown');
  await a.page.unroute('**/api/certificates?*');
  a.expected.delete(503);

  // the session is gone: the next fetch sends the browser to EU Login
  await go(a, '/app/operator');
  await a.page.locator('#operators').waitFor();
  await a.context.clearCookies();
  const login = a.page.waitForRequest((r) => r.url().startsWith(`${BASE}/auth/login?return_to=`));
  await a.page.click('#operator-search');
  const req = await login;
  is(decodeURIComponent(new URL(req.url()).searchParams.get('return_to')), '/app/operator', '401: to /auth/login?return_to=<current path>');

  // sign out: POST /auth/logout, then EU Login's logout, back to the welcome page
  await signIn(a, '/app/');
  await a.page.click('#logout');
  await a.page.waitForURL(`${BASE}/`, { timeout: TIMEOUT });
  ok(true, 'sign out: through EU Login back to the welcome page');
  const res = await a.page.goto(`${BASE}/app/`);
  ok(!res.url().startsWith(`${BASE}/app/`), 'sign out: /app/ needs a session again', res.url());
  await closeActor(a);
}

// ------------------------------------------------------------------ main

// what the strict Content-Security-Policy of t/nginx.conf.in forbids, and
// what would put text into the page as markup
async function staticChecks() {
  const { readdir } = await import('node:fs/promises');
  const walk = async (dir) => (await readdir(dir, { withFileTypes: true })).flatMap((e) => (
    e.isDirectory() ? [] : [join(dir, e.name)]));
  const html = [...await walk(join(ROOT, 'html')), ...await walk(join(ROOT, 'html/app'))].filter((f) => f.endsWith('.html'));
  const js = [...await walk(join(ROOT, 'html/js')), ...await walk(join(ROOT, 'html/js/pages'))].filter((f) => f.endsWith('.js'));
  const bad = [];
  for (const f of html) {
    const s = await readFile(f, 'utf8');
    if (/<script(?![^>]*\bsrc=)[^>]*>/i.test(s)) { bad.push(`${f}: inline <script>`); }
    if (/<style[\s>]/i.test(s)) { bad.push(`${f}: <style>`); }
    if (/\sstyle\s*=/i.test(s)) { bad.push(`${f}: style attribute`); }
    if (/\son[a-z]+\s*=/i.test(s)) { bad.push(`${f}: inline event handler`); }
    if (/(src|href)\s*=\s*"(https?:)?\/\/(?!ecas\.ec\.europa\.eu|webgate\.ec\.europa\.eu)[^"]*\.(js|css)"/i.test(s)) { bad.push(`${f}: third-party asset`); }
  }
  for (const f of js) {
    const s = await readFile(f, 'utf8');
    if (/\beval\s*\(|new Function\s*\(|\.innerHTML\s*=|outerHTML\s*=|insertAdjacentHTML|document\.write/.test(s)) { bad.push(`${f}: eval, Function or markup from strings`); }
    if (/setAttribute\(\s*['"]style['"]|\.style\.cssText|['"]style['"]\s*:/.test(s)) { bad.push(`${f}: inline style`); }
    if (/method:\s*'(POST|PATCH|PUT|DELETE)'/.test(s) && !/Content-Type['"]?\s*\]?\s*[:=]\s*'application\/json'/.test(s)) { bad.push(`${f}: a write without Content-Type: application/json`); }
  }
  ok(bad.length === 0, `pages: ${html.length} HTML files, ${js.length} scripts: no inline script or style, no eval, no markup from strings`, bad.join('\n'));
}

async function main() {
  await rm(SHOTS, { recursive: true, force: true });
  await mkdir(SHOTS, { recursive: true });
  note(`TRACES_URL=${BASE}, Chromium ${CHROMIUM}`);

  const kf = flatKeys(dict.fr);
  const ke = new Set(flatKeys(dict.en));
  const diff = kf.filter((k) => !ke.has(k)).concat([...ke].filter((k) => !kf.includes(k)));
  ok(diff.length === 0, 'html/i18n/fr.json and en.json have the same keys', diff.join(', '));
  ok(await access(join(ROOT, 'html/vendor/ecl/styles/ecl-ec.css')).then(() => true, () => false),
    'ECL is built into html/vendor/ (cd html && npm ci && ./build)');
  await staticChecks();

  await part('welcome', welcome);
  let fr = null;
  let en = null;
  await part('operator-fr', async () => { fr = await createOperator('fr', 'fr'); });
  await part('inao-fr', async () => { if (fr) { await inaoValidates('fr', fr, 'fr'); } else { ok(false, 'inao-fr: needs operator-fr'); } });
  await part('operator-en', async () => { en = await createOperator('en', 'en'); });
  await part('inao-en', async () => { if (en) { await inaoValidates('en', en, 'en'); } else { ok(false, 'inao-en: needs operator-en'); } });
  await part('second-user', async () => { if (fr) { await secondUser('en', fr); } else { ok(false, 'second-user: needs operator-fr'); } });
  await part('control-body', () => controlBody('fr'));
  await part('forwarder', () => forwarder('en'));
  await part('commission', () => commission('fr'));
  await part('failures', () => failures_('fr'));

  for (const a of [...actors]) {
    await closeActor(a);
  }
  console.log(`1..${count}`);
  if (failures) {
    note(`${failures} of ${count} failed; screenshots in ${SHOTS}`);
  }
  process.exitCode = failures ? 1 : 0;
}

main().catch((e) => {
  ok(false, 'the browser test ran', e && e.stack ? e.stack : String(e));
  console.log(`1..${count}`);
  process.exit(1);
});
