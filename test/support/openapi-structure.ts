/**
 * A structural check of an OpenAPI 3.1 document, without a validator package: the rules a code generator or
 * Swagger UI trips over first. Returns one line per failure; an empty list is a pass.
 */

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type Obj = { [key: string]: Json };

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];
const PATH_ITEM_KEYS = new Set([...METHODS, '$ref', 'summary', 'description', 'servers', 'parameters']);
const STATUS = /^([1-5]\d\d|[1-5]XX|default)$/;
const JSON_TYPES = new Set(['null', 'boolean', 'object', 'array', 'number', 'string', 'integer']);
const PARAM_IN = new Set(['query', 'header', 'path', 'cookie']);

/** RFC 6901 JSON pointer inside the document. */
const resolve = (doc: Obj, ref: string): Json | undefined => {
  if (!ref.startsWith('#/')) return undefined;
  let node: Json | undefined = doc;
  for (const raw of ref.slice(2).split('/')) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    node = isObj(node) ? node[key] : Array.isArray(node) ? node[Number(key)] : undefined;
    if (node === undefined) return undefined;
  }
  return node;
};

const deref = (doc: Obj, node: Json | undefined): Json | undefined =>
  isObj(node) && typeof node.$ref === 'string' ? resolve(doc, node.$ref) : node;

/** Every `$ref` anywhere in the document must point at something in it. */
const refFailures = (doc: Obj): string[] => {
  const failures: string[] = [];
  const walk = (node: Json, at: string): void => {
    if (Array.isArray(node)) node.forEach((n, i) => walk(n, `${at}/${i}`));
    if (!isObj(node)) return;
    for (const [key, value] of Object.entries(node)) {
      if (key === '$ref' && (typeof value !== 'string' || resolve(doc, value) === undefined)) {
        failures.push(`${at}: $ref ${JSON.stringify(value)} does not resolve`);
      }
      walk(value, `${at}/${key}`);
    }
  };
  walk(doc, '#');
  return failures;
};

/** JSON Schema 2020-12 as OpenAPI 3.1 uses it: no 3.0 `nullable`, valid `type`, `required` among members. */
const schemaFailures = (schema: Json, at: string): string[] => {
  if (!isObj(schema)) return typeof schema === 'boolean' ? [] : [`${at}: a schema must be an object`];
  const failures: string[] = [];
  if ('nullable' in schema) failures.push(`${at}: \`nullable\` is OpenAPI 3.0; 3.1 uses type: [.., "null"]`);
  const types = Array.isArray(schema.type) ? schema.type : schema.type === undefined ? [] : [schema.type];
  for (const t of types) if (typeof t !== 'string' || !JSON_TYPES.has(t)) failures.push(`${at}: type ${t}`);
  if (Array.isArray(schema.required) && isObj(schema.properties)) {
    for (const r of schema.required) {
      if (typeof r !== 'string' || !(r in schema.properties))
        failures.push(`${at}: required ${r} is no member`);
    }
  }
  if (isObj(schema.properties)) {
    for (const [name, s] of Object.entries(schema.properties))
      failures.push(...schemaFailures(s, `${at}/${name}`));
  }
  for (const key of ['items', 'additionalProperties', 'not']) {
    if (schema[key] !== undefined) failures.push(...schemaFailures(schema[key], `${at}/${key}`));
  }
  for (const key of ['allOf', 'anyOf', 'oneOf']) {
    const list = schema[key];
    if (list !== undefined && (!Array.isArray(list) || list.length === 0))
      failures.push(`${at}: empty ${key}`);
    if (Array.isArray(list)) list.forEach((s, i) => failures.push(...schemaFailures(s, `${at}/${key}/${i}`)));
  }
  return failures;
};

const contentFailures = (doc: Obj, content: Json | undefined, at: string): string[] => {
  if (content === undefined) return [];
  if (!isObj(content) || Object.keys(content).length === 0) return [`${at}: content is empty`];
  return Object.entries(content).flatMap(([type, media]) => {
    if (!/^[\w.+-]+\/[\w.+-]+$/.test(type)) return [`${at}: media type ${type}`];
    const schema = isObj(media) ? media.schema : undefined;
    return schema === undefined
      ? [`${at}/${type}: no schema`]
      : schemaFailures(deref(doc, schema) ?? {}, `${at}/${type}`);
  });
};

