import { fsStoreProvider } from '../src/cases/context.js';
import { defineStoreOutageCases } from '../src/cases/store-outage.js';

defineStoreOutageCases(fsStoreProvider);
