// EU Login stand-in for the TRACES gate demo and tests: a real OpenID Connect
// provider (oidc-provider 8.8.1) with demo identities. A real deployment never
// talks to it: it talks to EU Login itself.
//
//   node t/eulogin/server.js          (npm ci in t/eulogin first)
//
// Environment (defaults in brackets):
//   EULOGIN_PORT                      port, listens on 127.0.0.1 only [19080]
//   EULOGIN_ISSUER                    issuer, an origin without path [http://127.0.0.1:$EULOGIN_PORT]
//   EULOGIN_CLIENT_ID                 the one registered client [traces]
//   EULOGIN_CLIENT_SECRET             its secret (client_secret_basic / _post) [traces-secret]
//   EULOGIN_REDIRECT_URI              [http://127.0.0.1:18080/auth/callback]
//   EULOGIN_POST_LOGOUT_REDIRECT_URI  [http://127.0.0.1:18080/]
//   EULOGIN_BACKCHANNEL_LOGOUT_URI    [http://127.0.0.1:18080/auth/backchannel-logout]
//                                     (the three URI variables accept a space or comma separated list)
//   EULOGIN_CLIENT_JWKS               path of the client's public JWKS; enables private_key_jwt [none]
//   EULOGIN_ID_TOKEN_ALG              RS256 | PS256 | PS512 | ES256 [RS256]
//   EULOGIN_KEYS                      path of the provider's private JWKS, created on first start,
//                                     reused after [unset: fresh keys in memory at every start]
//   EULOGIN_TEST_MODE=1               login_hint signs in without a form; /__test/* endpoints
//
// Test endpoints (EULOGIN_TEST_MODE=1 only; JSON in and out): see README.md.
// CAS 3 (EU Login's ECAS protocol) under /cas of the same server: cas.js.

import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { promisify } from 'node:util';
import { AsyncLocalStorage } from 'node:async_hooks';
import Provider, { interactionPolicy } from 'oidc-provider';
import {
  SignJWT, calculateJwkThumbprint, decodeJwt, decodeProtectedHeader, base64url,
} from 'jose';
import { identity, resolveLogin } from './identities.js';
import { createCas } from './cas.js';

const env = process.env;
const PORT = Number(env.EULOGIN_PORT || 19080);
const ISSUER = env.EULOGIN_ISSUER || `http://127.0.0.1:${PORT}`;
const CLIENT_ID = env.EULOGIN_CLIENT_ID || 'traces';
const CLIENT_SECRET = env.EULOGIN_CLIENT_SECRET ?? 'traces-secret';
const list = (v, d) => (v || d).split(/[\s,]+/).filter(Boolean);
const REDIRECT_URIS = list(env.EULOGIN_REDIRECT_URI, 'http://127.0.0.1:18080/auth/callback');
const POST_LOGOUT_URIS = list(env.EULOGIN_POST_LOGOUT_REDIRECT_URI, 'http://127.0.0.1:18080/');
const BACKCHANNEL_URI = env.EULOGIN_BACKCHANNEL_LOGOUT_URI || 'http://127.0.0.1:18080/auth/backchannel-logout';
const ID_TOKEN_ALG = env.EULOGIN_ID_TOKEN_ALG || 'RS256';
const KEYS_FILE = env.EULOGIN_KEYS || '';
const TEST_MODE = env.EULOGIN_TEST_MODE === '1';
const SIGN_ALGS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256'];

