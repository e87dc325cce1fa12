// /app/certificate?id=N: one Certificate of Inspection, every box of part I
// (1-18, Regulation (EU) 2021/2306 Annex), part II and the status history.
// Read only, for everybody: the API has no write, the page shows none.

import { startPage, setTitle } from '../layout.js';
import { t, label } from '../i18n.js';
import { get } from '../api.js';
import { h, clear, table, showProblem, badge, formatDate, formatNumber, dash, linkButton, button } from '../ui.js';
import { loadCountries, countryLabel, categoryName } from '../refdata.js';

function party(p, { eori = false } = {}) {
  if (!p) {
    return '—';
  }
  return [
    h('span', { class: 'traces-party__name', text: p.name || p.code || '—' }),
    p.code && p.name ? h('span', { class: 'traces-sub traces-code', text: p.code }) : null,
    p.address ? h('span', { class: 'traces-sub', text: p.address }) : null,
    p.city ? h('span', { class: 'traces-sub', text: p.city }) : null,
    p.country ? h('span', { class: 'traces-sub', text: countryLabel(p.country) }) : null,
    eori ? h('span', { class: 'traces-sub', text: `EORI${t('common.colon')}${p.eori || '—'}` }) : null,
  ];
}

function box(n, titleKey, content, cls = '') {
  return h('div', { class: `traces-box ${cls}`.trim(), dataset: { box: String(n) }, role: 'group', 'aria-labelledby': `box-${n}` },
    h('h3', { class: 'traces-box__title', id: `box-${n}` },
      h('span', { class: 'traces-box__number', text: String(n) }), ' ', t(titleKey)),
    h('div', { class: 'traces-box__content' }, content));
}

function kv(items) {
  const dl = h('dl', { class: 'traces-dl traces-dl--compact' });
  for (const [k, v] of items) {
    dl.append(h('dt', { text: t(k) }), h('dd', {}, v === undefined || v === null || v === '' ? '—' : v));
  }
  return dl;
}

function list(values) {
  if (!values || !values.length) {
    return '—';
  }
  return h('ul', { class: 'traces-plain-list' }, values.map((v) => h('li', { class: 'traces-code', text: v })));
}

function productLines(lines) {
  if (!lines || !lines.length) {
    return '—';
  }
  return table({
    caption: t('certificate.lines_caption'),
    id: 'product-lines',
    columns: [
      { label: t('certificate.line_no'), cell: (l) => String(l.line_no ?? '') },
      { label: t('certificate.production'), cell: (l) => label('production', l.production) },
      { label: t('certificate.cn_code'), cell: (l) => h('span', { class: 'traces-code', text: l.cn_code || '' }) },
      { label: t('certificate.trade_name'), cell: (l) => l.trade_name || '' },
      { label: t('certificate.category'), cell: (l) => (l.category ? `${l.category} — ${categoryName(l.category)}` : '') },
      { label: t('certificate.packages'), cell: (l) => [formatNumber(l.packages, 0), l.package_type ? ` ${l.package_type}` : ''].join('') },
      { label: t('certificate.lot_number'), cell: (l) => l.lot_number || '' },
      { label: t('certificate.net_weight'), cell: (l) => (l.net_weight_kg !== undefined && l.net_weight_kg !== null ? `${formatNumber(l.net_weight_kg)} kg` : '') },
    ],
    rows: lines,
  });
}

function partOne(c) {
  const decl = c.declaration || {};
  const transport = c.transport || {};
  return h('section', { class: 'traces-section traces-coi', 'aria-labelledby': 'part-1-title', id: 'part-1' },
    h('h2', { class: 'traces-h2', id: 'part-1-title', text: t('certificate.part_1') }),
    h('div', { class: 'traces-boxes' },
      box(1, 'certificate.box1', party(c.issuer)),
      box(2, 'certificate.box2', label('procedure', c.procedure) || '—'),
      box(3, 'certificate.box3', h('strong', { class: 'traces-code', text: c.reference || '' })),
      box(4, 'certificate.box4', party(c.producer)),
      box(5, 'certificate.box5', party(c.exporter)),
      box(6, 'certificate.box6', party(c.trader)),
      box(7, 'certificate.box7', party(c.exporter_control_body)),
      box(8, 'certificate.box8', countryLabel(c.origin) || '—'),
      box(9, 'certificate.box9', countryLabel(c.export_country) || '—'),
      box(10, 'certificate.box10', c.point_of_entry ? party({ ...c.point_of_entry }) : '—'),
      box(11, 'certificate.box11', countryLabel(c.destination) || '—'),
      box(12, 'certificate.box12', party(c.importer, { eori: true })),
      box(13, 'certificate.box13', productLines(c.lines), 'traces-box--wide'),
      box(14, 'certificate.box14', list(c.containers)),
      box(15, 'certificate.box15', list(c.seals)),
      box(16, 'certificate.box16', c.gross_weight_kg !== undefined && c.gross_weight_kg !== null ? `${formatNumber(c.gross_weight_kg)} kg` : '—'),
      box(17, 'certificate.box17', kv([
        ['certificate.transport_mode', label('transport', transport.mode)],
        ['certificate.transport_id', transport.identification],
      ])),
      box(18, 'certificate.box18', kv([
        ['certificate.declaration_date', formatDate(decl.date)],
        ['certificate.declaration_place', decl.place],
        ['certificate.declaration_signatory', decl.signatory],
      ]), 'traces-box--wide')));
}

