import { QueueError } from '@smtpq/protocol';
import type { Express, NextFunction, Request, Response } from 'express';
import { type RouteHandler, requestFacts } from './context.js';

type Method = 'get' | 'post' | 'put' | 'delete';

const ALLOW_ORDER = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE'];

/**
 * Routes grouped by path, so that a request to a known path with another method gets a 405
 * with an Allow header instead of a 404.
 */
export class RouteTable {
  private readonly paths = new Map<string, Map<Method, RouteHandler>>();

  add(method: Method, path: string, handler: RouteHandler): void {
    const methods = this.paths.get(path) ?? new Map<Method, RouteHandler>();
    methods.set(method, handler);
    this.paths.set(path, methods);
  }

  mount(app: Express): void {
    for (const [path, methods] of this.paths) {
      const route = app.route(path);
      for (const [method, handler] of methods) {
        route[method](async (req: Request, res: Response) => {
          requestFacts(res).route = path;
          await handler(req, res);
        });
      }

      const allowed = ALLOW_ORDER.filter(
        (name) =>
          methods.has(name.toLowerCase() as Method) || (name === 'HEAD' && methods.has('get')),
      );
      route.all((req: Request, res: Response, next: NextFunction) => {
        requestFacts(res).route = path;
        res.setHeader('Allow', allowed.join(', '));
        next(
          new QueueError(
            'method-not-allowed',
            `${req.method} is not allowed on ${path}; allowed: ${allowed.join(', ')}`,
            { details: { allowed } },
          ),
        );
      });
    }
  }
}