function die(msg) { console.error(`eulogin: ${msg}`); process.exit(1); }
if (!['RS256', 'PS256', 'PS512', 'ES256'].includes(ID_TOKEN_ALG)) die('EULOGIN_ID_TOKEN_ALG must be RS256, PS256, PS512 or ES256');
if (!/^https?:\/\/[^/?#]+$/.test(ISSUER)) die('EULOGIN_ISSUER must be an origin (scheme://host:port), without path or trailing slash');

// EU Login-like assurance levels, weakest first; acr_values may name them in full or as low/medium/high.
const ACRS = ['low', 'medium', 'high'].map((l) => `http://eulogin.europa.eu/assurance/${l}`);
const ACR_DEFAULT = ACRS[1];
function requestedAcr(acrValues) {
  for (const v of String(acrValues || '').split(' ')) {
    const i = ACRS.findIndex((a) => a === v || a.endsWith(`/${v}`));
    if (i >= 0) return ACRS[i];
  }
  return undefined;
}

// ---- provider keys (private JWKS, persisted in EULOGIN_KEYS) ----

const generateKeyPair = promisify(crypto.generateKeyPair);
async function newKey(kty) {
  const { privateKey } = kty === 'EC'
    ? await generateKeyPair('ec', { namedCurve: 'P-256' })
    : await generateKeyPair('rsa', { modulusLength: 2048 });
  const jwk = privateKey.export({ format: 'jwk' });
  return { ...jwk, kid: await calculateJwkThumbprint(jwk), use: 'sig' };
}
function saveKeys() {
  if (!KEYS_FILE) return;
  fs.mkdirSync(path.dirname(path.resolve(KEYS_FILE)), { recursive: true });
  fs.writeFileSync(`${KEYS_FILE}.tmp`, `${JSON.stringify(jwks, null, 2)}\n`, { mode: 0o600 });
  fs.renameSync(`${KEYS_FILE}.tmp`, KEYS_FILE);
}
const jwks = KEYS_FILE && fs.existsSync(KEYS_FILE) ? JSON.parse(fs.readFileSync(KEYS_FILE, 'utf8')) : { keys: [] };
{
  const missing = [];
  if (!jwks.keys.some((k) => k.kty === 'RSA')) missing.push('RSA');
  if (!jwks.keys.some((k) => k.kty === 'EC' && k.crv === 'P-256')) missing.push('EC');
  if (missing.length) {
    jwks.keys.push(...await Promise.all(missing.map(newKey)));
    saveKeys();
  }
}
// The key oidc-provider signs with for alg: the first one of the right type.
const currentKey = (alg) => jwks.keys.find((k) => (alg.startsWith('ES') ? k.kty === 'EC' && k.crv === 'P-256' : k.kty === 'RSA'));
const privateKeyObject = (jwk) => crypto.createPrivateKey({ key: jwk, format: 'jwk' });

// ---- the provider ----

const clientMetadata = {
  client_id: CLIENT_ID,
  application_type: 'web',
  redirect_uris: REDIRECT_URIS,
  post_logout_redirect_uris: POST_LOGOUT_URIS,
  backchannel_logout_uri: BACKCHANNEL_URI,
  backchannel_logout_session_required: true,
  response_types: ['code'],
  grant_types: ['authorization_code'],
  id_token_signed_response_alg: ID_TOKEN_ALG,
};
if (CLIENT_SECRET) {
  clientMetadata.client_secret = CLIENT_SECRET;
  clientMetadata.token_endpoint_auth_method = 'client_secret_basic'; // client_secret_post is accepted too
} else {
  clientMetadata.token_endpoint_auth_method = 'private_key_jwt';
}
if (env.EULOGIN_CLIENT_JWKS) clientMetadata.jwks = JSON.parse(fs.readFileSync(env.EULOGIN_CLIENT_JWKS, 'utf8'));

// oidc-provider checks the one method registered for a client; ours may use
// any of the three, so the method the token request presents is taken.
const tokenRequest = new AsyncLocalStorage();

const state = { mutation: null, delay: 0 };
const cookieKeys = [crypto.randomBytes(32).toString('base64url')];
let provider; // rebuilt by /__test/rotate-keys (sessions live in the shared memory adapter)
let handle; // provider.callback()

const esc = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const page = (title, body) => `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>${esc(title)} - EU Login</title>
<style>body{font-family:Arial,sans-serif;background:#f5f5f5;margin:0}header{background:#004494;color:#fff;padding:12px 24px;font-size:20px}
main{max-width:380px;margin:40px auto;background:#fff;padding:24px 32px;border:1px solid #ddd}h1{font-size:22px;color:#004494}
label{display:block;margin:12px 0 4px}input[type=text]{width:100%;padding:8px;box-sizing:border-box}
button{margin-top:16px;background:#004494;color:#fff;border:0;padding:10px 24px;font-size:16px;cursor:pointer}
.error{color:#b00020}.note{color:#666;font-size:13px}</style></head>
<body><header>EU Login <small>(stand-in for demo and tests)</small></header><main>${body}</main></body></html>`;

async function buildProvider() {
  const { Check, base } = interactionPolicy;
  const policy = base();
  // Sign in again when login_hint names another user, or a higher acr is asked for.
  policy.get('login').checks.add(new Check('hint_or_acr', 'login_hint or acr_values not satisfied by the session', (ctx) => {
    const { session, params } = ctx.oidc;
    if (!session.accountId) return Check.NO_NEED_TO_PROMPT;
    const hinted = resolveLogin(params.login_hint);
    if (hinted && hinted !== session.accountId) return Check.REQUEST_PROMPT;
    const acr = requestedAcr(params.acr_values);
    if (acr && ACRS.indexOf(session.acr) < ACRS.indexOf(acr)) return Check.REQUEST_PROMPT;
    return Check.NO_NEED_TO_PROMPT;
  }));

  const p = new Provider(ISSUER, {
    clients: [clientMetadata],
    jwks: structuredClone(jwks),
    cookies: {
      keys: cookieKeys,
      long: { httpOnly: true, sameSite: 'lax', signed: true },
      short: { httpOnly: true, sameSite: 'lax', signed: true },
    },
    scopes: ['openid', 'email', 'profile'],
    claims: {
      acr: null, sid: null, auth_time: null, iss: null,
      openid: ['sub', 'uid', 'domain', 'acr', 'auth_time'], // acr, auth_time: always in the ID token
      email: ['email'],
      profile: ['given_name', 'family_name'],
    },
    conformIdTokenClaims: false, // scope claims go in the ID token, not only in userinfo
    acrValues: ACRS,
    responseTypes: ['code'],
    pkce: { methods: ['S256'], required: () => true },
    clientAuthMethods: ['client_secret_basic', 'client_secret_post', 'private_key_jwt'],
    enabledJWA: {
      idTokenSigningAlgValues: ['RS256', 'PS256', 'PS512', 'ES256'],
      clientAuthSigningAlgValues: ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'],
    },
    features: {
      devInteractions: { enabled: false },
      backchannelLogout: { enabled: true },
      rpInitiatedLogout: {
        enabled: true,
        logoutSource(ctx, form) {
          const f = form.replace('</form>', '<input type="hidden" name="logout" value="yes"/></form>');
          ctx.body = page('Sign out', `<h1>Sign out</h1>${f}<p>Do you want to sign out from EU Login?</p>
<button type="submit" form="op.logoutForm" autofocus>Sign out</button>
${TEST_MODE ? '<script>document.getElementById("op.logoutForm").submit()</script>' : ''}`);
        },
        postLogoutSuccessSource(ctx) {
          ctx.body = page('Signed out', '<h1>You have signed out from EU Login.</h1>');
        },
      },
    },
    interactions: { policy, url: (ctx, interaction) => `/interaction/${interaction.uid}` },
    async findAccount(ctx, sub) {
      const who = identity(sub);
      if (!who) return undefined;
      return {
        accountId: sub,
        claims: async () => ({ sub, ...who, domain: 'external' }),
      };
    },
    // Consent is implicit for our single first-party client.
    async loadExistingGrant(ctx) {
      const { client, session } = ctx.oidc;
      const grantId = ctx.oidc.result?.consent?.grantId || session.grantIdFor(client.clientId);
      let grant = grantId && await ctx.oidc.provider.Grant.find(grantId);
      if (!grant || grant.accountId !== session.accountId) {
        grant = new ctx.oidc.provider.Grant({ clientId: client.clientId, accountId: session.accountId });
      }
      grant.addOIDCScope('openid email profile');
      await grant.save();
      return grant;
    },
    async renderError(ctx, out) {
      ctx.type = 'html';
      ctx.body = page('Error', `<h1>Error</h1>${Object.entries(out).map(([k, v]) => `<p><b>${esc(k)}</b>: ${esc(v)}</p>`).join('')}`);
    },
  });

  const client = await p.Client.find(CLIENT_ID);
  Object.defineProperty(client, 'clientAuthMethod', {
    get() {
      const methods = tokenRequest.getStore()?.oidc?.authorization?.methods || [];
      if (methods.includes('private_key_jwt') && clientMetadata.jwks) return 'private_key_jwt';
      if (methods.includes('client_secret_basic') && CLIENT_SECRET) return 'client_secret_basic';
      return this.tokenEndpointAuthMethod;
    },
  });

  const tokenPath = p.pathFor('token');
  p.use(async (ctx, next) => {
    if (ctx.path !== tokenPath) return next();
    await tokenRequest.run(ctx, next);
    if (state.delay) await new Promise((r) => { setTimeout(r, state.delay); });
    if (state.mutation && ctx.status === 200 && ctx.body?.id_token) {
      const m = state.mutation;
      state.mutation = null;
      ctx.body = { ...ctx.body, id_token: await mutate(ctx.body.id_token, m) };
      console.error(`eulogin: token-mutation applied (sign=${m.sign || 'normal'})`);
    }
  });

  p.on('server_error', (ctx, err) => console.error('eulogin: server_error', err));
  p.on('backchannel.success', (ctx, c, sub, sid) => console.error(`eulogin: back-channel logout sent sub=${sub} sid=${sid}`));
  p.on('backchannel.error', (ctx, err, c, sub, sid) => console.error(`eulogin: back-channel logout failed sub=${sub} sid=${sid}: ${err.message}`));
  return p;
}

async function readBody(req, limit = 1 << 20) {
  const chunks = [];
  let size = 0;
  for await (const c of req) {
    size += c.length;
    if (size > limit) throw Object.assign(new Error('body too large'), { status: 413 });
    chunks.push(c);
  }
  return Buffer.concat(chunks);
}

// ---- ID token mutation (POST /__test/token-mutation) ----

async function mutate(idToken, m) {
  const header = decodeProtectedHeader(idToken);
  const payload = decodeJwt(idToken);
  Object.assign(payload, m.claims || {});
  for (const k of m.remove || []) delete payload[k];
  const alg = m.alg || header.alg;
  const { alg: _a, kid: _k, ...rest } = header;
  switch (m.sign || 'normal') {
    case 'none': {
      const enc = (o) => base64url.encode(JSON.stringify(o));
      return `${enc({ ...rest, alg: 'none' })}.${enc(payload)}.`;
    }
    case 'hs256-public': {
      const rsa = currentKey('RS256');
      const pem = crypto.createPublicKey({ key: rsa, format: 'jwk' }).export({ type: 'spki', format: 'pem' });
      return new SignJWT(payload).setProtectedHeader({ ...rest, alg: 'HS256', kid: rsa.kid }).sign(Buffer.from(pem));
    }
    case 'unknown-key': {
      const jwk = await newKey(alg.startsWith('ES') ? 'EC' : 'RSA');
      return new SignJWT(payload).setProtectedHeader({ ...rest, alg, kid: `unknown-${jwk.kid.slice(0, 16)}` }).sign(privateKeyObject(jwk));
    }
    default: {
      const jwk = currentKey(alg);
      return new SignJWT(payload).setProtectedHeader({ ...rest, alg, kid: jwk.kid }).sign(privateKeyObject(jwk));
    }
  }
}

// ---- /__test/* ----

function json(res, status, body) {
  const s = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(s), 'cache-control': 'no-store' });
  res.end(s);
}

