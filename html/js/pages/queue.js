// /app/queue: the competent authority's (INAO's) queue: the new operators
// to validate, the requests on existing operators, the control-body
// requests. The same requests list, filtered by kind.

import { startPage } from '../layout.js';
import { t } from '../i18n.js';
import { h, showProblem } from '../ui.js';
import { loadCountries } from '../refdata.js';
import { requestsList } from '../requests.js';

function block(id, titleKey, introKey) {
  const target = h('div', { id: `${id}-list` });
  const section = h('section', { class: 'traces-section', 'aria-labelledby': `${id}-title`, id },
    h('h2', { class: 'traces-h2', id: `${id}-title`, text: t(titleKey) }),
    h('p', { class: 'traces-note', text: t(introKey) }),
    target);
  return { section, target };
}

async function main() {
  const { me, content } = await startPage({ page: 'queue', titleKey: 'queue.title', app: true });
  if (!me) {
    return;
  }
  try {
    await loadCountries();
  } catch (err) {
    showProblem(err);
    return;
  }
  const ops = block('queue-new-operators', 'queue.new_operators', 'queue.new_operators_intro');
  const joins = block('queue-operator-requests', 'queue.operator_requests', 'queue.operator_requests_intro');
  const cbs = block('queue-control-body-requests', 'queue.control_body_requests', 'queue.control_body_requests_intro');
  content.append(h('p', { class: 'traces-intro', text: t('queue.intro') }), h('p', { class: 'traces-legend', text: t('users.legend') }),
    ops.section, joins.section, cbs.section);
  const isNew = (r) => r.organisation && r.organisation.status === 'new';
  await Promise.all([
    requestsList({
      params: { status: 'requested', kind: 'operator' }, filter: isNew, target: ops.target,
      id: 'new-operators', caption: t('queue.new_operators'), empty: t('queue.none'),
    }).load(),
    requestsList({
      params: { status: 'requested', kind: 'operator' }, filter: (r) => !isNew(r), target: joins.target,
      id: 'operator-requests', caption: t('queue.operator_requests'), empty: t('queue.none'),
    }).load(),
    requestsList({
      params: { status: 'requested', kind: 'control_body' }, target: cbs.target,
      id: 'control-body-requests', caption: t('queue.control_body_requests'), empty: t('queue.none'),
    }).load(),
  ]);
}

main();
