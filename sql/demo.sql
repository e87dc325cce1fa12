-- Demo data: a realistic French set on top of the reference data of the
-- migrations (countries, INAO, DGCCRF, the Commission, points of entry,
-- control bodies), for the demo identities of DESIGN.md §5.
--
--   psql -X -v ON_ERROR_STOP=1 -f sql/demo.sql "<conninfo as superuser>"
--
-- Idempotent: every insert is keyed on a natural key (user sub, operator
-- name + country, identifier type, role organisation, certificate
-- reference), so loading it twice changes nothing. Certificates come from
-- sql/lib/certgen.sql (deterministic, no random()): k = 1..300.
\set ON_ERROR_STOP 1
SET client_encoding = 'UTF8';
SET TIME ZONE 'UTC';
SET client_min_messages = warning;
BEGIN;

-- Users (EU Login identities; sub = uid)
INSERT INTO traces.users (sub, uid, email, given_name, family_name, phone, created_at, updated_at) VALUES
  ('inao.agent',        'inao.agent',        'claire.moreau@inao.example.fr',        'Claire',   'Moreau',    '+33 1 73 30 38 21', '2023-09-04 08:00+00', '2023-09-04 08:00+00'),
  ('commission.agent',  'commission.agent',  'jonas.verhoeven@ec.example.eu',        'Jonas',    'Verhoeven', '+32 2 299 11 11',   '2023-09-04 08:00+00', '2023-09-04 08:00+00'),
  ('importer.admin',    'importer.admin',    's.lambert@terres-ailleurs.example.fr', 'Sophie',   'Lambert',   '+33 1 45 60 12 34', '2024-03-10 09:12+00', '2024-03-10 09:12+00'),
  ('consignee.admin',   'consignee.admin',   'n.rousseau@biocentrale.example.fr',    'Nathalie', 'Rousseau',  '+33 4 72 50 10 20', '2024-02-01 14:03+00', '2024-02-01 14:03+00'),
  ('consignee.user',    'consignee.user',    'j.petit@biocentrale.example.fr',       'Julien',   'Petit',     '+33 4 72 50 10 27', '2024-05-21 10:40+00', '2024-05-21 10:40+00'),
  ('ocb.ecocert',       'ocb.ecocert',       'amelie.garnier@ecocert.example.fr',    'Amélie',   'Garnier',   '+33 5 62 07 34 24', '2024-01-15 08:30+00', '2024-01-15 08:30+00'),
  ('forwarder.lehavre', 'forwarder.lehavre', 'm.lefevre@transit-havrais.example.fr', 'Marc',     'Lefèvre',   '+33 2 35 19 45 00', '2024-04-02 07:55+00', '2024-04-02 07:55+00'),
  ('pending.importer',  'pending.importer',  't.bernard@terres-ailleurs.example.fr', 'Thomas',   'Bernard',   NULL,                '2026-10-28 16:20+00', '2026-10-28 16:20+00'),
  ('pending.newop',     'pending.newop',     'lea.fontaine@jardins-provence.example.fr', 'Léa',  'Fontaine',  '+33 4 90 71 22 10', '2026-10-30 11:05+00', '2026-10-30 11:05+00'),
  ('pending.ocb',       'pending.ocb',       'h.mercier@controlunion.example.com',   'Hugo',     'Mercier',   '+31 38 426 01 00',  '2026-10-29 09:45+00', '2026-10-29 09:45+00'),
  ('suspended.user',    'suspended.user',    'p.girard@epices-saveurs.example.fr',   'Paul',     'Girard',    NULL,                '2024-06-11 13:00+00', '2024-06-11 13:00+00')
ON CONFLICT (sub) DO NOTHING;

-- Operators
CREATE TEMP TABLE demo_operators (name text, country text, region text, postcode text, city text, address text,
                                  lat numeric, lon numeric, phone text, email text, web text, status text,
                                  activity text, activity2 text, cb text, cb_identifier text,
                                  eori text, cbr text, duns text, created_by text, created date)
  ON COMMIT DROP;
