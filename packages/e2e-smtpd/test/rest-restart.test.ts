import { fsStoreProvider } from '../src/cases/context.js';
import { defineRestartCases } from '../src/cases/restart.js';

defineRestartCases(fsStoreProvider);
