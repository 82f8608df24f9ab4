import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Bad inputs generated from docs/openapi.json for every route: each JSON body field, query parameter and path
 * parameter gets the values that have broken services like this one (NUL, lone surrogates, malformed
 * percent-encoding, nesting past the bound, numbers outside the declared bounds, over-long strings, wrong types),
 * each with the field the answer must name. A sample, not a brute force: one value per kind and field. Routes added
 * to the document are covered without a change here.
 */

/** The subset of JSON Schema the document uses. */
export interface Schema {
  $ref?: string;
  type?: string;
  format?: string;
  enum?: unknown[];
  example?: unknown;
  properties?: Record<string, Schema>;
  required?: string[];
  items?: Schema;
  minimum?: number;
  maximum?: number;
  maxLength?: number;
  maxItems?: number;
}

interface Parameter {
  name: string;
  in: 'path' | 'query' | 'header';
  schema?: Schema;
}

export interface Operation {
  method: string;
  /** The document's template, e.g. /api/v1/accounts/{login}/enable. */
  template: string;
  roles: string[];
  params: Parameter[];
  body?: { type: string; schema: Schema };
}

export interface BadInput {
  /** What was sent, for the failure report. */
  label: string;
  method: string;
  /** Below /api/v1, percent-encoded as it goes on the wire. */
  path: string;
  body?: string | Buffer;
  contentType?: string;
  /** The field the answer must name; null where the request as a whole is at fault (a body that is not JSON). */
  field: string | null;
  /** A prefix of the named field is enough (nesting: the walker names the level where the bound is passed). */
  fieldPrefix?: boolean;
  write: boolean;
}

export interface Fixtures {
  /** A wave that exists (uuid path parameters). */
  waveId: string;
}

const MAX_DEPTH = 32;
const ROOT = join(__dirname, '../..');

export function loadDocument(): {
  paths: Record<string, Record<string, unknown>>;
  components: { schemas: Record<string, Schema> };
} {
  return JSON.parse(readFileSync(join(ROOT, 'docs/openapi.json'), 'utf8')) as ReturnType<typeof loadDocument>;
}

export function operations(doc = loadDocument()): Operation[] {
  const out: Operation[] = [];
  for (const [template, ops] of Object.entries(doc.paths)) {
    for (const [method, raw] of Object.entries(ops)) {
      const op = raw as {
        'x-roles'?: string[];
        parameters?: Parameter[];
        requestBody?: { content: Record<string, { schema: Schema }> };
      };
      const [type, content] = Object.entries(op.requestBody?.content ?? {})[0] ?? [];
      out.push({
        method: method.toUpperCase(),
        template,
        roles: op['x-roles'] ?? [],
        params: op.parameters ?? [],
        body: content ? { type, schema: content.schema } : undefined,
      });
    }
  }
  return out;
}

/** The operation's path below /api/v1 with valid parameters, but for `overrides` (sent as they are). */
export function validPath(op: Operation, fixtures: Fixtures, overrides: Record<string, string> = {}): string {
  return op.template.replace(/^\/api\/v1/, '').replace(/\{([^}]+)\}/g, (_m, name: string) => {
    if (name in overrides) return overrides[name];
    const p = op.params.find((x) => x.in === 'path' && x.name === name);
    return encodeURIComponent(pathValue(p?.schema ?? {}, fixtures));
  });
}

/** A JSON body the schema accepts (required fields and those with an example). */
export function baselineBody(op: Operation, fixtures: Fixtures, doc = loadDocument()): unknown {
  const resolve = (s: Schema): Schema => (s.$ref ? resolve(doc.components.schemas[s.$ref.split('/').pop()!]) : s);
  return op.body ? sample(op.body.schema, resolve, fixtures) : undefined;
}