INSERT INTO demo_operators VALUES
  ('Terres d''Ailleurs Bio SAS', 'FR', 'Île-de-France', '94150', 'Rungis', '12 rue du Marché International, Bâtiment C3',
   48.748600, 2.352200, '+33 1 45 60 12 00', 'import@terres-ailleurs.example.fr', 'https://terres-ailleurs.example.fr', 'valid',
   'organic_importer', 'organic_operator', 'FR-BIO-01', '34512', 'FR81234567800029', '81234567800029', NULL, 'importer.admin', '2024-03-10'),
  ('Épices & Saveurs du Monde SARL', 'FR', 'Provence-Alpes-Côte d''Azur', '13015', 'Marseille', '45 chemin de la Madrague-Ville',
   43.350000, 5.360000, '+33 4 91 03 55 10', 'contact@epices-saveurs.example.fr', 'https://epices-saveurs.example.fr', 'valid',
   'organic_importer', NULL, 'FR-BIO-10', 'BV-BIO-20417', 'FR512345678', '51234567800015', NULL, NULL, '2023-11-20'),
  ('Normandie Céréales Bio SA', 'FR', 'Normandie', '76000', 'Rouen', '8 quai de Boisguilbert',
   49.443100, 1.099300, '+33 2 35 70 41 00', 'achats@normandie-cereales.example.fr', NULL, 'valid',
   'organic_importer', NULL, 'FR-BIO-09', 'CPQ-76-1183', 'FR43987654300028', '43987654300028', '275123456', NULL, '2023-10-05'),
  ('Café Solidaire du Nord SCOP', 'FR', 'Hauts-de-France', '59000', 'Lille', '101 rue de Fives',
   50.629200, 3.057300, '+33 3 20 47 62 00', 'bonjour@cafe-solidaire.example.fr', 'https://cafe-solidaire.example.fr', 'valid',
   'organic_importer', 'organic_operator', 'FR-BIO-13', 'CE-59-2290', 'FR790123456', '79012345600012', NULL, NULL, '2024-01-08'),
  ('Atlantique Fruits Exotiques SAS', 'FR', 'Pays de la Loire', '44600', 'Saint-Nazaire', 'Zone portuaire de Montoir, 2 rue des Docks',
   47.273500, -2.213800, '+33 2 40 22 80 80', 'logistique@atlantique-fruits.example.fr', NULL, 'valid',
   'organic_importer', NULL, 'FR-BIO-12', 'CS-44-0871', 'FR38765432100019', '38765432100019', NULL, NULL, '2024-02-14'),
  ('Naturkost Import Hamburg GmbH', 'DE', 'Hamburg', '20457', 'Hamburg', 'Am Sandtorkai 50',
   53.546100, 9.966100, '+49 40 3600 1200', 'einkauf@naturkost-import.example.de', NULL, 'valid',
   'organic_importer', NULL, 'DE-ÖKO-006', 'ABC-HH-4410', 'DE4711234567890', NULL, NULL, NULL, '2023-12-01'),
  ('Groene Haven Import B.V.', 'NL', 'Zuid-Holland', '3011 TA', 'Rotterdam', 'Wijnhaven 60',
   51.922500, 4.479200, '+31 10 240 9900', 'import@groenehaven.example.nl', NULL, 'valid',
   'organic_importer', NULL, 'NL-BIO-01', 'SKAL-027731', 'NL812345678', NULL, NULL, NULL, '2023-12-04'),
  ('Biocentrale Distribution SAS', 'FR', 'Auvergne-Rhône-Alpes', '69960', 'Corbas', '3 rue Marcel Mérieux',
   45.668000, 4.902000, '+33 4 72 50 10 00', 'appro@biocentrale.example.fr', 'https://biocentrale.example.fr', 'valid',
   'organic_operator', NULL, 'FR-BIO-01', '28830', NULL, '41234567800017', '268451234', 'consignee.admin', '2024-02-01'),
  ('Épicerie Verte Coopérative', 'FR', 'Bretagne', '35000', 'Rennes', '17 boulevard de la Liberté',
   48.117300, -1.677800, '+33 2 99 30 12 12', 'contact@epicerie-verte.example.fr', NULL, 'valid',
   'organic_operator', NULL, 'FR-BIO-10', 'BV-BIO-18022', NULL, '52345678900021', NULL, NULL, '2024-01-19'),
  ('Les Délices Bio du Sud-Ouest SARL', 'FR', 'Nouvelle-Aquitaine', '47000', 'Agen', '230 avenue Jean Jaurès',
   44.203300, 0.616300, '+33 5 53 66 40 40', 'commandes@delices-bio-so.example.fr', NULL, 'valid',
   'organic_operator', NULL, 'FR-BIO-09', 'CPQ-47-0412', NULL, '63456789000034', NULL, NULL, '2024-03-02'),
  ('Chocolaterie Artisanale de Bayonne SAS', 'FR', 'Nouvelle-Aquitaine', '64100', 'Bayonne', '6 rue Port-Neuf',
   43.492900, -1.474800, '+33 5 59 25 61 61', 'atelier@choco-bayonne.example.fr', 'https://choco-bayonne.example.fr', 'valid',
   'organic_operator', NULL, 'FR-BIO-16', 'QS-64-0199', NULL, '74567890100046', NULL, NULL, '2024-04-16'),
  ('Bio-Großhandel Nord GmbH', 'DE', 'Bremen', '28195', 'Bremen', 'Am Wall 140',
   53.079300, 8.801700, '+49 421 33 44 50', 'info@bio-nord.example.de', NULL, 'valid',
   'organic_operator', NULL, 'DE-ÖKO-006', 'ABC-HB-1177', NULL, NULL, NULL, NULL, '2023-12-01'),
  ('De Biologische Groothandel B.V.', 'NL', 'Utrecht', '3511 AB', 'Utrecht', 'Oudegracht 230',
   52.090700, 5.121400, '+31 30 231 4455', 'inkoop@biogroothandel.example.nl', NULL, 'valid',
   'organic_operator', NULL, 'NL-BIO-01', 'SKAL-031208', NULL, NULL, NULL, NULL, '2023-12-04'),
  -- created by pending.newop, waiting for INAO: status new
  ('Jardins de Provence Import SAS', 'FR', 'Provence-Alpes-Côte d''Azur', '84300', 'Cavaillon', '410 avenue du Marché Gare',
   43.837600, 5.038100, '+33 4 90 71 22 00', 'contact@jardins-provence.example.fr', NULL, 'new',
   'organic_importer', NULL, 'FR-BIO-01', '39015', 'FR45678912300014', '45678912300014', NULL, 'pending.newop', '2026-10-30');

