import express, { type NextFunction, type Request, type RequestHandler } from 'express';
import { BODY_LIMIT, BODY_LIMIT_BYTES } from './app';
import { problem, type HttpProblem, type ProblemCode } from './problem';

export type BodyKind = 'json' | 'form';

const MEDIA_TYPES: Record<BodyKind, string> = {
  json: 'application/json',
  form: 'application/x-www-form-urlencoded',
};

// body-parser refuses any charset but UTF-8 for JSON (415) and inflates gzip, deflate and br, with the limit
// applied to the inflated bytes (413 for a decompression bomb); any other Content-Encoding is 415.
// `extended: false` keeps form values flat strings, and a repeated field becomes an array that the schema
// refuses (one address, never a list).
const PARSERS: Record<BodyKind, RequestHandler> = {
  json: express.json({ limit: BODY_LIMIT, strict: true }),
  form: express.urlencoded({ extended: false, limit: BODY_LIMIT, parameterLimit: 32 }),
};

/** body-parser's error types (its README, "Errors"). */
const PARSER_ERRORS: Record<string, ProblemCode> = {
  'entity.parse.failed': 'malformed-body',
  'entity.too.large': 'payload-too-large',
  'encoding.unsupported': 'unsupported-media-type',
  'charset.unsupported': 'unsupported-media-type',
  'request.size.invalid': 'malformed-body',
  'request.aborted': 'malformed-body',
  'parameters.too.many': 'payload-too-large',
};

const DETAILS: Partial<Record<ProblemCode, string>> = {
  'payload-too-large': 'The body exceeds 16 KiB',
  'unsupported-media-type': 'Send the body uncompressed, or gzip, deflate or br encoded, in UTF-8',
};

/**
 * Whatever the parser failed with, as a problem. An error without a body-parser type comes from reading the
 * body: a corrupt or truncated gzip, deflate or br stream (zlib's Z_DATA_ERROR, Z_BUF_ERROR) is a body that
 * could not be parsed, the client's fault like a JSON syntax error, never a 500.
 */
const bodyProblem = (err: unknown): HttpProblem => {
  const type = (err as { type?: unknown } | null)?.type;
  const code = (typeof type === 'string' && PARSER_ERRORS[type]) || 'malformed-body';
  return problem(code, DETAILS[code] ?? 'The body could not be parsed');
};

/** Deeper than any request schema of the service goes (two levels), and shallow enough for any recursion. */
const MAX_DEPTH = 32;
// In a `u` regex a surrogate range matches only a surrogate that is not half of a pair.
const LONE_SURROGATE = /[\ud800-\udfff]/u;

/**
 * What JSON.parse accepts but nothing after it should have to handle, found without recursion:
 *
 * - nesting past MAX_DEPTH: every layer that walks the body before its schema refuses it (the
 *   Idempotency-Key fingerprint, zod itself) would recurse once per level, and a 16 KiB body of `[` is
 *   8,000 levels: a stack overflow, which was a 500;
 * - a lone surrogate (`"\ud800"`), which JSON's syntax allows but I-JSON (RFC 7493 §2.1) forbids: it is
 *   not text in any encoding, UTF-8 turns it into U+FFFD (so two different passwords would hash alike),
 *   and PostgreSQL refuses it in jsonb (`invalid input syntax for type json`), which was a 500 when a
 *   command recorded it, e.g. in an admin's `reason`.
 */
const unacceptable = (body: unknown): HttpProblem | undefined => {
  const pending: [unknown, number][] = [[body, 0]];
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    const [value, depth] = next;
    if (typeof value === 'string') {
      if (LONE_SURROGATE.test(value)) {
        return problem('malformed-body', 'The body holds a string that is not well-formed Unicode');
      }
    } else if (typeof value === 'object' && value !== null) {
      if (depth >= MAX_DEPTH) {
        return problem('validation-failed', 'The request does not match the schema', {
          errors: [{ path: '(body)', message: `must not nest deeper than ${MAX_DEPTH} levels` }],
        });
      }
      for (const [key, member] of Object.entries(value)) pending.push([key, depth + 1], [member, depth + 1]);
    }
  }
  return undefined;
};

const hasBody = (req: Request): boolean =>
  req.headers['transfer-encoding'] !== undefined ||
  (req.headers['content-length'] !== undefined && req.headers['content-length'] !== '0');

/**
 * Parses a command body of one of the accepted media types (CONTRACT.md "General rules"): any other
 * type is 415 `unsupported-media-type`. A request without a body leaves `req.body` undefined, which the
 * route's schema then refuses (or accepts, where the body is optional).
 *
 * A declared Content-Length over the limit is 413 at once, before a byte of the body is read: body-parser
 * would notice it as early but answer only once the whole body had arrived (it reads the rest off first),
 * so a client that announces a megabyte would hold the connection while sending it, or forever. The
 * answer closes the connection instead, so nothing of that body has to be read.
 */
export const parseBody =
  (...kinds: BodyKind[]): RequestHandler =>
  (req, res, next) => {
    if (!hasBody(req)) return next();
    // Node's parser has already refused a Content-Length that is not digits (a 400 before any route).
    if (Number(req.headers['content-length'] ?? 0) > BODY_LIMIT_BYTES) {
      res.setHeader('Connection', 'close');
      return next(problem('payload-too-large', DETAILS['payload-too-large']));
    }
    const kind = kinds.find((k) => req.is(MEDIA_TYPES[k]));
    if (!kind) {
      return next(
        problem(
          'unsupported-media-type',
          `Send the body as ${kinds.map((k) => MEDIA_TYPES[k]).join(' or ')}`,
        ),
      );
    }
    const parsed: NextFunction = (err?: unknown) => {
      if (err === undefined || err === null) return next(unacceptable(req.body));
      const p = bodyProblem(err);
      // Why, for whoever reads the logs; never the parser's message, which can quote the body.
      const e = err as { type?: unknown; code?: unknown };
      req.log.debug({ reason: e.type ?? e.code ?? 'unknown', code: p.code }, 'request body refused');
      next(p);
    };
    PARSERS[kind](req, res, parsed);
  };

/** The body's media type as parsed by `parseBody`, for routes that accept more than one. */
export const bodyKind = (req: Request): BodyKind | undefined =>
  (Object.keys(MEDIA_TYPES) as BodyKind[]).find((k) => req.is(MEDIA_TYPES[k]));
