export { createProgram } from './program.js';
export { openStoreByUrl, STORE_OPENERS } from './stores.js';
