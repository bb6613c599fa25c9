/**
 * Checks a live answer against the OpenAPI document: the operation must list the status with the answer's
 * media type, and the body must pass the zod schema that the document's entry was generated from (the
 * success schema of the route's definition in src/api/routes/<area>.ts, or the operation's problem schema).
 *
 *   const { failures, body } = await checkAnswer(res, 'get', '/v1/users/me');
 *   expect(failures).toEqual([]);
 *
 * `route` is the express pattern (`/v1/admin/users/:id`), as in the operation list.
 */
import type { z } from 'zod';
import {
  openApiDocument,
  problemResponseSchema,
  specOf,
  toOpenApiPath,
  UNMATCHED,
} from '../../src/api/openapi';
import { PROBLEM_TYPE } from '../../src/api/routes/route';

export type AnswerCheck = { failures: string[]; body: unknown };

const mediaType = (contentType: string | null): string =>
  (contentType ?? '').split(';')[0]!.trim().toLowerCase();

const JSON_LIKE = /^application\/(.+\+)?json$/;

const readBody = async (res: Response, type: string): Promise<{ body: unknown; failure?: string }> => {
  const text = await res.text();
  if (!JSON_LIKE.test(type)) return { body: text };
  try {
    return { body: JSON.parse(text) as unknown };
  } catch {
    return { body: text, failure: `the ${type} body is not JSON` };
  }
};

const schemaFailures = (schema: z.ZodType, body: unknown): string[] => {
  const result = schema.safeParse(body);
  return result.success
    ? []
    : result.error.issues.map((i) => `body ${i.path.map(String).join('.') || '(root)'}: ${i.message}`);
};

type DocumentResponses = Record<string, { content?: Record<string, unknown> } | undefined>;

/** The document's own entry for the answer: status and media type must be listed there too. */
const documentFailures = (method: string, route: string, status: number, type: string | null): string[] => {
  const paths = openApiDocument().paths as Record<string, Record<string, { responses?: DocumentResponses }>>;
  const responses = paths[toOpenApiPath(route)]?.[method]?.responses;
  if (!responses) return [`the document has no operation ${method.toUpperCase()} ${toOpenApiPath(route)}`];
  const response = responses[String(status)];
  if (!response) return [`the document lists no ${status} for ${method.toUpperCase()} ${route}`];
  if (type !== null && !response.content?.[type]) {
    return [`the document's ${status} of ${method.toUpperCase()} ${route} has no ${type} body`];
  }
  return [];
};

export const checkAnswer = async (res: Response, method: string, route: string): Promise<AnswerCheck> => {
  const spec = specOf(method, route);
  if (!spec)
    return { failures: [`no operation ${method.toUpperCase()} ${route} in the list`], body: undefined };
  const type = mediaType(res.headers.get('content-type'));
  const success = spec.responses[res.status];

  if (success && !success.content) {
    const text = await res.text();
    const failures =
      text === '' ? [] : [`${res.status} is documented without a body, got ${text.length} bytes`];
    return { failures: [...failures, ...documentFailures(method, route, res.status, null)], body: undefined };
  }

  const schema = success
    ? success.content?.[type]
    : type === PROBLEM_TYPE
      ? problemResponseSchema(spec, res.status)
      : undefined;
  const { body, failure } = await readBody(res, type);
  if (!schema) {
    return {
      failures: [
        `${method.toUpperCase()} ${route} answered ${res.status} ${type}, which its entry does not list`,
      ],
      body,
    };
  }
  return {
    failures: [
      ...(failure ? [failure] : []),
      ...schemaFailures(schema, body),
      ...documentFailures(method, route, res.status, type),
    ],
    body,
  };
};

/** An answer that belongs to no operation: 404 for an unknown path, 405 for another method. */
export const checkUnmatched = async (res: Response): Promise<AnswerCheck> => {
  const type = mediaType(res.headers.get('content-type'));
  const { body, failure } = await readBody(res, type);
  if (res.status !== 404 && res.status !== 405)
    return { failures: [`unexpected status ${res.status}`], body };
  const component = res.status === 404 ? 'NotFound' : 'MethodNotAllowed';
  const documented = (openApiDocument().components?.responses as Record<string, unknown> | undefined)?.[
    component
  ];
  return {
    failures: [
      ...(failure ? [failure] : []),
      ...(type === PROBLEM_TYPE ? [] : [`media type ${type}, not ${PROBLEM_TYPE}`]),
      ...(documented ? [] : [`the document has no components.responses.${component}`]),
      ...schemaFailures(UNMATCHED[res.status], body),
    ],
    body,
  };
};