INSERT INTO traces.operators (name, country_code, region, postcode, city, address, latitude, longitude,
                              phone, email, web_url, status, created_by, created_at, validated_by, validated_at, updated_at)
SELECT d.name, d.country, d.region, d.postcode, d.city, d.address, d.lat, d.lon, d.phone, d.email, d.web, d.status,
       (SELECT id FROM traces.users WHERE sub = d.created_by),
       d.created + time '09:30',
       CASE WHEN d.status = 'valid' THEN (SELECT id FROM traces.users WHERE sub = 'inao.agent') END,
       CASE WHEN d.status = 'valid' THEN d.created + time '09:30' + interval '2 days' END,
       d.created + time '09:30' + CASE WHEN d.status = 'valid' THEN interval '2 days' ELSE interval '0' END
  FROM demo_operators d
 WHERE NOT EXISTS (SELECT 1 FROM traces.operators o WHERE o.name = d.name AND o.country_code = d.country);

INSERT INTO traces.operator_identifiers (operator_id, type, value)
SELECT o.id, x.type, x.value
  FROM demo_operators d
  JOIN traces.operators o ON o.name = d.name AND o.country_code = d.country
  CROSS JOIN LATERAL (VALUES ('eori', d.eori), ('central_business_register', d.cbr), ('duns', d.duns)) x(type, value)
 WHERE x.value IS NOT NULL
ON CONFLICT (operator_id, type) DO NOTHING;

INSERT INTO traces.operator_activities (operator_id, activity, control_body_id, identifier, valid_from, valid_until,
                                        publication_date, application_date, remarks, created_at)
SELECT o.id, x.activity, cb.id, d.cb_identifier,
       date_trunc('year', d.created)::date, (date_trunc('year', d.created) + interval '3 years - 1 day')::date,
       d.created + 1, d.created,
       CASE x.activity WHEN 'organic_importer' THEN 'Certificat bio en cours de validité, importations pays tiers'
                       ELSE 'Premier destinataire, réception et conditionnement' END,
       d.created + time '09:30'
  FROM demo_operators d
  JOIN traces.operators o ON o.name = d.name AND o.country_code = d.country
  JOIN traces.control_bodies cb ON cb.code = d.cb
  CROSS JOIN LATERAL (VALUES (d.activity), (d.activity2)) x(activity)
 WHERE x.activity IS NOT NULL
ON CONFLICT (operator_id, activity, control_body_id) DO NOTHING;

