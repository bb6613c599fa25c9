import express, { type RequestHandler } from 'express';
import getAbsoluteFSPath from 'swagger-ui-dist/absolute-path';
import { DOCS_ASSETS, DOCS_CSP, DOCS_INIT_SCRIPT, DOCS_PAGE } from './docs-page';
import { openApiDocument } from './openapi';
import { problem } from './problem';
import { createRouteTable, type RouteTable } from './routes';

const ASSETS: ReadonlySet<string> = new Set(DOCS_ASSETS);

/**
 * `GET /openapi.json` and the documentation page that renders it, `GET /docs`, with the page's script and
 * the Swagger UI files (`/docs/assets/<file>`) served from the installed `swagger-ui-dist` package.
 */
export const docsRoutes = (): RouteTable => {
  const table = createRouteTable();
  // Built once: a spec that does not generate stops the service at start-up, not at the first request.
  const document = JSON.stringify(openApiDocument());

  table.add('get', '/openapi.json', (_req, res) => {
    res.setHeader('Cache-Control', 'no-cache');
    // Public and free of data: tools in a browser (editors, client generators) may fetch it.
    res.setHeader('Access-Control-Allow-Origin', '*');
    res.type('application/json').send(document);
  });

  table.add('get', '/docs', (_req, res) => {
    res.setHeader('Content-Security-Policy', DOCS_CSP);
    res.setHeader('Cache-Control', 'no-cache');
    res.type('text/html').send(DOCS_PAGE);
  });

  table.add('get', '/docs/init.js', (_req, res) => {
    res.setHeader('Cache-Control', 'no-cache');
    res.type('text/javascript').send(DOCS_INIT_SCRIPT);
  });

  // A router as the handler, so express.static sees the path below its mount point.
  const files = express.Router();
  files.use(
    '/docs/assets',
    express.static(getAbsoluteFSPath(), { index: false, redirect: false, dotfiles: 'ignore', maxAge: '1h' }),
  );
  const asset: RequestHandler = (req, res, next) => {
    const missing = () => next(problem('not-found', 'No such file'));
    if (!ASSETS.has(String(req.params.file))) return missing();
    files(req, res, missing);
  };
  table.add('get', '/docs/assets/:file', asset);

  return table;
};
