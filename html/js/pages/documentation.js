// Documentation (public): the guide's steps, from the translations.

import { startPage } from '../layout.js';
import { raw } from '../i18n.js';
import { h } from '../ui.js';

async function main() {
  const { content } = await startPage({ page: 'documentation', titleKey: 'doc.title', crumbs: [{ key: 'doc.title' }] });
  if (!content) {
    return;
  }
  const sections = raw('doc.sections') || [];
  const toc = h('nav', { class: 'traces-toc', 'aria-labelledby': 'toc-title' },
    h('h2', { class: 'traces-h3', id: 'toc-title', text: raw('doc.toc') || '' }),
    h('ol', {}, sections.map((s) => h('li', {}, h('a', { href: `#${s.id}`, class: 'ecl-link' }, s.title)))));
  content.append(h('p', { class: 'traces-intro', text: raw('doc.intro') || '' }), toc);
  for (const s of sections) {
    const sec = h('section', { class: 'traces-section', id: s.id, 'aria-labelledby': `${s.id}-title`, tabindex: '-1' },
      h('h2', { class: 'traces-h2', id: `${s.id}-title`, text: s.title }));
    for (const p of s.paragraphs || []) {
      if (Array.isArray(p)) {
        sec.append(h('ul', { class: 'traces-list' }, p.map((li) => h('li', { text: li }))));
      } else if (p && typeof p === 'object' && p.href) {
        sec.append(h('p', {}, h('a', { href: p.href, class: 'ecl-link', rel: p.href.startsWith('http') ? 'noopener' : undefined }, p.text)));
      } else {
        sec.append(h('p', { text: String(p) }));
      }
    }
    content.append(sec);
  }
  if (window.location.hash) {
    const target = document.getElementById(window.location.hash.slice(1));
    if (target) {
      target.scrollIntoView();
      target.focus();
    }
  }
}

main();