-- Roles
CREATE TEMP TABLE demo_roles (sub text, kind text, org text, status text, is_admin boolean, first_request boolean,
                              message text, contact_email text, contact_phone text,
                              requested timestamptz, decided_by text, decided timestamptz, created_by text)
  ON COMMIT DROP;
INSERT INTO demo_roles VALUES
  ('inao.agent', 'authority', 'FR-INAO', 'valid', false, false, NULL, NULL, NULL,
   '2023-09-04 08:05+00', NULL, '2023-09-04 08:05+00', 'commission.agent'),
  ('commission.agent', 'commission', '1', 'valid', false, false, NULL, NULL, NULL,
   '2023-09-04 08:00+00', NULL, '2023-09-04 08:00+00', NULL),
  ('importer.admin', 'operator', 'Terres d''Ailleurs Bio SAS', 'valid', true, true,
   'Responsable import, création du profil opérateur', 's.lambert@terres-ailleurs.example.fr', '+33 1 45 60 12 34',
   '2024-03-10 09:40+00', 'inao.agent', '2024-03-12 09:30+00', 'importer.admin'),
  ('consignee.admin', 'operator', 'Biocentrale Distribution SAS', 'valid', true, true,
   'Responsable qualité, premier destinataire', 'n.rousseau@biocentrale.example.fr', '+33 4 72 50 10 20',
   '2024-02-01 14:10+00', 'inao.agent', '2024-02-03 09:30+00', 'consignee.admin'),
  ('consignee.user', 'operator', 'Biocentrale Distribution SAS', 'valid', false, false,
   'Service réception marchandises', 'j.petit@biocentrale.example.fr', '+33 4 72 50 10 27',
   '2024-05-21 10:45+00', 'consignee.admin', '2024-05-22 08:15+00', 'consignee.user'),
  ('ocb.ecocert', 'control_body', 'FR-BIO-01', 'valid', false, false,
   'Chargée de certification, service import', 'amelie.garnier@ecocert.example.fr', '+33 5 62 07 34 24',
   '2024-01-15 08:40+00', 'inao.agent', '2024-01-16 10:00+00', 'ocb.ecocert'),
  ('forwarder.lehavre', 'point_of_entry', 'FRLEH4', 'valid', false, false,
   'Transitaire agréé, demande transmise par la DGCCRF (Bureau 4B)', 'm.lefevre@transit-havrais.example.fr', '+33 2 35 19 45 00',
   '2024-04-02 08:00+00', 'commission.agent', '2024-04-05 11:00+00', 'commission.agent'),
  ('suspended.user', 'operator', 'Épices & Saveurs du Monde SARL', 'suspended', false, false,
   'Assistant logistique', 'p.girard@epices-saveurs.example.fr', NULL,
   '2024-06-11 13:05+00', 'inao.agent', '2025-02-03 15:00+00', 'suspended.user'),
  ('pending.importer', 'operator', 'Terres d''Ailleurs Bio SAS', 'requested', false, false,
   'Nouvel acheteur, service import', 't.bernard@terres-ailleurs.example.fr', '+33 1 45 60 12 40',
   '2026-10-28 16:25+00', NULL, NULL, 'pending.importer'),
  ('pending.newop', 'operator', 'Jardins de Provence Import SAS', 'requested', false, true,
   'Operator n. 11111', 'lea.fontaine@jardins-provence.example.fr', '+33 4 90 71 22 10',
   '2026-10-30 11:20+00', NULL, NULL, 'pending.newop'),
  ('pending.ocb', 'control_body', 'AE-BIO-149', 'requested', false, false,
   'Test demonstration', 'name@domain.com', '+32 02 123456', '2026-10-29 09:50+00', NULL, NULL, 'pending.ocb'),
  ('pending.ocb', 'control_body', 'AF-BIO-149', 'requested', false, false,
   'Test demonstration', 'name@domain.com', '+32 02 123456', '2026-10-29 09:50+00', NULL, NULL, 'pending.ocb'),
  ('pending.ocb', 'control_body', 'AL-BIO-149', 'requested', false, false,
   'Test demonstration', 'name@domain.com', '+32 02 123456', '2026-10-29 09:50+00', NULL, NULL, 'pending.ocb');

INSERT INTO traces.roles (user_id, kind, operator_id, control_body_id, authority_id, point_of_entry_id, commission_id,
                          status, is_admin, first_request, message, contact_email, contact_phone,
                          requested_at, decided_by, decided_at, created_by, updated_at)
