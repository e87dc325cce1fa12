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
