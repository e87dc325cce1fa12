// Contacts (guide section 4), public.

import { startPage } from '../layout.js';

startPage({ page: 'contacts', titleKey: 'contacts.title', crumbs: [{ key: 'contacts.title' }] });
