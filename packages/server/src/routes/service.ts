import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import {
  FEATURES,
  type HealthStatus,
  PROTOCOL_VERSION,
  QueueError,
  type ServiceInfo,
} from '@smtpq/protocol';
import type { AppContext } from '../context.js';
import type { RouteTable } from '../route-table.js';

/** Adds `GET /v1`, `GET /v1/health` and `GET /v1/openapi.json`. */
export function addServiceRoutes(routes: RouteTable, context: AppContext): void {
  const { store } = context;

  routes.add('get', '/v1', async (_req, res) => {
    const info: ServiceInfo = {
      protocol: 'smtpq',
      version: PROTOCOL_VERSION,
      store: store.kind,
      features: [...FEATURES],
      limits: context.limits,
      uncommittedMaxAgeSeconds: Math.floor(store.options.uncommittedMaxAgeMs / 1000),
    };
    res.json(info);
  });

  routes.add('get', '/v1/health', async (_req, res) => {
    await store.health();
    const status: HealthStatus = { status: 'ok' };
    res.json(status);
  });

  const openapi = openapiLoader(context.openapiPath);
  routes.add('get', '/v1/openapi.json', async (_req, res) => {
    res.type('application/json').send(await openapi());
  });
}

/** Returns a function that reads the OpenAPI document once it exists and keeps it. */
function openapiLoader(configuredPath: string | undefined): () => Promise<Buffer> {
  let document: Buffer | undefined;

  return async () => {
    if (document !== undefined) return document;

    const path = configuredPath ?? defaultOpenapiPath();
    try {
      if (path === undefined) throw new Error('@smtpq/protocol/openapi.json cannot be resolved');
      document = await readFile(path);
      return document;
    } catch (error) {
      throw new QueueError(
        'route-not-found',
        `the OpenAPI document is not installed on this frontend (${path ?? 'no path'}); ` +
          'the protocol is described in docs/protocol.md of smtpq',
        { cause: error },
      );
    }
  };
}

function defaultOpenapiPath(): string | undefined {
  try {
    return fileURLToPath(import.meta.resolve('@smtpq/protocol/openapi.json'));
  } catch {
    return undefined;
  }
}
