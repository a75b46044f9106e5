import { z } from 'zod';

/** The served OpenAPI document, loosely typed: tests read it as clients and fuzzers do. */
export type Json = Record<string, unknown>;
export interface OpenApiDoc {
  openapi: string;
  security?: Json[];
  paths: Record<string, Record<string, Json>>;
  components: Record<string, Record<string, Json>>;
}

export interface Operation {
  method: string;
  path: string;
  id: string;
  op: Json;
  /** Path item and operation parameters, references resolved. */
  parameters: Parameter[];
  /** The security alternatives in force (each a set of schemes required together); [] or [{}] = none. */
  security: Record<string, unknown>[];
  requestBody?: { required?: boolean; content: Record<string, { schema: Json; example?: Json }> };
  responses: Record<string, Response>;
}

export interface Parameter {
  name: string;
  in: 'path' | 'query' | 'header' | 'cookie';
  required?: boolean;
  schema: Json;
}

export interface Response {
  description: string;
  headers?: Record<string, { required?: boolean; schema: Json }>;
  content?: Record<string, { schema: Json; examples?: Record<string, { value: unknown }> }>;
  links?: Record<string, Link>;
}

export interface Link {
  operationId: string;
  parameters?: Record<string, string>;
  requestBody?: unknown;
}

export const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'patch', 'options', 'head', 'trace'];

/** Every local $ref replaced by what it points at (the document has no cycles). */
export function deref<T>(doc: OpenApiDoc, node: T): T {
  if (Array.isArray(node)) return node.map((n) => deref(doc, n)) as T;
  if (node && typeof node === 'object') {
    const ref = (node as Json).$ref;
    if (typeof ref === 'string') {
      let target: unknown = doc;
      for (const part of ref.replace(/^#\//, '').split('/')) {
        target = (target as Json)[part.replace(/~1/g, '/').replace(/~0/g, '~')];
      }
      if (target === undefined) throw new Error(`unresolved $ref ${ref}`);
      return deref(doc, target as T);
    }
    return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, deref(doc, v)])) as T;
  }
  return node;
}

export function operations(doc: OpenApiDoc): Operation[] {
  return Object.entries(doc.paths).flatMap(([path, item]) =>
    Object.entries(item)
      .filter(([method]) => HTTP_METHODS.includes(method))
      .map(([method, raw]) => {
        const op = deref(doc, raw);
        const common = deref(doc, (item.parameters ?? []) as unknown as Parameter[]);
        return {
          method,
          path,
          id: String(op.operationId),
          op,
          parameters: [...common, ...((op.parameters ?? []) as Parameter[])],
          security: (op.security ?? doc.security ?? []) as Record<string, unknown>[],
          requestBody: op.requestBody as Operation['requestBody'],
          responses: op.responses as Record<string, Response>,
        };
      }),
  );
}

const validators = new WeakMap<object, z.ZodType>();
/** Whether a value is valid by a (dereferenced) JSON Schema of the document. */
export function conforms(schema: Json, value: unknown): boolean {
  return issue(schema, value) === null;
}

/** The first reason a value breaks a (dereferenced) JSON Schema, or null. */
export function issue(schema: Json, value: unknown): string | null {
  let validator = validators.get(schema);
  if (!validator) {
    validator = z.fromJSONSchema(schema as Parameters<typeof z.fromJSONSchema>[0]);
    validators.set(schema, validator);
  }
  const result = validator.safeParse(value);
  if (result.success) return null;
  const first = result.error.issues[0];
  return `${first.path.join('.') || '(value)'}: ${first.message}`;
}

/** What an operation's exchange offers to runtime expressions. */
export interface Exchange {
  request: { path: Record<string, string>; query: Record<string, string>; body?: unknown };
  response: { body: unknown };
}

function pointer(value: unknown, ptr: string): unknown {
  if (ptr === '') return value;
  let at = value;
  for (const part of ptr.replace(/^\//, '').split('/')) {
    if (at === null || typeof at !== 'object') return undefined;
    at = (at as Json)[part.replace(/~1/g, '/').replace(/~0/g, '~')];
  }
  return at;
}

/** An OpenAPI runtime expression ($response.body#/uid, $request.path.key), or a string embedding them. */
export function evaluate(expression: unknown, exchange: Exchange): unknown {
  if (typeof expression !== 'string') {
    if (expression && typeof expression === 'object') {
      return Object.fromEntries(Object.entries(expression).map(([k, v]) => [k, evaluate(v, exchange)]));
    }
    return expression;
  }
  const one = (expr: string): unknown => {
    const body = /^\$(request|response)\.body(?:#(.*))?$/.exec(expr);
    if (body) return pointer(exchange[body[1] as 'request' | 'response'].body, body[2] ?? '');
    const part = /^\$request\.(path|query)\.(.+)$/.exec(expr);
    if (part) return exchange.request[part[1] as 'path' | 'query'][part[2]];
    throw new Error(`runtime expression not understood: ${expr}`);
  };
  if (expression.startsWith('$')) return one(expression);
  return expression.replace(/\{(\$[^}]+)\}/g, (_, expr: string) => String(one(expr)));
}

/** The error codes a documented error answer lists (its examples, one per code). */
export function errorCodes(response: Response): string[] {
  const examples = response.content?.['application/json']?.examples ?? {};
  return Object.values(examples).map((e) => (e.value as { error: string }).error);
}
