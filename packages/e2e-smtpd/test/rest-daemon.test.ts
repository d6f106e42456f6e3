import { fsStoreProvider } from '../src/cases/context.js';
import { defineDaemonCases } from '../src/cases/daemon.js';

defineDaemonCases(fsStoreProvider);
