// The welcome page (public): "Connexion dans TRACES".

import { startPage } from '../layout.js';

startPage({ page: 'welcome', titleKey: 'welcome.title', crumbs: [{ key: 'welcome.crumb' }] });
