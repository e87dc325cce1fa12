// CAS 3 side of the EU Login stand-in, under /cas of the same server (CAS base
// URL http://127.0.0.1:<port>/cas), as EU Login (ECAS) speaks it: service
// tickets, serviceValidate / p3/serviceValidate / strictValidate / laxValidate
// with format=JSON and userDetails=true, acceptStrengths, single logout.
// See README.md ("CAS 3") for the exact answers and the /__test/cas-* controls.

import crypto from 'node:crypto';
import {
  identity, resolveLogin, casProfile, factorFor,
} from './identities.js';

const TICKET_TTL_MS = 5 * 60 * 1000; // a service ticket lives 5 minutes, validated once
const KEEP_MS = 12 * 60 * 60 * 1000; // SSO sessions and the ticket log (for SLO) are kept 12 h
const SLO_TIMEOUT_MS = 2000;
const CAS_NS = 'http://www.yale.edu/tp/cas';
const STRENGTH_RE = /^[A-Z][A-Z0-9_]{0,63}$/;
const KEY_RE = /^[A-Za-z_][A-Za-z0-9_.-]{0,63}$/;
const RESERVED = ['user', 'ticket', 'attributes'];
const VALIDATE = new Set(['/cas/serviceValidate', '/cas/p3/serviceValidate', '/cas/strictValidate', '/cas/laxValidate',
  '/cas/proxyValidate', '/cas/p3/proxyValidate']);

const rand = (n) => crypto.randomBytes(n).toString('base64url');
const xesc = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const short = (s) => (s.length > 80 ? `${s.slice(0, 80)}...` : s);
const isSet = (v) => v !== null && v !== 'false';

// An absolute http(s) URL, printable ASCII only; kept as the exact string given.
function validUrl(s) {
  if (typeof s !== 'string' || s.length > 4096 || !/^[\x21-\x7e]+$/.test(s)) return false;
  try {
    const u = new URL(s);
    return u.protocol === 'http:' || u.protocol === 'https:';
  } catch {
    return false;
  }
}

// service + ("?" or "&") + "ticket=ST-..", before a fragment if any.
function withTicket(service, ticket) {
  const i = service.indexOf('#');
  const base = i < 0 ? service : service.slice(0, i);
  return `${base}${base.includes('?') ? '&' : '?'}ticket=${ticket}${i < 0 ? '' : service.slice(i)}`;
}

const parseStrengths = (v) => String(v || '').split(',').map((s) => s.trim()).filter((s) => STRENGTH_RE.test(s));

function cookies(req) {
  const out = {};
  for (const part of String(req.headers.cookie || '').split(';')) {
    const i = part.indexOf('=');
    if (i > 0) out[part.slice(0, i).trim()] = part.slice(i + 1).trim();
  }
  return out;
}

export function logoutRequestXml(ticket) {
  const instant = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
  return '<samlp:LogoutRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" '
    + `xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="LR-${rand(18)}" Version="2.0" IssueInstant="${instant}">`
    + `<saml:NameID>@NOT_USED@</saml:NameID><samlp:SessionIndex>${xesc(ticket)}</samlp:SessionIndex></samlp:LogoutRequest>`;
}
// application/x-www-form-urlencoded, as CAS posts it (spaces as "+").
const logoutBody = (ticket) => new URLSearchParams({ logoutRequest: logoutRequestXml(ticket) }).toString();

// ---- answers ----

// XML of one user detail: strings as text, arrays as numbered lists, objects as child elements.
function xmlValue(key, v, indent) {
  if (!KEY_RE.test(key) || v === null || v === undefined) return '';
  if (Array.isArray(v)) {
    const item = { strengths: 'strength', groups: 'group' }[key] || 'value';
    return `${indent}<cas:${key} number="${v.length}">${v.map((x) => `<cas:${item}>${xesc(x)}</cas:${item}>`).join('')}</cas:${key}>\n`;
  }
  if (typeof v === 'object') {
    return `${indent}<cas:${key}>${Object.entries(v).map(([k, x]) => (KEY_RE.test(k) ? `<cas:${k}>${xesc(x)}</cas:${k}>` : '')).join('')}</cas:${key}>\n`;
  }
  return `${indent}<cas:${key}>${xesc(v)}</cas:${key}>\n`;
}

function send(res, format, body) {
  res.writeHead(200, {
    'content-type': format === 'JSON' ? 'application/json;charset=UTF-8' : 'application/xml;charset=UTF-8',
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
  });
  res.end(body);
}

function failure(res, format, code, description) {
  if (format === 'JSON') return send(res, format, JSON.stringify({ serviceResponse: { authenticationFailure: { code, description } } }));
  return send(res, format, `<cas:serviceResponse xmlns:cas="${CAS_NS}">
    <cas:authenticationFailure code="${xesc(code)}">${xesc(description)}</cas:authenticationFailure>
</cas:serviceResponse>\n`);
}