function partTwo(c) {
  const p2 = c.part_ii || {};
  const checks = p2.checks || {};
  const decision = p2.decision || {};
  const reception = p2.reception || {};
  const yesNo = (v) => (v === true ? t('common.yes') : v === false ? t('common.no') : '');
  return h('section', { class: 'traces-section traces-coi', 'aria-labelledby': 'part-2-title', id: 'part-2' },
    h('h2', { class: 'traces-h2', id: 'part-2-title', text: t('certificate.part_2') }),
    h('div', { class: 'traces-boxes' },
      h('div', { class: 'traces-box' },
        h('h3', { class: 'traces-box__title', text: t('certificate.responsible_operator') }),
        h('div', { class: 'traces-box__content' }, party(p2.responsible_operator))),
      h('div', { class: 'traces-box' },
        h('h3', { class: 'traces-box__title', text: t('certificate.first_consignee') }),
        h('div', { class: 'traces-box__content' }, party(c.first_consignee))),
      h('div', { class: 'traces-box' },
        h('h3', { class: 'traces-box__title', text: t('certificate.expected_arrival') }),
        h('div', { class: 'traces-box__content' }, formatDate(p2.expected_arrival) || '—')),
      h('div', { class: 'traces-box' },
        h('h3', { class: 'traces-box__title', text: t('certificate.checks') }),
        h('div', { class: 'traces-box__content' }, kv([
          ['certificate.check_documentary', label('check', checks.documentary)],
          ['certificate.check_identity', label('check', checks.identity)],
          ['certificate.check_physical', label('check', checks.physical)],
          ['certificate.check_sampled', yesNo(checks.sampled)],
        ]))),
      h('div', { class: 'traces-box' },
        h('h3', { class: 'traces-box__title', text: t('certificate.decision') }),
        h('div', { class: 'traces-box__content' }, kv([
          ['certificate.decision_value', label('decision_coi', decision.decision)],
          ['certificate.decision_date', formatDate(decision.date)],
          ['certificate.decision_authority', decision.authority && typeof decision.authority === 'object'
            ? (decision.authority.name || decision.authority.code) : decision.authority],
          ['certificate.decision_remarks', decision.remarks],
        ]))),
      h('div', { class: 'traces-box' },
        h('h3', { class: 'traces-box__title', text: t('certificate.reception') }),
        h('div', { class: 'traces-box__content' }, kv([
          ['certificate.received_at', formatDate(reception.received_at, { time: true })],
          ['certificate.received_by', reception.received_by && typeof reception.received_by === 'object'
            ? (reception.received_by.name || reception.received_by.uid) : reception.received_by],
          ['certificate.reception_remarks', reception.remarks],
        ])))));
}

function history(c) {
  const rows = Array.isArray(c.status_history) ? c.status_history : [];
  return h('section', { class: 'traces-section', 'aria-labelledby': 'history-title', id: 'history' },
    h('h2', { class: 'traces-h2', id: 'history-title', text: t('certificate.history') }),
    rows.length ? table({
      caption: t('certificate.history_caption'),
      id: 'status-history',
      columns: [
        { label: t('certificate.history_status'), cell: (s) => badge('cert', s.status, label('status.certificate', s.status)) },
        { label: t('certificate.history_at'), cell: (s) => formatDate(s.at, { time: true }) },
        { label: t('certificate.history_by'), cell: (s) => dash(s.by && typeof s.by === 'object' ? (s.by.name || s.by.uid) : s.by) },
        { label: t('certificate.history_remarks'), cell: (s) => dash(s.remarks) },
      ],
      rows,
    }) : h('p', { class: 'traces-empty', text: t('certificate.no_history') }));
}

async function main() {
  const { me, content } = await startPage({
    page: 'certificates', titleKey: 'certificate.title_short', app: true,
    crumbs: [{ key: 'certificates.title', href: '/app/certificates' }, { key: 'certificate.title_short' }],
  });
  if (!me) {
    return;
  }
  const id = new URLSearchParams(window.location.search).get('id');
  if (!id || !/^\d+$/.test(id)) {
    showProblem({ status: 404, problem: {} });
    return;
  }
  let c;
  try {
    await loadCountries();
    c = await get(`/api/certificates/${id}`);
  } catch (err) {
    showProblem(err);
    content.append(h('p', {}, linkButton(t('certificate.back'), '/app/certificates', { variant: 'secondary' })));
    return;
  }
  setTitle(t('certificate.title', { reference: c.reference || id }));
  clear(content).append(
    h('div', { class: 'traces-toolbar' },
      h('p', { class: 'traces-toolbar__info' },
        h('span', { text: `${t('certificate.status')}${t('common.colon')}` }), ' ',
        badge('cert', c.status, label('status.certificate', c.status)),
        c.replaced_by ? h('span', {}, ' ', t('certificate.replaced_by'), ' ',
          h('a', { class: 'ecl-link', href: `/app/certificate?id=${encodeURIComponent(c.replaced_by.id || c.replaced_by)}` },
            c.replaced_by.reference || String(c.replaced_by.id || c.replaced_by))) : null),
      h('div', { class: 'traces-toolbar__buttons' },
        linkButton(t('certificate.back'), '/app/certificates', { variant: 'secondary' }),
        button(t('certificate.print'), { variant: 'tertiary', iconName: 'print', onClick: () => window.print() }))),
    h('p', { class: 'traces-note', id: 'read-only-note', text: t('certificates.read_only') }),
    partOne(c),
    partTwo(c),
    history(c));
}

main();
