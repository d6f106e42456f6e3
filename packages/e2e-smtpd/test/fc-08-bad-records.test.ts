import { defineBadRecordCases } from '../src/cases/bad-records.js';
import { fsStoreProvider } from '../src/cases/context.js';

defineBadRecordCases(fsStoreProvider);
