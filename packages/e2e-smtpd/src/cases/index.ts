// The queue=rest cases, for the test files of each frontend: call each define function with a
// StoreProvider of that frontend's stores.
export { defineAllRestCases } from './all.js';
export { defineBadRecordCases } from './bad-records.js';
export { defineBodyCases } from './bodies.js';
export {
  fsStoreProvider,
  maskSmtpdTrace,
  prepareRestCases,
  type StoreProvider,
  startRestPair,
  testMessage,
  waitStoreEmpty,
} from './context.js';
export { defineDaemonCases } from './daemon.js';
export { defineBasicDeliveryCase, defineDeliveryCases } from './delivery.js';
export { defineDiscoverCases } from './discover.js';
export { defineFrontendDownCases } from './frontend-down.js';
export { defineLoadCases } from './load.js';
export { defineRestartCases } from './restart.js';
export { type SeededMessage, seedRelayMessage } from './seed.js';
export { defineStoreOutageCases } from './store-outage.js';