async function testEndpoint(req, res, pathname) {
  if (pathname === '/__test/health' && req.method === 'GET') return json(res, 200, { ok: true });
  if (req.method !== 'POST') return json(res, 404, { error: 'not found' });
  let body;
  try {
    const raw = (await readBody(req)).toString('utf8');
    body = raw.trim() ? JSON.parse(raw) : {};
    if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new Error();
  } catch {
    return json(res, 400, { error: 'JSON object expected' });
  }
  switch (pathname) {
    case '/__test/token-mutation': {
      const { claims = {}, remove = [], sign = 'normal', alg } = body;
      if (typeof claims !== 'object' || Array.isArray(claims) || !Array.isArray(remove)
        || !['normal', 'none', 'hs256-public', 'unknown-key'].includes(sign)
        || (alg !== undefined && !SIGN_ALGS.includes(alg))) {
        return json(res, 400, { error: `claims object, remove array, sign normal|none|hs256-public|unknown-key, alg ${SIGN_ALGS.join('|')}` });
      }
      state.mutation = { claims, remove, sign, alg };
      return json(res, 200, { ok: true, mutation: state.mutation });
    }
    case '/__test/rotate-keys': {
      const key = await newKey('RSA');
      jwks.keys.unshift(key);
      saveKeys();
      provider = await buildProvider();
      handle = provider.callback();
      return json(res, 200, { kid: key.kid });
    }
    case '/__test/logout-token': {
      const { sub, sid, claims = {}, remove = [] } = body;
      if (sub === undefined && sid === undefined) return json(res, 400, { error: 'sub and/or sid required' });
      const now = Math.floor(Date.now() / 1000);
      const payload = {
        iss: ISSUER, aud: CLIENT_ID, iat: now, exp: now + 120, jti: crypto.randomUUID(),
        events: { 'http://schemas.openid.net/event/backchannel-logout': {} },
        ...(sub !== undefined && { sub }),
        ...(sid !== undefined && { sid }),
        ...claims,
      };
      for (const k of remove) delete payload[k];
      const jwk = currentKey('RS256');
      const token = await new SignJWT(payload).setProtectedHeader({ alg: 'RS256', typ: 'logout+jwt', kid: jwk.kid }).sign(privateKeyObject(jwk));
      return json(res, 200, { logout_token: token });
    }
    case '/__test/delay': {
      const ms = Number(body.ms);
      if (!Number.isInteger(ms) || ms < 0 || ms > 600000) return json(res, 400, { error: 'ms: integer 0..600000' });
      state.delay = ms;
      return json(res, 200, { ok: true, delay: ms });
    }
    case '/__test/cas-next':
      return json(res, ...cas.setNext(body));
    case '/__test/cas-logout-request':
      return json(res, ...cas.logoutRequest(body));
    case '/__test/reset':
      state.mutation = null;
      state.delay = 0;
      cas.reset();
      return json(res, 200, { ok: true });
    default:
      return json(res, 404, { error: 'not found' });
  }
}

