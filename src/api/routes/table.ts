import express, { type RequestHandler, type Router } from 'express';

export type Method = 'get' | 'post' | 'put' | 'patch' | 'delete';

export type RouteInfo = { method: Method; path: string };

/**
 * Routes are added through this table rather than on a bare express Router, so the service knows its own
 * surface: the 405 answer lists the methods a path allows, and the OpenAPI document is checked against it.
 */
export type RouteTable = {
  router: Router;
  routes: RouteInfo[];
  add: (method: Method, path: string, ...handlers: RequestHandler[]) => void;
};

export const createRouteTable = (): RouteTable => {
  const router = express.Router({ strict: false, caseSensitive: true });
  const routes: RouteInfo[] = [];
  return {
    router,
    routes,
    add: (method, path, ...handlers) => {
      routes.push({ method, path });
      router[method](path, ...handlers);
    },
  };
};

const toRegExp = (path: string): RegExp =>
  new RegExp(
    `^${path
      .split('/')
      .map((seg) => (seg.startsWith(':') ? '[^/]+' : seg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
      .join('/')}/?$`,
  );

/** The methods that some route allows for this path, for a 405 `Allow` header; empty = no such path. */
export const allowedMethods = (routes: RouteInfo[], path: string): string[] => {
  const methods = new Set<string>();
  for (const r of routes) if (toRegExp(r.path).test(path)) methods.add(r.method.toUpperCase());
  if (methods.has('GET')) methods.add('HEAD');
  return [...methods].sort();
};
