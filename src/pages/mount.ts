import { perIpLimit } from '../api/account-http';
import { parseBody } from '../api/body';
import { createRouteTable, type RouteTable } from '../api/routes/table';
import { methodNotAllowed, pageErrors, pageHeaders, refuseCrossSite } from './http';
import type { PageDef, PageDeps } from './route';

/**
 * Mounts the pages on a table of their own. Every answer carries the page headers; a POST is refused
 * when cross-site, then counted in its bucket, then parsed (form-encoded, at most 16 KiB). A wrong method
 * on a page's path and every failure below answer with a page, never with problem JSON.
 */
export const mountPages = (defs: readonly PageDef[], deps: PageDeps): RouteTable => {
  const table = createRouteTable();
  const ownOrigin = new URL(deps.http.publicUrl).origin;
  for (const def of defs) {
    const chain = [pageHeaders];
    if (def.form) chain.push(refuseCrossSite(ownOrigin));
    if (def.rateLimit) {
      chain.push(perIpLimit(deps, def.rateLimit.bucket, deps.http.rateLimits[def.rateLimit.perMinute]));
    }
    if (def.form) chain.push(parseBody('form'));
    chain.push(def.handler(deps));
    table.add(def.method, def.path, ...chain);
  }
  const methods = new Map<string, Set<string>>();
  for (const def of defs) {
    const set = methods.get(def.path) ?? new Set<string>();
    set.add(def.method.toUpperCase());
    if (def.method === 'get') set.add('HEAD');
    methods.set(def.path, set);
  }
  for (const [path, set] of methods) {
    table.router.all(path, pageHeaders, methodNotAllowed(deps.templates, [...set].sort().join(', ')));
  }
  table.router.use(pageErrors(deps.templates));
  return table;
};