// ---- interactions: the login form, or the login_hint shortcut in test mode ----

function html(res, status, body) {
  res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
  res.end(body);
}

// The sign-in form of both protocols (OIDC interactions and CAS /cas/login).
function signInForm({ action, hidden = {}, value = '', error = '', cancel = '' }) {
  return page('Sign in', `<h1>Sign in to continue</h1>
<form method="post" action="${esc(action)}" autocomplete="off">
${Object.entries(hidden).map(([k, v]) => `<input type="hidden" name="${esc(k)}" value="${esc(v)}">\n`).join('')}<label for="username">Use your uid or e-mail</label>
<input type="text" id="username" name="username" value="${esc(value)}" autofocus required>
${error ? `<p class="error">${esc(error)}</p>` : ''}
<button type="submit">Next</button></form>
${cancel ? `<p class="note"><a href="${esc(cancel)}">Cancel</a></p>` : ''}`);
}

function loginForm(uid, value = '', error = '') {
  return signInForm({ action: `/interaction/${uid}/login`, value, error, cancel: `/interaction/${uid}/abort` });
}

async function finishLogin(req, res, details, uid) {
  const acr = requestedAcr(details.params.acr_values) || ACR_DEFAULT;
  await provider.interactionFinished(req, res, { login: { accountId: uid, acr, amr: ['pwd'] } }, { mergeWithLastSubmission: false });
}

