import express, { type RequestHandler } from 'express';
import { z } from 'zod';
import getAbsoluteFSPath from 'swagger-ui-dist/absolute-path';
import { DOCS_ASSETS, DOCS_CSP, DOCS_INIT_SCRIPT, DOCS_PAGE } from '../docs-page';
import { OpenApiDocumentSchema, Text } from '../openapi/schemas';
import { problem } from '../problem';
import { ok, text, type RouteDef } from './route';

/** The document to serve; given, not imported, since the document is built from these very definitions. */
export type DocsDeps = { document: () => unknown };

const ASSETS: ReadonlySet<string> = new Set(DOCS_ASSETS);

const assets = (): RequestHandler => {
  // A router as the handler, so express.static sees the path below its mount point.
  const files = express.Router();
  files.use(
    '/docs/assets',
    express.static(getAbsoluteFSPath(), { index: false, redirect: false, dotfiles: 'ignore', maxAge: '1h' }),
  );
  return (req, res, next) => {
    const missing = () => next(problem('not-found', 'No such file'));
    if (!ASSETS.has(String(req.params.file))) return missing();
    files(req, res, missing);
  };
};

/**
 * `GET /openapi.json` and the documentation page that renders it, `GET /docs`, with the page's script and
 * the Swagger UI files (`/docs/assets/<file>`) served from the installed `swagger-ui-dist` package.
 */
export const DOCS_ROUTES: RouteDef<DocsDeps>[] = [
  {
    method: 'get',
    path: '/openapi.json',
    summary: 'This document (OpenAPI 3.1)',
    tag: 'Documentation',
    responses: { 200: ok('OpenAPI document', OpenApiDocumentSchema) },
    handler: (deps) => {
      // Built once: a spec that does not generate stops the service at start-up, not at the first request.
      const document = JSON.stringify(deps.document());
      return (_req, res) => {
        res.setHeader('Cache-Control', 'no-cache');
        // Public and free of data: tools in a browser (editors, client generators) may fetch it.
        res.setHeader('Access-Control-Allow-Origin', '*');
        res.type('application/json').send(document);
      };
    },
  },
  {
    method: 'get',
    path: '/docs',
    summary: 'Interactive documentation page',
    tag: 'Documentation',
    responses: { 200: text('text/html', 'HTML page', Text) },
    handler: () => (_req, res) => {
      res.setHeader('Content-Security-Policy', DOCS_CSP);
      res.setHeader('Cache-Control', 'no-cache');
      res.type('text/html').send(DOCS_PAGE);
    },
  },
  {
    method: 'get',
    path: '/docs/init.js',
    summary: 'Script that starts the documentation page',
    tag: 'Documentation',
    responses: { 200: text('text/javascript', 'JavaScript', Text) },
    handler: () => (_req, res) => {
      res.setHeader('Cache-Control', 'no-cache');
      res.type('text/javascript').send(DOCS_INIT_SCRIPT);
    },
  },
  {
    method: 'get',
    path: '/docs/assets/:file',
    summary: 'Static assets of the documentation page (Swagger UI)',
    tag: 'Documentation',
    request: { params: z.object({ file: z.enum(DOCS_ASSETS) }) },
    responses: {
      200: {
        description: 'The file',
        content: { 'text/css': Text, 'text/javascript': Text, 'image/png': Text },
      },
    },
    problems: ['not-found'],
    handler: assets,
  },
];
