export type { BodySource } from './body-source.js';
export type { ClientOptions } from './options.js';
export type { DecodedWalkEntry, DecodedWalkPage, WalkRequest } from './queue-client.js';
export { QueueClient } from './queue-client.js';
export { BodySourceError, TransportError, type TransportErrorCode } from './transport-error.js';