async function interaction(req, res, pathname) {
  const [, , uid, action] = pathname.split('/');
  let details;
  try {
    details = await provider.interactionDetails(req, res);
    if (details.uid !== uid) throw new Error('interaction mismatch');
  } catch (err) {
    return html(res, 400, page('Error', `<h1>Session expired</h1><p>${esc(err.message)}. Go back to the application and sign in again.</p>`));
  }
  const { prompt, params } = details;

  if (action === 'abort') {
    return provider.interactionFinished(req, res, { error: 'access_denied', error_description: 'End-User cancelled the sign in' }, { mergeWithLastSubmission: false });
  }
  if (prompt.name === 'consent') { // not expected (loadExistingGrant), but harmless
    const grant = new provider.Grant({ clientId: params.client_id, accountId: details.session.accountId });
    grant.addOIDCScope('openid email profile');
    return provider.interactionFinished(req, res, { consent: { grantId: await grant.save() } }, { mergeWithLastSubmission: true });
  }
  if (action === 'login' && req.method === 'POST') {
    const form = Object.fromEntries(new URLSearchParams((await readBody(req, 65536)).toString('utf8')));
    const who = resolveLogin(String(form.username || '').trim().toLowerCase());
    if (!who) return html(res, 200, loginForm(uid, form.username, 'Unknown uid or e-mail.'));
    return finishLogin(req, res, details, who);
  }
  if (!action && req.method === 'GET') {
    const hinted = resolveLogin(params.login_hint);
    if (TEST_MODE && hinted) return finishLogin(req, res, details, hinted);
    return html(res, 200, loginForm(uid, params.login_hint && !TEST_MODE ? params.login_hint : ''));
  }
  return html(res, 404, page('Not found', '<h1>Not found</h1>'));
}

