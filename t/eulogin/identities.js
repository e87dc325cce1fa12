// Demo EU Login identities. Any other uid matching UID_RE is a fresh identity
// (as just after signing up to EU Login): <uid>@example.eu, names from the uid.

export const UID_RE = /^[a-z0-9][a-z0-9._-]{0,63}$/;

const DEMO = {
  'inao.agent': ['Camille', 'Durand', 'camille.durand@inao.example.fr'], // INAO agent, France
  'commission.agent': ['Jan', 'Novak', 'jan.novak@commission.example.eu'], // European Commission
  'importer.admin': ['Sophie', 'Laurent', 'sophie.laurent@bio-import.example.fr'], // admin of a French organic importer
  'consignee.user': ['Lucas', 'Bernard', 'lucas.bernard@primeurs-bio.example.fr'], // user of a French first consignee
  'ocb.ecocert': ['Marie', 'Petit', 'marie.petit@ecocert.example.fr'], // control body Ecocert FR-BIO-01
  'forwarder.lehavre': ['Antoine', 'Moreau', 'antoine.moreau@transit-lehavre.example.fr'], // responsible for the load, Le Havre
};

const cap = (s) => s.charAt(0).toUpperCase() + s.slice(1);

// The identity of a uid, or undefined when the uid is not acceptable.
export function identity(uid) {
  if (typeof uid !== 'string' || !UID_RE.test(uid)) return undefined;
  if (DEMO[uid]) {
    const [given, family, email] = DEMO[uid];
    return { uid, email, given_name: given, family_name: family };
  }
  const parts = uid.split(/[._-]+/).filter(Boolean);
  const given = cap(parts[0]);
  const family = parts.length > 1 ? parts.slice(1).map(cap).join(' ') : given;
  return { uid, email: `${uid}@example.eu`, given_name: given, family_name: family };
}

// A login_hint or what the user typed in "uid or e-mail" -> uid, or undefined.
// A uid must match UID_RE as given; an e-mail is compared without case.
export function resolveLogin(input) {
  if (typeof input !== 'string') return undefined;
  if (!input.includes('@')) return identity(input) ? input : undefined;
  const v = input.toLowerCase();
  for (const [uid, [, , email]] of Object.entries(DEMO)) if (email === v) return uid;
  const m = /^(.+)@example\.eu$/.exec(v);
  return m && identity(m[1]) ? m[1] : undefined;
}

// ---- CAS (EU Login user details) ----
// EU Login assurance levels: 10 LOW, 20 MEDIUM, 30 HIGH, 40 TOP (strings, as
// EU Login sends them). A login's strength is the identity's own, unless the
// service's acceptStrengths leaves it out (then the first accepted one).

export const CAS_DEFAULT = { assuranceLevel: '20', strength: 'PASSWORD_MOBILE_APP' };

const CAS_DEMO = {
  'inao.agent': { assuranceLevel: '30', strength: 'PASSWORD_SOFTWARE_TOKEN', telephoneNumber: '+33 1 73 30 38 00', mobile: '+33612345601', groups: ['TRACES_NT_USERS', 'INAO_AGENTS'] },
  'commission.agent': { telephoneNumber: '+32 2 299 11 11', mobile: '+32470123402', groups: ['TRACES_NT_USERS', 'DG_SANTE'] },
  'importer.admin': { mobile: '+33612345603', groups: ['TRACES_NT_USERS'] },
  'consignee.user': { mobile: '+33612345604', groups: ['TRACES_NT_USERS'] },
  'ocb.ecocert': { mobile: '+33612345605', groups: ['TRACES_NT_USERS'] },
  'forwarder.lehavre': { strength: 'PASSWORD_SMS', mobile: '+33612345606', groups: ['TRACES_NT_USERS'] },
};

// A made-up mobile number for identities without one (stable per uid).
function mobileOf(uid) {
  let h = 0;
  for (const c of uid) h = (h * 31 + c.charCodeAt(0)) >>> 0;
  return `+3247${String(h % 10000000).padStart(7, '0')}`;
}

// CAS profile of a uid: { assuranceLevel, strength, telephoneNumber?, mobile, groups }.
export function casProfile(uid) {
  if (!identity(uid)) return undefined;
  const p = { ...CAS_DEFAULT, groups: [], ...(CAS_DEMO[uid] || {}) };
  p.mobile ||= mobileOf(uid);
  return p;
}

// The authentication factor shown for a strength (authenticationFactors values).
export function factorFor(strength, uid, profile) {
  if (/SMS/.test(strength)) return profile.mobile;
  if (strength === 'PASSWORD_MOBILE_APP') return `EU Login app (${profile.mobile})`;
  if (strength === 'PASSWORD_SOFTWARE_TOKEN') return `software token of ${uid}`;
  if (/TOKEN/.test(strength)) return `token ${uid}`;
  return uid;
}
