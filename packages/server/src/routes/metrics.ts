import type { ServerMetrics } from '../metrics.js';
import type { RouteTable } from '../route-table.js';

/** Adds `GET /metrics`: the Prometheus text format of the server's metrics. */
export function addMetricsRoute(routes: RouteTable, metrics: ServerMetrics): void {
  routes.add('get', '/metrics', async (_req, res) => {
    const text = await metrics.text();
    res.setHeader('Content-Type', metrics.contentType);
    res.send(text);
  });
}