// ---- /__test/cas-next validation ----

const scalar = (v) => typeof v === 'string' || (typeof v === 'number' && Number.isFinite(v)) || typeof v === 'boolean';
function attrValueOk(v) {
  if (v === null || scalar(v)) return true;
  if (Array.isArray(v)) return v.every(scalar);
  if (typeof v === 'object') return Object.entries(v).every(([k, x]) => KEY_RE.test(k) && scalar(x));
  return false;
}
function checkNext(b) {
  const known = ['assuranceLevel', 'strengths', 'authenticationFactors', 'attributes', 'user', 'raw', 'ttlSeconds'];
  const bad = Object.keys(b).filter((k) => !known.includes(k));
  if (bad.length) return `unknown key(s) ${bad.join(', ')}; known: ${known.join(', ')}`;
  if (b.assuranceLevel !== undefined && !(typeof b.assuranceLevel === 'string' || Number.isFinite(b.assuranceLevel))) return 'assuranceLevel: string (or number)';
  if (b.strengths !== undefined && !(Array.isArray(b.strengths) && b.strengths.every((s) => typeof s === 'string'))) return 'strengths: array of strings';
  if (b.authenticationFactors !== undefined && !(b.authenticationFactors && typeof b.authenticationFactors === 'object'
    && !Array.isArray(b.authenticationFactors) && attrValueOk(b.authenticationFactors))) return 'authenticationFactors: object of strings';
  if (b.attributes !== undefined) {
    const a = b.attributes;
    if (!a || typeof a !== 'object' || Array.isArray(a)) return 'attributes: object';
    for (const [k, v] of Object.entries(a)) {
      if (!KEY_RE.test(k) || RESERVED.includes(k)) return `attributes: bad key ${JSON.stringify(k)} (${KEY_RE}, not ${RESERVED.join('/')})`;
      if (!attrValueOk(v)) return `attributes.${k}: null, string, number, boolean, array of those, or object of those`;
    }
  }
  if (b.user !== undefined && typeof b.user !== 'string') return 'user: string';
  if (b.raw !== undefined && typeof b.raw !== 'string') return 'raw: string';
  if (b.ttlSeconds !== undefined && !(Number.isFinite(b.ttlSeconds) && b.ttlSeconds >= 0 && b.ttlSeconds <= 86400)) return 'ttlSeconds: number 0..86400';
  return null;
}

// ---- the CAS server ----

