import { fsStoreProvider } from '../src/cases/context.js';
import { defineFrontendDownCases } from '../src/cases/frontend-down.js';

defineFrontendDownCases(fsStoreProvider);
