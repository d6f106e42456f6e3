import { QueueError } from '@smtpq/protocol';
import type { QueueStore } from '@smtpq/store';
import express, { type Request, type Response } from 'express';
import { pino } from 'pino';
import { bearerAuth } from './auth.js';
import type { AppContext } from './context.js';
import { errorMiddleware } from './error-response.js';
import { ServerMetrics } from './metrics.js';
import { DEFAULT_REQUEST_IDLE_TIMEOUT_MS, resolveLimits, type ServerOptions } from './options.js';
import { requestLog } from './request-log.js';
import { RouteTable } from './route-table.js';
import { addBodyRoutes } from './routes/body.js';
import { addBundleRoute } from './routes/bundle.js';
import { addClaimRoute } from './routes/claim.js';
import { addEnvelopeRoutes } from './routes/envelopes.js';
import { addMessageRoutes } from './routes/messages.js';
import { addMetricsRoute } from './routes/metrics.js';
import { addNodeRoutes } from './routes/nodes.js';
import { addServiceRoutes } from './routes/service.js';
import { addWalkRoutes } from './routes/walk.js';

/**
 * Builds the Express app of the protocol over a queue store. No body parser is mounted:
 * every request body is raw bytes whatever its Content-Type, read by the route that takes it.
 */
export function createApp(store: QueueStore, options: ServerOptions = {}): express.Express {
  const context: AppContext = {
    store,
    limits: resolveLimits(store, options),
    requestIdleTimeoutMs: options.requestIdleTimeoutMs ?? DEFAULT_REQUEST_IDLE_TIMEOUT_MS,
    openapiPath: options.openapiPath,
  };
  const logger = options.logger ?? pino({ name: 'smtpq-server' });

  const app = express();
  app.disable('x-powered-by');
  // ETags are the store's versions; Express must not make its own from response bodies.
  app.set('etag', false);
  app.set('case sensitive routing', true);

  const metrics = options.metrics ?? new ServerMetrics(store);
  app.use(metrics.middleware());
  app.use(requestLog(logger));
  // /metrics is behind the same token as the protocol: only GET /v1/health is open.
  if (options.token !== undefined) app.use(bearerAuth(options.token));

  const routes = new RouteTable();
  addMetricsRoute(routes, metrics);
  addServiceRoutes(routes, context);
  addMessageRoutes(routes, context);
  addBodyRoutes(routes, context);
  addBundleRoute(routes, context);
  addEnvelopeRoutes(routes, context);
  addWalkRoutes(routes, context);
  addClaimRoute(routes, context);
  addNodeRoutes(routes, context);
  routes.mount(app);

  app.use((req: Request, _res: Response) => {
    throw new QueueError(
      'route-not-found',
      `no route for ${req.method} ${req.path}; ` +
        'the protocol is under /v1 (see GET /v1/openapi.json)',
    );
  });
  app.use(errorMiddleware);
  return app;
}
