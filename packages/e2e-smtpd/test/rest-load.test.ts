import { fsStoreProvider } from '../src/cases/context.js';
import { defineLoadCases } from '../src/cases/load.js';

defineLoadCases(fsStoreProvider);