// ---- the server ----

provider = await buildProvider();
handle = provider.callback();
const cas = createCas({ testMode: TEST_MODE, page, signInForm, readBody, delay: () => state.delay });

const server = http.createServer(async (req, res) => {
  const t0 = process.hrtime.bigint();
  res.on('finish', () => {
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    const url = req.url.length > 300 ? `${req.url.slice(0, 300)}...` : req.url;
    process.stdout.write(`${new Date().toISOString()} ${req.method} ${url} ${res.statusCode} ${ms.toFixed(1)}ms\n`);
  });
  try {
    const url = new URL(req.url, ISSUER);
    const { pathname } = url;
    if (TEST_MODE && pathname.startsWith('/__test/')) return await testEndpoint(req, res, pathname);
    if (pathname.startsWith('/interaction/')) return await interaction(req, res, pathname);
    if (await cas.handle(req, res, url)) return undefined;
    return handle(req, res);
  } catch (err) {
    console.error('eulogin: error', err);
    if (!res.headersSent) json(res, err.status || 500, { error: err.message });
    else res.destroy();
  }
});
server.on('error', (err) => die(`cannot listen on 127.0.0.1:${PORT}: ${err.message}`));
server.listen(PORT, '127.0.0.1', () => {
  console.error(`eulogin: listening on 127.0.0.1:${PORT}, issuer ${ISSUER}, client ${CLIENT_ID}${TEST_MODE ? ', TEST MODE' : ''}`);
});
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => server.close(() => process.exit(0)));