/** Generates every bad input of one operation. */
export function badInputs(op: Operation, fixtures: Fixtures, doc = loadDocument()): BadInput[] {
  const resolve = (s: Schema): Schema => (s.$ref ? resolve(doc.components.schemas[s.$ref.split('/').pop()!]) : s);
  const write = !['GET', 'HEAD'].includes(op.method);
  const pathParams = op.params.filter((p) => p.in === 'path');
  const queryParams = op.params.filter((p) => p.in === 'query');
  const pathWith = (overrides: Record<string, string> = {}) => validPath(op, fixtures, overrides);
  const isJson = op.body?.type === 'application/json';
  const baseline = op.body && isJson ? sample(resolve(op.body.schema), resolve, fixtures) : undefined;
  const validBody = (): Pick<BadInput, 'body' | 'contentType'> => {
    if (!op.body) return {};
    if (isJson) return { body: JSON.stringify(baseline), contentType: 'application/json' };
    return {
      body: typeof op.body.schema.example === 'string' ? op.body.schema.example : '',
      contentType: op.body.type,
    };
  };
  const cases: BadInput[] = [];
  const add = (c: Omit<BadInput, 'method' | 'write'>) => cases.push({ method: op.method, write, ...c });

  // Path parameters: malformed percent-encoding (a lone surrogate has none that decodes), NUL, the format.
  for (const p of pathParams) {
    const bad: [string, string][] = [
      ['%FF', 'a byte that is not UTF-8'],
      ['%C0%AF', 'an overlong /'],
      ['%ED%A0%80', 'an encoded lone surrogate'],
      ['a%00b', 'a NUL byte'],
      ['%zz', 'a malformed escape'],
    ];
    if (p.schema?.format === 'uuid') bad.push(['not-a-uuid', 'not a UUID']);
    for (const [raw, what] of bad) {
      add({
        label: `path ${p.name} = ${raw} (${what})`,
        path: pathWith({ [p.name]: raw }),
        field: p.name,
        ...validBody(),
      });
    }
  }

  // Query parameters, one at a time.
  for (const p of queryParams) {
    const s = p.schema ?? {};
    const values: [string, string][] = [
      ['%00', 'NUL'],
      ['a%00b', 'NUL inside'],
      ['%FF', 'not UTF-8'],
      ['%C0%AF', 'overlong'],
      ['%ED%A0%80', 'encoded lone surrogate'],
    ];
    if (s.type === 'number' || s.type === 'integer') {
      values.push(['abc', 'not a number'], ['NaN', 'NaN'], ['Infinity', 'Infinity'], ['1e-300', 'tiny']);
      values.push(['1e308', 'huge'], ['-1', 'negative'], ['1.5', 'fraction'], ['', 'empty']);
      if (s.minimum !== undefined) values.push([String(s.minimum - 1), 'below minimum']);
      if (s.maximum !== undefined) values.push([String(s.maximum + 1), 'above maximum']);
    }
    if (s.type === 'boolean') values.push(['maybe', 'not a boolean'], ['', 'empty']);
    if (s.enum) values.push(['not-a-member', 'not in the enum']);
    if (s.format === 'uuid') values.push(['not-a-uuid', 'not a UUID']);
    if (s.format === 'date-time') values.push(['yesterday', 'not a date'], ['2026-13-45T99:00:00Z', 'impossible date']);
    if (s.maxLength !== undefined) values.push(['x'.repeat(s.maxLength + 1), 'over maxLength']);
    for (const [value, what] of values) {
      add({
        label: `query ${p.name}=${value.slice(0, 40)} (${what})`,
        path: `${pathWith()}?${encodeURIComponent(p.name)}=${value}`,
        field: p.name,
        ...validBody(),
      });
    }
    add({
      label: `query ${p.name} repeated`,
      path: `${pathWith()}?${p.name}=${queryValue(s)}&${p.name}=${queryValue(s)}`,
      field: p.name,
      ...validBody(),
    });
  }

  if (!op.body || !isJson) return cases;
  const path = pathWith();
  const json = (label: string, body: unknown, field: string, fieldPrefix = false) =>
    add({ label, path, body: encode(body), contentType: 'application/json', field, fieldPrefix });

  // The body as a whole.
  const raw = (label: string, body: string | Buffer, field: string | null) =>
    add({ label, path, body, contentType: 'application/json', field });
  raw('body: malformed JSON', '{"a": ', 'body');
  raw('body: a JSON array', '[]', 'body');
  raw('body: a JSON string', '"x"', 'body');
  raw('body: bytes that are not UTF-8', Buffer.from([0x7b, 0x22, 0xff, 0x22, 0x3a, 0x31, 0x7d]), 'body');
  const first = Object.keys(baseline as object)[0];
  json(`body: arrays 2,000 deep in ${first}`, { ...(baseline as object), [first]: nest(2000, 'arrays') }, first, true);
  json(
    `body: objects ${MAX_DEPTH + 8} deep in ${first}`,
    { ...(baseline as object), [first]: nest(MAX_DEPTH + 8, 'objects') },
    first,
    true,
  );

  // Every field, nested ones included (array items at index 0).
  for (const { field, schema, set } of fields(resolve(op.body.schema), resolve, baseline, fixtures)) {
    const s = resolve(schema);
    const mutate = (what: string, value: unknown, prefix = false) =>
      json(`${field} = ${what}`, set(value), field, prefix);
    mutate(
      `the wrong type (${s.type ?? 'object'} expected)`,
      s.type === 'number' || s.type === 'integer' ? 'x' : 12345,
    );
    if (s.type === 'string') {
      mutate('"a\\u0000b" (NUL)', 'a\u0000b');
      mutate('"a\\ud800b" (lone surrogate)', 'a\ud800b');
      mutate('"\\udc00" (lone low surrogate)', '\udc00');
      if (s.maxLength !== undefined)
        mutate(`${s.maxLength + 1} characters (maxLength ${s.maxLength})`, 'x'.repeat(s.maxLength + 1));
      if (s.format === 'uuid') mutate('not a UUID', 'not-a-uuid');
      if (s.enum) mutate('not in the enum', 'not-a-member');
    }
    if (s.type === 'number' || s.type === 'integer') {
      mutate('1e999 (Infinity)', RAW_INFINITY);
      mutate('"5" (a string)', '5');
      if (s.type === 'integer') {
        mutate('1.5', 1.5);
        mutate('1e-300', 1e-300);
      }
      if (s.minimum !== undefined) {
        mutate(`${s.minimum - 1} (below minimum ${s.minimum})`, s.minimum - 1);
        if (s.minimum > 1e-300) mutate('1e-300 (below minimum)', 1e-300);
        if (s.minimum >= 0) mutate('-1 (negative)', -1);
      }
      if (s.maximum !== undefined) {
        mutate(`${s.maximum + 1} (above maximum ${s.maximum})`, s.maximum + 1);
        mutate('1e308 (above maximum)', 1e308);
      }
    }
    if (s.type === 'boolean') mutate('"true" (a string)', 'true');
    if (s.type === 'array' && s.maxItems !== undefined && s.maxItems <= 1000) {
      const item = sample(resolve(s.items ?? {}), resolve, fixtures);
      mutate(`${s.maxItems + 1} items (maxItems ${s.maxItems})`, Array(s.maxItems + 1).fill(item));
    }
    if (s.type === 'array' || s.properties) mutate(`nested ${MAX_DEPTH + 1} deep`, nest(MAX_DEPTH + 1, 'arrays'), true);
  }
  return cases;
}

