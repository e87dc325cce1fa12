-- Deterministic certificate generator shared by sql/demo.sql and
-- sql/generate. Session-local (pg_temp): include it with \i, then
--   SELECT pg_temp.certgen_prepare(operator_ids bigint[] or NULL);
--   SELECT pg_temp.certgen(first_k, count, skip_existing);
-- Certificate number k gets content that is a function of k alone (no
-- random()): its importer, first consignee, issuer, point of entry, status,
-- dates and 1-3 product lines are picked by hashint8(k, salt) from the
-- lists certgen_prepare built (ordered by id/code). Its reference (box 3) is
-- COI.<year>.<k, 7 digits>. Run as a superuser (row-level security is
-- forced on the certificate tables).
SET client_encoding = 'UTF8';

-- a stable 32-bit hash of (k, salt), 0 .. 2^32-1
CREATE OR REPLACE FUNCTION pg_temp.h(k bigint, s integer) RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS 'SELECT hashint8($1 * 64 + $2)::bigint + 2147483648';

CREATE OR REPLACE FUNCTION pg_temp.certgen_prepare(p_operator_ids bigint[]) RETURNS text
LANGUAGE plpgsql AS $fn$
DECLARE
  v_imp int; v_iss int; v_cat int;
BEGIN
  DROP TABLE IF EXISTS pg_temp.gen_catalogue, pg_temp.gen_exporters, pg_temp.gen_products,
                       pg_temp.gen_importers, pg_temp.gen_country, pg_temp.gen_issuers,
                       pg_temp.gen_origins, pg_temp.gen_paths, pg_temp.gen_misc;

  CREATE TEMP TABLE gen_exporters (country text, ord int, name text, address text, city text);
  INSERT INTO gen_exporters VALUES
    ('AE', 1, 'Al Noor Organic Dates Trading LLC', 'Jebel Ali Free Zone, Dubai', 'Dubai'),
    ('AE', 2, 'Emirates Green Foods FZE', 'Sharjah Airport International Free Zone, Sharjah', 'Sharjah'),
    ('AF', 1, 'Kabul Dried Fruit Export Co.', 'Karte Se, Kabul', 'Kabul'),
    ('AF', 2, 'Herat Saffron Growers Union', 'Injil District, Herat', 'Herat'),
    ('AL', 1, 'Albanian Herbs & Spices Sh.p.k.', 'Rruga Durrës-Tiranë km 7, Vorë', 'Tirana'),
    ('AL', 2, 'Shkodra Medicinal Plants Sh.p.k.', 'Lagjja Perash, Shkodër', 'Shkodër'),
    ('AR', 1, 'Patagonia Organic Fruits S.A.', 'Ruta 22 km 1203, General Roca, Río Negro', 'General Roca'),
    ('AR', 2, 'Miel Orgánica del Litoral S.R.L.', 'Bv. Gálvez 1450, Santa Fe', 'Santa Fe'),
    ('BR', 1, 'Cooperativa Orgânica do Vale Ltda.', 'Rodovia SP-330 km 312, Ribeirão Preto SP', 'Ribeirão Preto'),
    ('BR', 2, 'Amazônia Açaí Orgânico Ltda.', 'Av. Almirante Barroso 3150, Belém PA', 'Belém'),
    ('CA', 1, 'Prairie Organic Grains Inc.', '1200 8th Street East, Saskatoon SK', 'Saskatoon'),
    ('CA', 2, 'Laurentian Organic Oats Ltd.', '455 rue Principale, Saint-Hyacinthe QC', 'Saint-Hyacinthe'),
    ('CN', 1, 'Heilongjiang Black Earth Organic Co., Ltd.', 'No. 18 Xuefu Road, Harbin', 'Harbin'),
    ('CN', 2, 'Yunnan Green Valley Tea Co., Ltd.', 'No. 66 Dianchi Road, Kunming', 'Kunming'),
    ('DO', 1, 'Asociación de Productores de Banano Orgánico del Noroeste', 'Carretera Mao-Valverde km 3, Mao', 'Mao'),
    ('DO', 2, 'Cacao Orgánico Dominicano S.R.L.', 'Av. Duarte 45, San Francisco de Macorís', 'San Francisco de Macorís'),
    ('EC', 1, 'Bananera Orgánica El Oro S.A.', 'Vía Machala-Pasaje km 5, Machala', 'Machala'),
    ('EC', 2, 'Camaronera Ecológica del Pacífico S.A.', 'Av. 9 de Octubre 1911, Guayaquil', 'Guayaquil'),
    ('EG', 1, 'Nile Valley Organic Herbs Co.', 'Industrial Zone, Beni Suef', 'Beni Suef'),
    ('EG', 2, 'Sinai Sun Organic Farms', 'Ismailia Desert Road km 60, Ismailia', 'Ismailia'),
    ('IN', 1, 'Kerala Spice Growers Exports Pvt. Ltd.', 'MG Road, Kochi 682016', 'Kochi'),
    ('IN', 2, 'Punjab Organic Basmati Pvt. Ltd.', 'GT Road, Amritsar 143001', 'Amritsar'),
    ('KE', 1, 'Mount Kenya Organic Tea Ltd.', 'Kericho-Nakuru Road, Kericho', 'Kericho'),
    ('KE', 2, 'Rift Valley Avocado Growers Ltd.', 'Moi South Lake Road, Naivasha', 'Naivasha'),
    ('LK', 1, 'Ceylon Organic Tea Estates (Pvt) Ltd.', 'Nuwara Eliya Road, Hatton', 'Hatton'),
    ('LK', 2, 'Lanka Coconut & Spice Exports (Pvt) Ltd.', 'Negombo Road, Wattala', 'Wattala'),
    ('MA', 1, 'Argan Bio Souss S.A.R.L.', 'Zone industrielle Tassila, Agadir', 'Agadir'),
    ('MA', 2, 'Dattes du Tafilalet Bio S.A.R.L.', 'Route de Rissani, Erfoud', 'Erfoud'),
    ('MG', 1, 'Vanille Bio de la Sava S.A.R.L.', 'Route d''Antalaha, Sambava', 'Sambava'),
    ('MG', 2, 'Épices Bio de Madagascar S.A.', 'Lot II J 165, Antananarivo', 'Antananarivo'),
    ('MX', 1, 'Café Orgánico de Chiapas S.C.', 'Carretera Tapachula-Puerto Madero km 4, Tapachula', 'Tapachula'),
    ('MX', 2, 'Aguacates Orgánicos de Michoacán S.A. de C.V.', 'Blvd. Industrial 220, Uruapan', 'Uruapan'),
    ('PE', 1, 'Cooperativa Agraria Cafetalera Selva Central', 'Jr. Tarma 455, La Merced, Chanchamayo', 'La Merced'),
    ('PE', 2, 'Andes Quinoa Orgánica S.A.C.', 'Av. El Sol 870, Juliaca, Puno', 'Juliaca'),
    ('TH', 1, 'Isan Organic Jasmine Rice Co., Ltd.', '99 Moo 4, Mueang, Surin', 'Surin'),
    ('TH', 2, 'Siam Coconut Organic Co., Ltd.', '120 Moo 2, Bang Khonthi, Samut Songkhram', 'Samut Songkhram'),
    ('TN', 1, 'Huilerie Bio du Sahel S.A.', 'Route de Monastir km 8, Sousse', 'Sousse'),
    ('TN', 2, 'Dattes Bio de Kébili S.A.R.L.', 'Route de Douz, Kébili', 'Kébili'),
    ('TR', 1, 'Malatya Organik Kayısı A.Ş.', 'Organize Sanayi Bölgesi 3. Cad., Malatya', 'Malatya'),
    ('TR', 2, 'Ege Organik Kuru Meyve Ltd. Şti.', 'Kemalpaşa OSB, İzmir', 'İzmir'),
    ('UA', 1, 'Poltava Organic Grain LLC', '25 Zinkivska Street, Poltava', 'Poltava'),
    ('UA', 2, 'Odesa Organic Oilseeds LLC', '12 Promyslova Street, Odesa', 'Odesa'),
    ('US', 1, 'Central Valley Organic Almonds Inc.', '4100 N Golden State Blvd, Fresno CA', 'Fresno'),
    ('US', 2, 'Red River Organic Grains LLC', '300 2nd Ave N, Fargo ND', 'Fargo'),
    ('VN', 1, 'Binh Phuoc Organic Cashew JSC', 'Dong Xoai Industrial Park, Binh Phuoc', 'Dong Xoai'),
    ('VN', 2, 'Mekong Organic Shrimp Co., Ltd.', 'Ca Mau Industrial Zone, Ca Mau', 'Ca Mau');

  -- (country, cn code, trade name, category, package type, kg per package or NULL for bulk)
  CREATE TEMP TABLE gen_products (country text, ord int, cn text, name text, cat text, pkg text, unit numeric);
  INSERT INTO gen_products
  SELECT country, row_number() OVER (PARTITION BY country ORDER BY n), cn, name, cat, pkg, unit
    FROM (VALUES
    (1, 'AE', '08041000', 'Organic Medjool dates', 'A', 'cartons', 5),
    (2, 'AE', '08041000', 'Organic Khalas dates', 'A', 'cartons', 10),
    (3, 'AF', '08062030', 'Organic sultanas', 'A', 'bags', 12.5),
    (4, 'AF', '08134095', 'Organic dried white mulberries', 'A', 'bags', 10),
    (5, 'AF', '09102000', 'Organic saffron', 'A', 'boxes', 1),
    (6, 'AL', '12119086', 'Organic dried sage leaves', 'A', 'bales', 25),
    (7, 'AL', '12119086', 'Organic dried oregano', 'A', 'bales', 20),
    (8, 'AL', '08024100', 'Organic chestnuts in shell', 'A', 'bags', 25),
    (9, 'AR', '04090000', 'Organic honey', 'B', 'drums', 300),
    (10, 'AR', '08083010', 'Organic pears', 'A', 'cartons', 18),
    (11, 'AR', '08081080', 'Organic apples', 'A', 'cartons', 18),
    (12, 'BR', '17011490', 'Organic raw cane sugar', 'D', 'bags', 50),
    (13, 'BR', '08119095', 'Organic frozen açaí pulp', 'D', 'cartons', 20),
    (14, 'BR', '21011100', 'Organic instant coffee', 'D', 'cartons', 12),
    (15, 'CA', '10019900', 'Organic spring wheat', 'A', 'bulk', NULL),
    (16, 'CA', '07134000', 'Organic green lentils', 'A', 'bags', 25),
    (17, 'CA', '11041290', 'Organic rolled oats', 'D', 'bags', 25),
    (18, 'CN', '12019000', 'Organic soya beans', 'A', 'bags', 50),
    (19, 'CN', '09022000', 'Organic green tea', 'D', 'cartons', 20),
    (20, 'CN', '08134095', 'Organic dried goji berries', 'A', 'cartons', 10),
    (21, 'CN', '12099180', 'Organic vegetable seeds for sowing', 'F', 'boxes', 5),
    (22, 'DO', '08039010', 'Organic bananas', 'A', 'cartons', 18.14),
    (23, 'DO', '18010000', 'Organic cocoa beans', 'A', 'bags', 64),
    (24, 'EC', '08039010', 'Organic bananas', 'A', 'cartons', 18.14),
    (25, 'EC', '18010000', 'Organic cocoa beans (Arriba Nacional)', 'A', 'bags', 69),
    (26, 'EC', '03061792', 'Organic frozen shrimps (Penaeus vannamei)', 'C', 'cartons', 20),
    (27, 'EG', '12119086', 'Organic dried chamomile flowers', 'A', 'bags', 20),
    (28, 'EG', '08051022', 'Organic oranges', 'A', 'cartons', 15),
    (29, 'EG', '07031019', 'Organic onions', 'A', 'bags', 25),
    (30, 'IN', '10063098', 'Organic basmati rice', 'A', 'bags', 25),
    (31, 'IN', '09103000', 'Organic turmeric', 'A', 'bags', 25),
    (32, 'IN', '12074090', 'Organic sesame seeds', 'A', 'bags', 25),
    (33, 'IN', '23040000', 'Organic soya bean oilcake for feed', 'E', 'bags', 50),
    (34, 'KE', '09024000', 'Organic black tea', 'D', 'bags', 60),
    (35, 'KE', '08044000', 'Organic avocados', 'A', 'cartons', 4),
    (36, 'KE', '07082000', 'Organic green beans', 'A', 'cartons', 5),
    (37, 'LK', '09024000', 'Organic Ceylon black tea', 'D', 'cartons', 20),
    (38, 'LK', '08011100', 'Organic desiccated coconut', 'A', 'bags', 25),
    (39, 'LK', '09061100', 'Organic Ceylon cinnamon', 'A', 'cartons', 10),
    (40, 'MA', '15159099', 'Organic argan oil', 'D', 'drums', 200),
    (41, 'MA', '08041000', 'Organic Mejhoul dates', 'A', 'cartons', 5),
    (42, 'MA', '07020000', 'Organic cherry tomatoes', 'A', 'cartons', 3),
    (43, 'MG', '09051000', 'Organic vanilla beans', 'A', 'boxes', 10),
    (44, 'MG', '09071000', 'Organic cloves', 'A', 'bags', 30),
    (45, 'MX', '09011100', 'Organic green coffee beans', 'A', 'bags', 69),
    (46, 'MX', '08044000', 'Organic Hass avocados', 'A', 'cartons', 10),
    (47, 'MX', '17029095', 'Organic agave syrup', 'D', 'drums', 280),
    (48, 'PE', '09011100', 'Organic green coffee beans', 'A', 'bags', 69),
    (49, 'PE', '18010000', 'Organic cocoa beans', 'A', 'bags', 60),
    (50, 'PE', '10085000', 'Organic white quinoa', 'A', 'bags', 25),
    (51, 'PE', '08045000', 'Organic Kent mangoes', 'A', 'cartons', 4),
    (52, 'TH', '10063098', 'Organic jasmine rice', 'A', 'bags', 25),
    (53, 'TH', '21069098', 'Organic coconut milk', 'D', 'cartons', 9.6),
    (54, 'TN', '15092000', 'Organic extra virgin olive oil', 'D', 'drums', 190),
    (55, 'TN', '08041000', 'Organic Deglet Nour dates', 'A', 'cartons', 5),
    (56, 'TR', '08131000', 'Organic dried apricots', 'A', 'cartons', 12.5),
    (57, 'TR', '08022200', 'Organic shelled hazelnuts', 'A', 'bags', 50),
    (58, 'TR', '08062030', 'Organic sultanas', 'A', 'cartons', 12.5),
    (59, 'TR', '08042090', 'Organic dried figs', 'A', 'cartons', 10),
    (60, 'UA', '10019900', 'Organic milling wheat', 'A', 'bulk', NULL),
    (61, 'UA', '12060099', 'Organic sunflower seeds', 'A', 'bulk', NULL),
    (62, 'UA', '12019000', 'Organic soya beans', 'A', 'bulk', NULL),
    (63, 'UA', '23063000', 'Organic sunflower seed oilcake for feed', 'E', 'bulk', NULL),
    (64, 'US', '08021290', 'Organic shelled almonds', 'A', 'cartons', 22.68),
    (65, 'US', '10081000', 'Organic buckwheat', 'A', 'bags', 25),
    (66, 'VN', '08013200', 'Organic cashew kernels W320', 'A', 'cartons', 22.68),
    (67, 'VN', '09041100', 'Organic black pepper', 'A', 'bags', 50),
    (68, 'VN', '03061792', 'Organic frozen shrimps (Penaeus monodon)', 'C', 'cartons', 10)
    ) v(n, country, cn, name, cat, pkg, unit);

  -- one row per origin country: aligned arrays
  CREATE TEMP TABLE gen_catalogue AS
  SELECT e.country, e.names, e.addresses, e.cities,
         p.cns, p.pnames, p.cats, p.pkgs, p.units
    FROM (SELECT country, array_agg(name ORDER BY ord) names, array_agg(address ORDER BY ord) addresses,
                 array_agg(city ORDER BY ord) cities
            FROM gen_exporters GROUP BY country) e
    JOIN (SELECT country, array_agg(cn ORDER BY ord) cns, array_agg(name ORDER BY ord) pnames,
                 array_agg(cat ORDER BY ord) cats, array_agg(pkg ORDER BY ord) pkgs,
                 array_agg(unit ORDER BY ord) units
            FROM gen_products GROUP BY country) p USING (country);
  ALTER TABLE gen_catalogue ADD PRIMARY KEY (country);

  -- origins for issuers that are not in a catalogue country (e.g. FR-BIO-01)
  CREATE TEMP TABLE gen_origins AS
  SELECT (row_number() OVER (ORDER BY country) - 1)::int AS ord, country FROM gen_catalogue;

  -- importers: valid operators with an organic_importer activity
  CREATE TEMP TABLE gen_importers AS
  SELECT (row_number() OVER (ORDER BY o.id) - 1)::int AS ord, o.id, o.country_code AS country,
         (SELECT i.value FROM traces.operator_identifiers i WHERE i.operator_id = o.id AND i.type = 'eori') AS eori
    FROM traces.operators o
   WHERE o.status = 'valid'
     AND (p_operator_ids IS NULL OR o.id = ANY (p_operator_ids))
     AND EXISTS (SELECT 1 FROM traces.operator_activities a
                  WHERE a.operator_id = o.id AND a.activity = 'organic_importer');
  SELECT count(*) INTO v_imp FROM gen_importers;
  IF v_imp = 0 THEN
    RAISE EXCEPTION 'certgen: no valid organic importer (load sql/demo.sql first)';
  END IF;

  -- per destination country: first consignees (valid operators with an
  -- organic_operator activity; else the importers), points of entry, authority
  CREATE TEMP TABLE gen_country AS
  SELECT d.country,
         coalesce((SELECT array_agg(o.id ORDER BY o.id) FROM traces.operators o
                    WHERE o.country_code = d.country AND o.status = 'valid'
                      AND (p_operator_ids IS NULL OR o.id = ANY (p_operator_ids))
                      AND EXISTS (SELECT 1 FROM traces.operator_activities a
                                   WHERE a.operator_id = o.id AND a.activity = 'organic_operator')),
                  (SELECT array_agg(i.id ORDER BY i.id) FROM gen_importers i WHERE i.country = d.country)) AS consignees,
         (SELECT array_agg(p.id ORDER BY p.code) FROM traces.points_of_entry p
           WHERE p.country_code = d.country AND p.active) AS poes,
         (SELECT array_agg(p.kind ORDER BY p.code) FROM traces.points_of_entry p
           WHERE p.country_code = d.country AND p.active) AS poe_kinds,
         (SELECT a.id FROM traces.competent_authorities a
           WHERE a.country_code = d.country AND a.kind = 'competent_authority') AS authority_id
    FROM (SELECT DISTINCT country FROM gen_importers) d;
  IF EXISTS (SELECT 1 FROM gen_country WHERE poes IS NULL) THEN
    RAISE EXCEPTION 'certgen: importers in a country without point of entry: %',
      (SELECT string_agg(country, ',') FROM gen_country WHERE poes IS NULL);
  END IF;
  ALTER TABLE gen_country ADD PRIMARY KEY (country);

  -- issuers: third-country control body entries of catalogue countries;
  -- FR-BIO-01 (Ecocert France) is picked for 1 certificate in 12 when it exists
  CREATE TEMP TABLE gen_issuers AS
  SELECT (row_number() OVER (ORDER BY cb.code) - 1)::int AS ord, cb.id, cb.country_code AS country
    FROM traces.control_bodies cb
    JOIN traces.countries c ON c.code = cb.country_code AND NOT c.eu_member
   WHERE cb.active AND cb.country_code IN (SELECT country FROM gen_catalogue);
  SELECT count(*) INTO v_iss FROM gen_issuers;
  IF v_iss = 0 THEN
    RAISE EXCEPTION 'certgen: no third-country control body';
  END IF;

  CREATE TEMP TABLE gen_misc AS
  SELECT (SELECT id FROM traces.control_bodies WHERE code = 'FR-BIO-01') AS ecocert_fr,
         v_imp AS n_importers, v_iss AS n_issuers,
         (SELECT count(*)::int FROM gen_origins) AS n_origins,
         ARRAY['MSCU', 'MAEU', 'CMAU', 'HLXU', 'OOLU', 'TGHU', 'CGMU', 'SUDU'] AS container_prefixes,
         ARRAY['MSC Aurora', 'CMA CGM Marco Polo', 'Maersk Kensington', 'Hamburg Express',
               'CMA CGM Tage', 'MSC Ambra', 'Cap San Lorenzo', 'Maersk Seletar'] AS vessels,
         ARRAY['AF', 'KL', 'LH', 'EK', 'TK', 'ET', 'QR', 'CA'] AS airlines,
         ARRAY['J. van der Berg', 'M. Dupont', 'L. Wang', 'A. Sharma', 'C. Quispe',
               'E. Yılmaz', 'O. Kovalenko', 'S. Haddad', 'R. Mendoza', 'K. Otieno'] AS signatories,
         ARRAY['Swiss Organic Trading AG|Bahnhofstrasse 21, 6300 Zug|CH',
               'Global Organic Commodities Ltd|12 Fenchurch Street, London EC3M 3BY|GB',
               'Rotterdam Organic Traders B.V.|Wilhelminakade 91, 3072 AP Rotterdam|NL'] AS traders;

  -- status path: which history entries a certificate of a status has, and
  -- when (offset from creation, or from issue when from_issue)
  CREATE TEMP TABLE gen_paths (status text, step int, st text, offs interval, from_issue boolean);
  INSERT INTO gen_paths
  SELECT s.status, b.step, b.st, b.offs, b.from_issue
    FROM (VALUES ('draft', 1), ('new', 2), ('in_progress', 3), ('issued', 4), ('verified', 4),
                 ('received', 4), ('rejected', 4), ('cancelled', 4), ('replaced', 4)) s(status, upto)
    JOIN (VALUES (1, 'draft', interval '0', false), (2, 'new', interval '3 hours', false),
                 (3, 'in_progress', interval '20 hours', false), (4, 'issued', interval '0', true)) b(step, st, offs, from_issue)
      ON b.step <= s.upto
  UNION ALL
  SELECT * FROM (VALUES ('verified', 5, 'verified', interval '7 days', true),
                        ('received', 5, 'verified', interval '7 days', true),
                        ('received', 6, 'received', interval '10 days', true),
                        ('rejected', 5, 'rejected', interval '5 days', true),
                        ('cancelled', 5, 'cancelled', interval '5 days', true),
                        ('replaced', 5, 'replaced', interval '5 days', true)) x;

  ANALYZE gen_catalogue; ANALYZE gen_origins; ANALYZE gen_importers; ANALYZE gen_country;
  ANALYZE gen_issuers; ANALYZE gen_paths;
  RETURN format('certgen: %s importers, %s destination countries, %s issuers', v_imp,
                (SELECT count(*) FROM gen_country), v_iss);
