import express, { type Request, type RequestHandler } from 'express';
import { BODY_LIMIT } from './app';
import { problem } from './problem';

export type BodyKind = 'json' | 'form';

const MEDIA_TYPES: Record<BodyKind, string> = {
  json: 'application/json',
  form: 'application/x-www-form-urlencoded',
};

// The size limit is checked against Content-Length before a byte is read (413 `payload-too-large`);
// body-parser refuses any charset but UTF-8 for JSON (415). `extended: false` keeps form values flat
// strings, and a repeated field becomes an array that the schema refuses (one address, never a list).
const PARSERS: Record<BodyKind, RequestHandler> = {
  json: express.json({ limit: BODY_LIMIT, strict: true }),
  form: express.urlencoded({ extended: false, limit: BODY_LIMIT, parameterLimit: 32 }),
};

const hasBody = (req: Request): boolean =>
  req.headers['transfer-encoding'] !== undefined ||
  (req.headers['content-length'] !== undefined && req.headers['content-length'] !== '0');

/**
 * Parses a command body of one of the accepted media types (CONTRACT.md "General rules"): any other
 * type is 415 `unsupported-media-type`. A request without a body leaves `req.body` undefined, which the
 * route's schema then refuses (or accepts, where the body is optional).
 */
export const parseBody =
  (...kinds: BodyKind[]): RequestHandler =>
  (req, res, next) => {
    if (!hasBody(req)) return next();
    const kind = kinds.find((k) => req.is(MEDIA_TYPES[k]));
    if (!kind) {
      return next(
        problem(
          'unsupported-media-type',
          `Send the body as ${kinds.map((k) => MEDIA_TYPES[k]).join(' or ')}`,
        ),
      );
    }
    PARSERS[kind](req, res, next);
  };

/** The body's media type as parsed by `parseBody`, for routes that accept more than one. */
export const bodyKind = (req: Request): BodyKind | undefined =>
  (Object.keys(MEDIA_TYPES) as BodyKind[]).find((k) => req.is(MEDIA_TYPES[k]));