/** A body that is fine as far as the schema says: required fields and those with an example. */
function sample(schema: Schema, resolve: (s: Schema) => Schema, fixtures: Fixtures): unknown {
  const s = resolve(schema);
  if (s.example !== undefined) return s.example;
  if (s.enum) return s.enum[0];
  switch (s.type) {
    case 'string':
      if (s.format === 'uuid') return fixtures.waveId;
      if (s.format === 'date-time') return new Date().toISOString();
      return 'x';
    case 'number':
    case 'integer':
      return s.minimum ?? 1;
    case 'boolean':
      return false;
    case 'array':
      return [sample(s.items ?? {}, resolve, fixtures)];
    default: {
      const out: Record<string, unknown> = {};
      for (const [name, prop] of Object.entries(s.properties ?? {})) {
        if (s.required?.includes(name) || resolve(prop).example !== undefined)
          out[name] = sample(prop, resolve, fixtures);
      }
      return out;
    }
  }
}

interface Field {
  field: string;
  schema: Schema;
  /** The baseline body with this field set to `value` (containers on the way made as needed). */
  set(value: unknown): unknown;
}

/** Every field of a body schema, depth first: objects' properties and arrays' first item. */
function fields(root: Schema, resolve: (s: Schema) => Schema, baseline: unknown, fixtures: Fixtures): Field[] {
  const out: Field[] = [];
  type Step = string | number;
  const visit = (schema: Schema, steps: Step[], seen: Set<Schema>) => {
    const s = resolve(schema);
    if (seen.has(s)) return; // a recursive schema: once is enough
    const inner = new Set(seen).add(s);
    if (s.properties) {
      for (const [name, prop] of Object.entries(s.properties)) {
        const at = [...steps, name];
        out.push(field(prop, at));
        visit(prop, at, inner);
      }
    } else if (s.type === 'array' && s.items) {
      const at = [...steps, 0];
      out.push(field(s.items, at));
      visit(s.items, at, inner);
    }
  };
  const field = (schema: Schema, at: Step[]): Field => ({
    field: at.reduce<string>((p, k) => (typeof k === 'number' ? `${p}[${k}]` : p ? `${p}.${k}` : k), ''),
    schema,
    set: (value) => setAt(baseline, root, at, value, resolve, fixtures),
  });
  visit(root, [], new Set());
  return out;
}