export function createCas({ testMode, page, signInForm, readBody, delay = () => 0 }) {
  const tickets = new Map(); // live ST -> record; removed at its first validation (or logout, or expiry)
  const issued = new Map(); // ST -> { service, uid, created } (kept 12 h, for logout requests)
  const sessions = new Map(); // TGT (cookie CASTGC) -> { uid, strength, assuranceLevel, created, tickets: [{ ticket, service }] }
  let next = null; // POST /__test/cas-next, for the next ticket issued

  const html = (res, status, body, headers = {}) => {
    res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store', ...headers });
    res.end(body);
  };
  const redirect = (res, location, headers = {}) => {
    res.writeHead(302, { location, 'cache-control': 'no-store', ...headers });
    res.end();
  };
  const cookie = (tgt) => (tgt ? `CASTGC=${tgt}; Path=/cas; HttpOnly; SameSite=Lax` : 'CASTGC=; Path=/cas; Max-Age=0; HttpOnly; SameSite=Lax');

  function sweep() {
    const now = Date.now();
    for (const [k, t] of tickets) if (now >= t.expires) tickets.delete(k);
    for (const [k, t] of issued) if (now - t.created > KEEP_MS) issued.delete(k);
    for (const [k, s] of sessions) if (now - s.created > KEEP_MS) sessions.delete(k);
  }

  // Single logout of an SSO session: every ticket it issued dies, and a SAML
  // LogoutRequest is POSTed to its service (best effort, 2 s each, in parallel).
  async function singleLogout(sess) {
    await Promise.allSettled(sess.tickets.map(async ({ ticket, service }) => {
      tickets.delete(ticket);
      try {
        const r = await fetch(service, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: logoutBody(ticket),
          redirect: 'manual',
          signal: AbortSignal.timeout(SLO_TIMEOUT_MS),
        });
        await r.arrayBuffer().catch(() => {});
        console.error(`eulogin: CAS single logout ${ticket.slice(0, 12)}... -> ${service}: HTTP ${r.status}`);
      } catch (err) {
        console.error(`eulogin: CAS single logout ${ticket.slice(0, 12)}... -> ${service} failed: ${err.cause?.code || err.message}`);
      }
    }));
  }

  // Sign uid in: the strength is the identity's own unless acceptStrengths leaves it
  // out (EU Login would then ask for a stronger factor; we just use the first accepted).
  async function signIn(req, uid, accept) {
    const p = casProfile(uid);
    const strength = accept.length && !accept.includes(p.strength) ? accept[0] : p.strength;
    const old = cookies(req).CASTGC;
    const sess = sessions.get(old);
    if (sess && sess.uid === uid) {
      Object.assign(sess, { strength, assuranceLevel: p.assuranceLevel });
      return [old, sess];
    }
    if (sess) { // another user: the old SSO session ends first
      sessions.delete(old);
      await singleLogout(sess);
    }
    const tgt = `TGT-${rand(30)}`;
    const s = { uid, strength, assuranceLevel: p.assuranceLevel, created: Date.now(), tickets: [] };
    sessions.set(tgt, s);
    return [tgt, s];
  }

  function issue(res, tgt, sess, service, fromNewLogin) {
    const headers = { 'set-cookie': cookie(tgt) };
    if (!service) return html(res, 200, page('Signed in', `<h1>You are signed in to EU Login</h1><p>as ${xesc(sess.uid)}.</p>`), headers);
    sweep();
    const n = next;
    next = null;
    const ticket = `ST-${rand(30)}`;
    const created = Date.now();
    const t = {
      ticket,
      service,
      uid: sess.uid,
      created,
      expires: created + (n?.ttlSeconds !== undefined ? n.ttlSeconds * 1000 : TICKET_TTL_MS),
      strengths: n?.strengths ?? [sess.strength],
      assuranceLevel: n?.assuranceLevel ?? sess.assuranceLevel,
      authenticationFactors: n?.authenticationFactors,
      attributes: n?.attributes,
      user: n?.user,
      raw: n?.raw,
      fromNewLogin,
    };
    tickets.set(ticket, t);
    issued.set(ticket, { service, uid: sess.uid, created });
    sess.tickets.push({ ticket, service });
    if (n) console.error(`eulogin: cas-next applied to ${ticket.slice(0, 12)}...`);
    return redirect(res, withTicket(service, ticket), headers);
  }

  const form = (p, value = '', error = '') => {
    const hidden = {};
    for (const k of ['service', 'renew', 'acceptStrengths']) if (p.get(k) !== null) hidden[k] = p.get(k);
    return signInForm({ action: '/cas/login', hidden, value, error });
  };

  async function login(req, res, url) {
    const p = new URLSearchParams(url.searchParams);
    if (req.method === 'POST') {
      for (const [k, v] of new URLSearchParams((await readBody(req, 65536)).toString('utf8'))) p.set(k, v);
    } else if (req.method !== 'GET') {
      return html(res, 405, page('Error', '<h1>Method not allowed</h1>'), { allow: 'GET, POST' });
    }
    const service = p.get('service');
    if (service !== null && !validUrl(service)) {
      return html(res, 400, page('Error', '<h1>Invalid service</h1><p>The service parameter must be an absolute http(s) URL.</p>'));
    }
    const renew = isSet(p.get('renew'));
    const gateway = isSet(p.get('gateway'));
    const accept = parseStrengths(p.get('acceptStrengths'));

    if (req.method === 'POST') {
      const typed = String(p.get('username') || '').trim();
      const who = resolveLogin(typed.toLowerCase());
      if (!who) return html(res, 200, form(p, typed, 'Unknown uid or e-mail.'));
      const [tgt, sess] = await signIn(req, who, accept);
      return issue(res, tgt, sess, service, true);
    }
    const hint = p.get('login_hint');
    const hinted = resolveLogin(hint);
    if (testMode && hinted) {
      const [tgt, sess] = await signIn(req, hinted, accept);
      return issue(res, tgt, sess, service, true);
    }
    const tgt = cookies(req).CASTGC;
    const sess = sessions.get(tgt);
    if (sess && !renew && (!accept.length || accept.includes(sess.strength))) return issue(res, tgt, sess, service, false);
    if (gateway && !renew && service) return redirect(res, service);
    return html(res, 200, form(p, hint && !testMode ? hint : ''));
  }

  function validate(req, res, url) {
    const q = url.searchParams;
    const format = String(q.get('format') || 'XML').toUpperCase() === 'JSON' ? 'JSON' : 'XML';
    const service = q.get('service');
    const ticket = q.get('ticket');
    if (!service || !ticket) return failure(res, format, 'INVALID_REQUEST', "'service' and 'ticket' parameters are both required");
    const t = tickets.get(ticket);
    if (!t) return failure(res, format, 'INVALID_TICKET', `Ticket '${short(ticket)}' not recognized`);
    tickets.delete(ticket); // once, whatever the outcome
    if (Date.now() >= t.expires) return failure(res, format, 'INVALID_TICKET', `Ticket '${short(ticket)}' has expired`);
    if (t.service !== service) {
      return failure(res, format, 'INVALID_SERVICE', `Ticket '${short(ticket)}' does not match supplied service. `
        + `The original service was '${short(t.service)}' and the supplied service was '${short(service)}'.`);
    }
    if (isSet(q.get('renew')) && !t.fromNewLogin) {
      return failure(res, format, 'INVALID_TICKET_SPEC', `Ticket '${short(ticket)}' was not issued from a new login (renew=true)`);
    }
    if (t.raw !== undefined) return send(res, format, t.raw);

    const who = identity(t.uid);
    const prof = casProfile(t.uid);
    const d = {
      uid: t.uid,
      email: who.email,
      firstName: who.given_name,
      lastName: who.family_name,
      domain: 'external',
      domainUsername: t.uid,
    };
    if (prof.telephoneNumber) d.telephoneNumber = prof.telephoneNumber;
    d.assuranceLevel = t.assuranceLevel;
    d.strengths = t.strengths;
    d.authenticationFactors = t.authenticationFactors ?? Object.fromEntries(t.strengths.map((s) => [s, factorFor(s, t.uid, prof)]));
    d.groups = prof.groups;
    for (const [k, v] of Object.entries(t.attributes || {})) {
      if (v === null) delete d[k];
      else d[k] = v;
    }
    const details = q.get('userDetails') === 'true';
    const user = t.user ?? t.uid;

    if (format === 'JSON') {
      const ok = { user, ...(details && { ...d, ticket }), attributes: d };
      return send(res, format, JSON.stringify({ serviceResponse: { authenticationSuccess: ok } }));
    }
    const ind = '        ';
    const flat = details ? `${Object.entries(d).map(([k, v]) => xmlValue(k, v, ind)).join('')}${ind}<cas:ticket>${xesc(ticket)}</cas:ticket>\n` : '';
    const attrs = Object.entries(d).map(([k, v]) => (Array.isArray(v) ? v.map((x) => xmlValue(k, x, `${ind}    `)).join('') : xmlValue(k, v, `${ind}    `))).join('');
    return send(res, format, `<cas:serviceResponse xmlns:cas="${CAS_NS}">
    <cas:authenticationSuccess>
${ind}<cas:user>${xesc(user)}</cas:user>
${flat}${ind}<cas:attributes>
${attrs}${ind}</cas:attributes>
    </cas:authenticationSuccess>
</cas:serviceResponse>\n`);
  }

  async function logout(req, res, url) {
    const tgt = cookies(req).CASTGC;
    const sess = sessions.get(tgt);
    if (sess) {
      sessions.delete(tgt);
      await singleLogout(sess);
    }
    const headers = { 'set-cookie': cookie(null) };
    const to = url.searchParams.get('service') ?? url.searchParams.get('url');
    if (to !== null && validUrl(to)) return redirect(res, to, headers);
    return html(res, 200, page('Logged out', '<h1>You have been logged out</h1><p>You have been logged out of EU Login. '
      + 'For security reasons, close your browser.</p>'), headers);
  }

  return {
    // true when the request was for /cas (answered), false otherwise
    async handle(req, res, url) {
      const { pathname } = url;
      if (pathname !== '/cas' && !pathname.startsWith('/cas/')) return false;
      if (pathname === '/cas' || pathname === '/cas/') redirect(res, '/cas/login');
      else if (pathname === '/cas/login') await login(req, res, url);
      else if (pathname === '/cas/logout') await logout(req, res, url);
      else if (VALIDATE.has(pathname)) {
        if (req.method !== 'GET' && req.method !== 'HEAD') html(res, 405, page('Error', '<h1>Method not allowed</h1>'), { allow: 'GET' });
        else {
          // a slow EU Login (POST /__test/delay): the answer comes late
          if (delay()) await new Promise((r) => { setTimeout(r, delay()); });
          validate(req, res, url);
        }
      } else html(res, 404, page('Not found', '<h1>Not found</h1>'));
      return true;
    },
    // POST /__test/cas-next -> [status, body]
    setNext(body) {
      const err = checkNext(body);
      if (err) return [400, { error: err }];
      next = structuredClone(body);
      if (typeof next.assuranceLevel === 'number') next.assuranceLevel = String(next.assuranceLevel);
      return [200, { ok: true, next }];
    },
    // POST /__test/cas-logout-request -> [status, body]
    logoutRequest(body) {
      const { ticket, service } = body;
      if (typeof ticket !== 'string' || !ticket) return [400, { error: 'ticket: string required (service: optional override)' }];
      if (service !== undefined && typeof service !== 'string') return [400, { error: 'service: string' }];
      const svc = service ?? issued.get(ticket)?.service;
      if (svc === undefined) return [404, { error: 'unknown ticket (give "service" to build a request for it anyway)' }];
      return [200, { service: svc, body: logoutBody(ticket) }];
    },
    reset() { next = null; },
  };
}