SELECT u.id, r.kind,
       (SELECT o.id FROM traces.operators o WHERE r.kind = 'operator' AND o.name = r.org),
       (SELECT c.id FROM traces.control_bodies c WHERE r.kind = 'control_body' AND c.code = r.org),
       (SELECT a.id FROM traces.competent_authorities a WHERE r.kind = 'authority' AND a.code = r.org),
       (SELECT p.id FROM traces.points_of_entry p WHERE r.kind = 'point_of_entry' AND p.code = r.org),
       CASE WHEN r.kind = 'commission' THEN 1 END,
       r.status, r.is_admin, r.first_request, r.message, r.contact_email, r.contact_phone,
       r.requested, (SELECT id FROM traces.users WHERE sub = r.decided_by), r.decided,
       (SELECT id FROM traces.users WHERE sub = r.created_by), coalesce(r.decided, r.requested)
  FROM demo_roles r
  JOIN traces.users u ON u.sub = r.sub
ON CONFLICT DO NOTHING;

-- Audit trail of the decisions above (once per role)
INSERT INTO traces.audit_log (at, actor_user_id, action, role_id, operator_id, control_body_id, authority_id,
                              point_of_entry_id, country_code, target_user_id, before_status, after_status, detail)
SELECT ro.decided_at, ro.decided_by, 'role.decision', ro.id, ro.operator_id, ro.control_body_id, ro.authority_id,
       ro.point_of_entry_id,
       coalesce(o.country_code, cb.country_code, ca.country_code, pe.country_code),
       ro.user_id, 'requested', CASE WHEN ro.status = 'suspended' THEN 'valid' ELSE ro.status END,
       jsonb_build_object('admin', ro.is_admin, 'demo', true)
  FROM traces.roles ro
  JOIN traces.users u ON u.id = ro.user_id
  LEFT JOIN traces.operators o ON o.id = ro.operator_id
  LEFT JOIN traces.control_bodies cb ON cb.id = ro.control_body_id
  LEFT JOIN traces.competent_authorities ca ON ca.id = ro.authority_id
  LEFT JOIN traces.points_of_entry pe ON pe.id = ro.point_of_entry_id
 WHERE u.sub IN (SELECT sub FROM demo_roles) AND ro.decided_by IS NOT NULL
   AND NOT EXISTS (SELECT 1 FROM traces.audit_log l WHERE l.role_id = ro.id AND l.action = 'role.decision');

INSERT INTO traces.audit_log (at, actor_user_id, action, role_id, operator_id, country_code, target_user_id,
                              before_status, after_status, detail)
SELECT ro.decided_at + interval '1 hour', ro.decided_by, 'role.decision', ro.id, ro.operator_id, o.country_code,
       ro.user_id, 'valid', 'suspended', jsonb_build_object('demo', true, 'reason', 'a quitté la société')
  FROM traces.roles ro
  JOIN traces.users u ON u.id = ro.user_id AND u.sub = 'suspended.user'
  JOIN traces.operators o ON o.id = ro.operator_id
 WHERE ro.status = 'suspended'
   AND NOT EXISTS (SELECT 1 FROM traces.audit_log l WHERE l.role_id = ro.id AND l.after_status = 'suspended');

INSERT INTO traces.audit_log (at, actor_user_id, action, operator_id, country_code, before_status, after_status, detail)
SELECT o.validated_at, o.validated_by, 'operator.validate', o.id, o.country_code, 'new', 'valid',
       jsonb_build_object('demo', true)
  FROM traces.operators o JOIN demo_operators d ON d.name = o.name AND d.country = o.country_code
 WHERE o.status = 'valid' AND o.validated_by IS NOT NULL
   AND NOT EXISTS (SELECT 1 FROM traces.audit_log l WHERE l.operator_id = o.id AND l.action = 'operator.validate');

-- Certificates: k = 1..300 over the demo operators (valid ones)
\ir lib/certgen.sql
SELECT pg_temp.certgen_prepare(ARRAY(
  SELECT o.id FROM traces.operators o JOIN demo_operators d ON d.name = o.name AND d.country = o.country_code
   WHERE o.status = 'valid')) AS prepared \gset
SELECT pg_temp.certgen(1, 300, true) AS inserted \gset
\echo demo certificates inserted: :inserted

COMMIT;