function setAt(
  container: unknown,
  schema: Schema,
  at: (string | number)[],
  value: unknown,
  resolve: (s: Schema) => Schema,
  fixtures: Fixtures,
): unknown {
  if (at.length === 0) return value;
  const s = resolve(schema);
  const [key, ...rest] = at;
  if (typeof key === 'number') {
    const items = s.items ?? {};
    const arr =
      Array.isArray(container) && container.length ? [...(container as unknown[])] : [sample(items, resolve, fixtures)];
    arr[key] = setAt(arr[key], items, rest, value, resolve, fixtures);
    return arr;
  }
  const obj =
    typeof container === 'object' && container !== null && !Array.isArray(container)
      ? { ...(container as Record<string, unknown>) }
      : (sample(s, resolve, fixtures) as Record<string, unknown>);
  const prop = s.properties?.[key] ?? {};
  obj[key] = setAt(
    obj[key] ?? (rest.length ? sample(prop, resolve, fixtures) : undefined),
    prop,
    rest,
    value,
    resolve,
    fixtures,
  );
  return obj;
}

function pathValue(s: Schema, fixtures: Fixtures): string {
  if (typeof s.example === 'string') return s.example;
  return s.format === 'uuid' ? fixtures.waveId : 'x';
}

function queryValue(s: Schema): string {
  if (s.enum) return String(s.enum[0]);
  if (s.type === 'number' || s.type === 'integer') return String(s.minimum ?? 1);
  if (s.type === 'boolean') return 'true';
  return 'x';
}

/** `[[[…]]]` or `{"a":{"a":…}}`, `depth` levels. */
function nest(depth: number, kind: 'arrays' | 'objects'): unknown {
  let v: unknown = kind === 'arrays' ? [] : {};
  for (let i = 1; i < depth; i++) v = kind === 'arrays' ? [v] : { a: v };
  return v;
}

/** JSON has no Infinity: 1e999 is how a client sends one (JSON.parse reads it as Infinity). */
const RAW_INFINITY = '__raw_infinity__';
function encode(body: unknown): string {
  return JSON.stringify(body).replace(`"${RAW_INFINITY}"`, '1e999');
}
