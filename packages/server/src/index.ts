export { createApp } from './app.js';
export { createServeCommand, type OpenStore, runServeCommand } from './cli.js';
export { isLoopbackHost } from './loopback.js';
export { ServerMetrics } from './metrics.js';
export * from './options.js';
export { type RunningServer, StartupError, startServer } from './server.js';
