import { fsStoreProvider } from '../src/cases/context.js';
import { defineDiscoverCases } from '../src/cases/discover.js';

defineDiscoverCases(fsStoreProvider);
