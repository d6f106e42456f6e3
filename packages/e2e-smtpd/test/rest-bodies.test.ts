import { defineBodyCases } from '../src/cases/bodies.js';
import { fsStoreProvider } from '../src/cases/context.js';

defineBodyCases(fsStoreProvider);