const operationFailures = (doc: Obj, path: string, method: string, op: Json, inherited: Json[]): string[] => {
  const at = `${method.toUpperCase()} ${path}`;
  if (!isObj(op)) return [`${at}: not an object`];
  const failures: string[] = [];
  const params = [...inherited, ...(Array.isArray(op.parameters) ? op.parameters : [])].map((p) =>
    deref(doc, p),
  );
  const seen = new Set<string>();
  for (const p of params) {
    if (!isObj(p) || typeof p.name !== 'string' || typeof p.in !== 'string' || !PARAM_IN.has(p.in)) {
      failures.push(`${at}: parameter ${JSON.stringify(p)}`);
      continue;
    }
    if (seen.has(`${p.in}:${p.name}`)) failures.push(`${at}: parameter ${p.in} ${p.name} twice`);
    seen.add(`${p.in}:${p.name}`);
    if (p.in === 'path' && p.required !== true) failures.push(`${at}: path parameter ${p.name} not required`);
    if (p.schema === undefined && p.content === undefined)
      failures.push(`${at}: parameter ${p.name} has no schema`);
    else if (p.schema !== undefined) failures.push(...schemaFailures(p.schema, `${at} parameter ${p.name}`));
  }
  const templated = [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]).sort();
  const declared = params
    .filter((p) => isObj(p) && p.in === 'path')
    .map((p) => (p as Obj).name)
    .sort();
  if (JSON.stringify(templated) !== JSON.stringify(declared)) {
    failures.push(
      `${at}: path template {${templated.join(',')}} but path parameters [${declared.join(',')}]`,
    );
  }
  if (op.requestBody !== undefined) {
    const body = deref(doc, op.requestBody);
    failures.push(...contentFailures(doc, isObj(body) ? body.content : undefined, `${at} requestBody`));
    if (!isObj(body) || body.content === undefined) failures.push(`${at}: requestBody without content`);
  }
  if (!isObj(op.responses) || Object.keys(op.responses).length === 0)
    return [...failures, `${at}: no responses`];
  for (const [status, raw] of Object.entries(op.responses)) {
    const response = deref(doc, raw);
    if (!STATUS.test(status)) failures.push(`${at}: response key ${status}`);
    if (!isObj(response) || typeof response.description !== 'string') {
      failures.push(`${at} ${status}: a response needs a description`);
      continue;
    }
    failures.push(...contentFailures(doc, response.content, `${at} ${status}`));
  }
  return failures;
};

export const openApiStructureFailures = (input: unknown): string[] => {
  if (!isObj(input)) return ['the document is not an object'];
  const doc = input;
  const failures: string[] = [];
  if (typeof doc.openapi !== 'string' || !/^3\.1\.\d+$/.test(doc.openapi))
    failures.push(`openapi ${doc.openapi}`);
  const info = doc.info;
  if (!isObj(info) || typeof info.title !== 'string' || typeof info.version !== 'string') {
    failures.push('info needs a title and a version');
  }
  if (!isObj(doc.paths)) return [...failures, 'no paths'];
  const components = isObj(doc.components) ? doc.components : {};
  const schemes = isObj(components.securitySchemes) ? components.securitySchemes : {};
  const tags = new Set((Array.isArray(doc.tags) ? doc.tags : []).map((t) => (isObj(t) ? t.name : null)));
  const operationIds = new Set<string>();

  for (const [path, item] of Object.entries(doc.paths)) {
    if (!path.startsWith('/') || /\/:/.test(path))
      failures.push(`path ${path} is not an OpenAPI path template`);
    if (!isObj(item)) {
      failures.push(`${path}: not a path item`);
      continue;
    }
    for (const key of Object.keys(item))
      if (!PATH_ITEM_KEYS.has(key)) failures.push(`${path}: member ${key}`);
    const inherited = Array.isArray(item.parameters) ? item.parameters : [];
    for (const method of METHODS.filter((m) => item[m] !== undefined)) {
      const op = item[method] as Json;
      failures.push(...operationFailures(doc, path, method, op, inherited));
      if (!isObj(op)) continue;
      if (typeof op.operationId === 'string') {
        if (operationIds.has(op.operationId)) failures.push(`operationId ${op.operationId} twice`);
        operationIds.add(op.operationId);
      }
      for (const tag of Array.isArray(op.tags) ? op.tags : []) {
        if (!tags.has(tag)) failures.push(`${method.toUpperCase()} ${path}: tag ${tag} is not declared`);
      }
      for (const requirement of Array.isArray(op.security) ? op.security : []) {
        for (const name of isObj(requirement) ? Object.keys(requirement) : []) {
          if (!(name in schemes)) failures.push(`${method.toUpperCase()} ${path}: security scheme ${name}`);
        }
      }
    }
  }
  for (const [name, schema] of Object.entries(isObj(components.schemas) ? components.schemas : {})) {
    failures.push(...schemaFailures(schema, `#/components/schemas/${name}`));
  }
  return [...failures, ...refFailures(doc)];
};
