import type { ErrorRequestHandler, Request, RequestHandler, Response } from 'express';
import type { Templates } from '../application/templates';
import { toProblem } from '../api/errors';
import { HttpProblem } from '../api/problem';

/**
 * What every hosted page answers with (CONTRACT.md "Pages a person opens"). The token is in the URL of
 * the page a person opens from a mail, so nothing may keep or pass on that URL: no cache (`no-store`), no
 * Referer to anything the page links to, no frame, and nothing loaded from anywhere but the service.
 */
export const PAGE_CSP =
  "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

export const pageHeaders: RequestHandler = (_req, res, next) => {
  res.setHeader('Content-Security-Policy', PAGE_CSP);
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('Referrer-Policy', 'no-referrer');
  next();
};

export const sendPage = (res: Response, status: number, html: string): void => {
  res.status(status).type('text/html; charset=utf-8').send(html);
};

/**
 * A form POST that another site made a browser send (login CSRF, or spending someone's link): refused
 * with 403 before anything runs. `Sec-Fetch-Site` (Fetch Metadata) names it where the browser sends it;
 * otherwise an `Origin` that is not the service's own. `same-site` is refused too: a sibling subdomain is
 * another application. With `Referrer-Policy: no-referrer` a browser sends `Origin: null` on the page's
 * own forms, with `Sec-Fetch-Site: same-origin`: that passes. A client that sends neither header (curl,
 * an old browser) passes: CSRF needs a browser, and every browser this matters for sends one of them.
 */
export const isCrossSite = (req: Request, ownOrigin: string): boolean => {
  const site = req.get('sec-fetch-site');
  if (site === 'cross-site' || site === 'same-site') return true;
  const origin = req.get('origin');
  return origin !== undefined && origin !== 'null' && origin !== ownOrigin;
};

export const refuseCrossSite =
  (ownOrigin: string): RequestHandler =>
  (req, _res, next) => {
    if (!isCrossSite(req, ownOrigin)) return next();
    next(new HttpProblem(403, 'forbidden', 'This form can only be sent from the page itself.'));
  };

const MESSAGES: Record<number, string> = {
  403: 'This form can only be sent from the page itself. Open the link from your email again.',
  404: 'There is no page at this address.',
  405: 'This page cannot be used that way.',
  409: 'That address already belongs to another account, so it cannot be used for this one.',
  413: 'The form was too large to read.',
  415: 'The form could not be read.',
  429: 'Too many attempts from your network. Wait a minute, then try again.',
  503: 'The service is briefly unavailable. Try again in a moment.',
};

const messageOf = (p: HttpProblem): string =>
  MESSAGES[p.status] ??
  (p.status >= 500
    ? 'Something went wrong on our side. Try again later.'
    : 'The request could not be handled.');

/**
 * Failures on a page are pages too: the problem table (api/errors.ts) gives the status and its headers
 * (`Retry-After`), this the words. Library messages never reach the page; a 5xx is logged without them
 * reaching the person.
 */
export const pageErrors =
  (templates: Templates): ErrorRequestHandler =>
  (err, req, res, _next) => {
    const p = err instanceof HttpProblem ? err : toProblem(err);
    if (p.status >= 500) {
      const e = err as Error | undefined;
      req.log.error({ err: { name: e?.name, message: e?.message, stack: e?.stack } }, 'page failed');
    }
    if (res.headersSent) return void res.end();
    for (const [name, value] of Object.entries(p.extra.headers ?? {})) res.setHeader(name, value);
    sendPage(res, p.status, templates.page('error', { status: p.status, message: messageOf(p) }));
  };

/** A wrong method on a page's path: a page too, with `Allow` (RFC 9110 §15.5.6). */
export const methodNotAllowed =
  (templates: Templates, allow: string): RequestHandler =>
  (_req, res) => {
    res.setHeader('Allow', allow);
    sendPage(res, 405, templates.page('error', { status: 405, message: MESSAGES[405] }));
  };
