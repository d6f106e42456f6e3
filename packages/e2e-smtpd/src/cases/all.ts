import { defineBadRecordCases } from './bad-records.js';
import { defineBodyCases } from './bodies.js';
import type { StoreProvider } from './context.js';
import { defineDaemonCases } from './daemon.js';
import { defineDeliveryCases } from './delivery.js';
import { defineDiscoverCases } from './discover.js';
import { defineFrontendDownCases } from './frontend-down.js';
import { defineLoadCases } from './load.js';
import { defineRestartCases } from './restart.js';
import { defineStoreOutageCases } from './store-outage.js';

/** Defines every queue=rest case against stores of one kind, for a frontend's own test file. */
export function defineAllRestCases(provider: StoreProvider): void {
  defineDeliveryCases(provider);
  defineRestartCases(provider);
  defineBodyCases(provider);
  defineLoadCases(provider);
  defineFrontendDownCases(provider);
  defineDaemonCases(provider);
  defineBadRecordCases(provider);
  defineDiscoverCases(provider);
  defineStoreOutageCases(provider);
}
