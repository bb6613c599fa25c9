import { ROUTES } from '../routes';
import type { RouteSpec } from '../routes/route';
import type { RouteInfo } from '../routes/table';
import { buildOpenApiDocument, type OpenApiDocument } from './build';
import { toOpenApiPath } from './problems';

export { buildOpenApiDocument, type OpenApiDocument } from './build';
export { problemResponseSchema, problemsOf, toOpenApiPath, UNMATCHED } from './problems';

let built: OpenApiDocument | undefined;

/** The document of this service, generated from its route definitions; built once per process. */
export const openApiDocument = (): OpenApiDocument => (built ??= buildOpenApiDocument(ROUTES));

const HTTP_METHODS = new Set(['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace']);

/**
 * Routes an app serves that the document lacks, and operations of the document that no route serves, as
 * `METHOD /path` in the document's notation. Every route of a definition is documented by construction;
 * this finds what an app mounts besides them.
 */
export const routeParity = (
  routes: readonly RouteInfo[],
  document: Pick<OpenApiDocument, 'paths'>,
): { undocumented: string[]; unrouted: string[] } => {
  const key = (method: string, path: string) => `${method.toUpperCase()} ${path}`;
  const routed = new Set(routes.map((r) => key(r.method, toOpenApiPath(r.path))));
  const documented = new Set(
    Object.entries(document.paths ?? {}).flatMap(([path, item]) =>
      Object.keys(item ?? {})
        .filter((m) => HTTP_METHODS.has(m))
        .map((m) => key(m, path)),
    ),
  );
  return {
    undocumented: [...routed].filter((k) => !documented.has(k)).sort(),
    unrouted: [...documented].filter((k) => !routed.has(k)).sort(),
  };
};

/** The definition of a route, if any. */
export const specOf = (method: string, path: string, specs: readonly RouteSpec[] = ROUTES) =>
  specs.find((s) => s.method === method.toLowerCase() && s.path === path);
