export { FsDriver } from './driver.js';
export type { FsLayer, FsStat } from './fs-layer.js';
export { nodeFsLayer } from './fs-layer.js';
export { type FsDriverOptions, openFsDriver } from './open.js';
export { parseFsStoreUrl } from './url.js';
