import { fsStoreProvider } from '../src/cases/context.js';
import { defineDeliveryCases } from '../src/cases/delivery.js';

defineDeliveryCases(fsStoreProvider);