END
$fn$;

-- Inserts certificates k = p_first .. p_first + p_count - 1 with their lines
-- and status history, in one statement. p_skip_existing: leave out a k whose
-- reference exists already (demo.sql, loaded twice). Returns rows inserted.
CREATE OR REPLACE FUNCTION pg_temp.certgen(p_first bigint, p_count integer, p_skip_existing boolean DEFAULT false,
                                           p_anchor timestamptz DEFAULT '2026-11-01 08:00:00+00')
RETURNS bigint
LANGUAGE plpgsql AS $fn$
DECLARE
  v_n bigint;
BEGIN
  WITH pick AS (
    SELECT g.k,
           imp.id AS importer_id, imp.country AS dest, imp.eori,
           gc.consignees, gc.poes, gc.poe_kinds, gc.authority_id,
           CASE WHEN m.ecocert_fr IS NOT NULL AND pg_temp.h(g.k, 4) % 12 = 0 THEN m.ecocert_fr ELSE iss.id END AS issuer_id,
           CASE WHEN m.ecocert_fr IS NOT NULL AND pg_temp.h(g.k, 4) % 12 = 0 THEN org.country ELSE iss.country END AS origin,
           CASE WHEN x.s < 3 THEN 'draft' WHEN x.s < 6 THEN 'new' WHEN x.s < 10 THEN 'in_progress'
                WHEN x.s < 55 THEN 'issued' WHEN x.s < 70 THEN 'verified' WHEN x.s < 90 THEN 'received'
                WHEN x.s < 94 THEN 'rejected' WHEN x.s < 97 THEN 'cancelled' ELSE 'replaced' END AS status,
           m.container_prefixes, m.vessels, m.airlines, m.signatories, m.traders
      FROM generate_series(p_first, p_first + p_count - 1) g(k)
      CROSS JOIN pg_temp.gen_misc m
      CROSS JOIN LATERAL (SELECT pg_temp.h(g.k, 3) % 100 AS s) x
      JOIN pg_temp.gen_importers imp ON imp.ord = pg_temp.h(g.k, 1) % m.n_importers
      JOIN pg_temp.gen_country gc ON gc.country = imp.country
      JOIN pg_temp.gen_issuers iss ON iss.ord = pg_temp.h(g.k, 2) % m.n_issuers
      JOIN pg_temp.gen_origins org ON org.ord = pg_temp.h(g.k, 5) % m.n_origins
  ), dated AS (
    SELECT p.*, t.created_at,
           CASE WHEN p.status IN ('draft', 'new', 'in_progress') THEN NULL
                ELSE t.created_at + interval '2 days' + (pg_temp.h(p.k, 7) % 36000) * interval '1 second'
           END AS issued_at
      FROM pick p
      CROSS JOIN LATERAL (
        SELECT CASE WHEN p.status IN ('draft', 'new', 'in_progress')
                    THEN p_anchor - (pg_temp.h(p.k, 6) % (20 * 86400)) * interval '1 second'
                    ELSE p_anchor - interval '20 days' - (pg_temp.h(p.k, 6) % (710 * 86400)) * interval '1 second'
               END AS created_at) t
  ), refd AS MATERIALIZED (
    SELECT d.*,
           'COI.' || to_char(coalesce(d.issued_at, d.created_at) AT TIME ZONE 'UTC', 'YYYY') || '.'
             || lpad(d.k::text, 7, '0') AS reference
      FROM dated d
  ), full_ AS MATERIALIZED (
    SELECT r.*,
           nextval('traces.certificates_id_seq') AS id,
           1 + (pg_temp.h(r.k, 8) % 3)::int AS nlines,
           1 + (pg_temp.h(r.k, 9) % cardinality(r.poes))::int AS poe_i,
           CASE WHEN pg_temp.h(r.k, 10) % 3 = 0 THEN r.importer_id
                ELSE r.consignees[1 + (pg_temp.h(r.k, 11) % cardinality(r.consignees))::int] END AS consignee_id,
           1 + (pg_temp.h(r.k, 13) % cardinality(c.names))::int AS ex_i,
           c.names, c.addresses, c.cities, c.cns, c.pnames, c.cats, c.pkgs, c.units
      FROM refd r
      JOIN pg_temp.gen_catalogue c ON c.country = r.origin
     WHERE NOT p_skip_existing
        OR NOT EXISTS (SELECT 1 FROM traces.certificates e WHERE e.reference = r.reference)
  ), ln AS MATERIALIZED (
    SELECT f.id, f.k, f.origin, f.created_at, n.n::smallint AS line_no, pr.i AS pi, f.units[pr.i] AS unit,
           CASE WHEN f.units[pr.i] IS NULL THEN NULL
                ELSE greatest(1, round(w.kg / f.units[pr.i]))::int END AS packages,
           CASE WHEN f.units[pr.i] IS NULL THEN w.kg * 10
                ELSE greatest(1, round(w.kg / f.units[pr.i])) * f.units[pr.i] END AS net
      FROM full_ f
      CROSS JOIN LATERAL generate_series(1, f.nlines) n(n)
      CROSS JOIN LATERAL (SELECT 1 + (pg_temp.h(f.k, 20 + n.n) % cardinality(f.cns))::int AS i) pr
      CROSS JOIN LATERAL (SELECT CASE WHEN f.units[pr.i] < 2 THEN 20 + pg_temp.h(f.k, 40 + n.n) % 480
                                      ELSE 1000 + pg_temp.h(f.k, 40 + n.n) % 19000 END::numeric AS kg) w
  ), gw AS (
    SELECT ln.id, sum(ln.net) AS net FROM ln GROUP BY ln.id
  ), ins_c AS (
    INSERT INTO traces.certificates (
      id, status, issuer_id, procedure, reference,
      producer_name, producer_address, producer_country,
      exporter_name, exporter_address, exporter_country,
      trader_name, trader_address, trader_country,
      exporter_control_body_id, origin_country, export_country, point_of_entry_id, destination_country,
      importer_id, importer_eori, first_consignee_id, responsible_operator_id,
      containers, seals, gross_weight_kg, transport_mode, transport_identification,
      declaration_date, declaration_place, declaration_signatory,
      expected_arrival, documentary_check, identity_check, physical_check, sampled,
      decision, decision_date, decision_authority_id, decision_remarks, received_at, reception_remarks,
      created_at, issued_at, updated_at)
    SELECT f.id, f.status, f.issuer_id,
           CASE WHEN f.origin IN ('AR', 'CA', 'TN', 'US') THEN 'equivalence_third_country'
                WHEN pg_temp.h(f.k, 17) % 4 = 0 THEN 'compliance'
                ELSE 'equivalence_control_body' END,
           f.reference,
           f.names[pd.i], f.addresses[pd.i], f.origin,
           f.names[f.ex_i], f.addresses[f.ex_i], f.origin,
           split_part(tr.t, '|', 1), split_part(tr.t, '|', 2), nullif(split_part(tr.t, '|', 3), ''),
           f.issuer_id, f.origin, f.origin, f.poes[f.poe_i], f.dest,
           f.importer_id, f.eori, f.consignee_id,
           CASE WHEN pg_temp.h(f.k, 12) % 4 = 0 THEN f.consignee_id ELSE f.importer_id END,
           CASE WHEN tm.mode = 'sea' THEN
                  CASE WHEN pg_temp.h(f.k, 19) % 3 = 0
                       THEN ARRAY[f.container_prefixes[1 + (pg_temp.h(f.k, 18) % 8)::int] || lpad((pg_temp.h(f.k, 18) % 10000000)::text, 7, '0'),
                                  f.container_prefixes[1 + (pg_temp.h(f.k, 18) % 8)::int] || lpad(((pg_temp.h(f.k, 18) + 1) % 10000000)::text, 7, '0')]
                       ELSE ARRAY[f.container_prefixes[1 + (pg_temp.h(f.k, 18) % 8)::int] || lpad((pg_temp.h(f.k, 18) % 10000000)::text, 7, '0')] END
                ELSE '{}'::text[] END,
           CASE WHEN tm.mode IN ('sea', 'road') THEN ARRAY['SL' || lpad((pg_temp.h(f.k, 26) % 100000000)::text, 8, '0')]
                ELSE '{}'::text[] END,
           round(gw.net * 1.04, 3), tm.mode,
           CASE tm.mode
             WHEN 'sea' THEN f.vessels[1 + (pg_temp.h(f.k, 27) % 8)::int] || ' / voyage ' || (100 + pg_temp.h(f.k, 27) % 900) || 'W'
             WHEN 'air' THEN f.airlines[1 + (pg_temp.h(f.k, 27) % 8)::int] || ' ' || (100 + pg_temp.h(f.k, 27) % 8900)
                             || ' / AWB ' || lpad((pg_temp.h(f.k, 28) % 1000)::text, 3, '0') || '-' || lpad((pg_temp.h(f.k, 29) % 100000000)::text, 8, '0')
             ELSE 'Truck ' || chr(65 + (pg_temp.h(f.k, 27) % 26)::int) || chr(65 + (pg_temp.h(f.k, 28) % 26)::int)
                  || '-' || lpad((pg_temp.h(f.k, 29) % 1000)::text, 3, '0') || '-' || chr(65 + (pg_temp.h(f.k, 30) % 26)::int) || chr(65 + (pg_temp.h(f.k, 31) % 26)::int)
           END,
           (f.issued_at AT TIME ZONE 'UTC')::date, f.cities[f.ex_i], f.signatories[1 + (pg_temp.h(f.k, 32) % 10)::int],
           CASE WHEN f.issued_at IS NOT NULL THEN ((f.issued_at + (5 + pg_temp.h(f.k, 33) % 20) * interval '1 day') AT TIME ZONE 'UTC')::date END,
           CASE WHEN f.status = 'rejected' THEN 'not_satisfactory' WHEN f.status IN ('verified', 'received') THEN 'satisfactory' END,
           CASE WHEN f.status IN ('verified', 'received', 'rejected') THEN 'satisfactory' END,
           CASE WHEN f.status IN ('verified', 'received', 'rejected') AND pg_temp.h(f.k, 34) % 4 = 0 THEN 'satisfactory' END,
           CASE WHEN f.status IN ('verified', 'received', 'rejected') THEN pg_temp.h(f.k, 34) % 8 = 0 END,
           CASE WHEN f.status = 'rejected' THEN 'not_released' WHEN f.status IN ('verified', 'received') THEN 'release_organic' END,
           CASE WHEN f.status = 'rejected' THEN ((f.issued_at + interval '5 days') AT TIME ZONE 'UTC')::date
                WHEN f.status IN ('verified', 'received') THEN ((f.issued_at + interval '7 days') AT TIME ZONE 'UTC')::date END,
           CASE WHEN f.status IN ('verified', 'received', 'rejected') THEN f.authority_id END,
           CASE WHEN f.status = 'rejected' THEN 'Documentary check not satisfactory: box 13 does not match the commercial documents' END,
           CASE WHEN f.status = 'received' THEN f.issued_at + interval '10 days' END,
           CASE WHEN f.status = 'received' THEN 'Received in good condition' END,
           f.created_at, f.issued_at,
           CASE f.status
             WHEN 'draft' THEN f.created_at
             WHEN 'new' THEN f.created_at + interval '3 hours'
             WHEN 'in_progress' THEN f.created_at + interval '20 hours'
             WHEN 'issued' THEN f.issued_at
             WHEN 'verified' THEN f.issued_at + interval '7 days'
             WHEN 'received' THEN f.issued_at + interval '10 days'
             ELSE f.issued_at + interval '5 days' END
      FROM full_ f
      JOIN gw ON gw.id = f.id
      CROSS JOIN LATERAL (SELECT CASE f.poe_kinds[f.poe_i] WHEN 'port' THEN 'sea' WHEN 'airport' THEN 'air'
                                                         WHEN 'rail' THEN 'rail' ELSE 'road' END AS mode) tm
      CROSS JOIN LATERAL (SELECT CASE WHEN pg_temp.h(f.k, 14) % 3 = 0
                                      THEN 1 + (f.ex_i % cardinality(f.names)) ELSE f.ex_i END AS i) pd
      CROSS JOIN LATERAL (SELECT CASE WHEN pg_temp.h(f.k, 15) % 6 = 0
                                      THEN f.traders[1 + (pg_temp.h(f.k, 16) % 3)::int] END AS t) tr
    RETURNING 1
  ), ins_l AS (
    INSERT INTO traces.certificate_lines (certificate_id, line_no, production, cn_code, trade_name, category,
                                          packages, package_type, lot_number, net_weight_kg)
    SELECT ln.id, ln.line_no,
           CASE WHEN f.cats[ln.pi] = 'A' AND pg_temp.h(ln.k, 50 + ln.line_no) % 9 = 0 THEN 'in_conversion' ELSE 'organic' END,
           f.cns[ln.pi], f.pnames[ln.pi], f.cats[ln.pi],
           ln.packages, f.pkgs[ln.pi],
           'LOT-' || ln.origin || '-' || to_char(ln.created_at AT TIME ZONE 'UTC', 'YY') || '-'
             || lpad((pg_temp.h(ln.k, 60 + ln.line_no) % 100000)::text, 5, '0'),
           ln.net
      FROM ln JOIN full_ f ON f.id = ln.id
    RETURNING 1
  ), ins_h AS (
    INSERT INTO traces.certificate_status_history (certificate_id, status, at, remarks)
    SELECT f.id, gp.st,
           CASE WHEN gp.from_issue THEN f.issued_at ELSE f.created_at END + gp.offs,
           CASE gp.st WHEN 'rejected' THEN 'Not released: documentary check not satisfactory'
                      WHEN 'cancelled' THEN 'Cancelled by the issuing control body'
                      WHEN 'replaced' THEN 'Replaced after correction of box 16' END
      FROM full_ f JOIN pg_temp.gen_paths gp ON gp.status = f.status
    RETURNING 1
  )
  SELECT (SELECT count(*) FROM ins_c) INTO v_n;
  RETURN v_n;
END
$fn$;
