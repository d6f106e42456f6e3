import { readFile } from 'node:fs/promises';
import { Validator } from '@seriousme/openapi-schema-validator';
import { beforeAll, describe, expect, it } from 'vitest';
import { ERRORS } from '../src/errors.js';
import { isEvpid, isMsgid } from '../src/ids.js';
import { DEFAULT_LIMITS, FEATURES } from '../src/wire.js';

const DOCUMENT_URL = new URL('../openapi/openapi.json', import.meta.url);
const PROTOCOL_DOC_URL = new URL('../../../docs/protocol.md', import.meta.url);
const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options'] as const;

type Json = Record<string, unknown>;
let document: Json;

beforeAll(async () => {
  document = JSON.parse(await readFile(DOCUMENT_URL, 'utf8')) as Json;
});

function at(value: unknown, ...keys: string[]): unknown {
  let node = value;
  for (const key of keys) node = (node as Json | undefined)?.[key];
  return node;
}

/** Returns each operation of the document as `METHOD /path`. */
function documentRoutes(): string[] {
  const routes: string[] = [];
  for (const [path, item] of Object.entries(document.paths as Json)) {
    for (const method of METHODS) {
      if ((item as Json)[method] !== undefined) routes.push(`${method.toUpperCase()} ${path}`);
    }
  }
  return routes.sort();
}

/** Returns each route of the request table of docs/protocol.md as `METHOD /path`. */
async function protocolDocRoutes(): Promise<string[]> {
  const text = await readFile(PROTOCOL_DOC_URL, 'utf8');
  const routes = new Set<string>();
  for (const match of text.matchAll(/^\| `(GET|POST|PUT|DELETE|PATCH) (\/v1[^\s`]*)/gm)) {
    routes.add(`${match[1]} ${match[2]}`);
  }
  return [...routes].sort();
}

function collectRefs(node: unknown, refs: string[]): string[] {
  if (Array.isArray(node)) {
    for (const item of node) collectRefs(item, refs);
  } else if (typeof node === 'object' && node !== null) {
    for (const [key, value] of Object.entries(node)) {
      if (key === '$ref' && typeof value === 'string') refs.push(value);
      else collectRefs(value, refs);
    }
  }
  return refs;
}

/** Returns the parameters of an operation and of its path item, with references resolved. */
function operationParameters(path: string, method: string): Json[] {
  const item = at(document, 'paths', path) as Json;
  const all = [
    ...((item.parameters as Json[] | undefined) ?? []),
    ...((at(item, method, 'parameters') as Json[] | undefined) ?? []),
  ];
  return all.map((parameter) => {
    const ref = parameter.$ref;
    if (typeof ref !== 'string') return parameter;
    return at(document, ...ref.slice(2).split('/')) as Json;
  });
}

describe('openapi document', () => {
  it('is OpenAPI 3.1', () => {
    expect(document.openapi).toMatch(/^3\.1\.\d+$/);
  });

  it('validates against the OpenAPI schema', async () => {
    const validator = new Validator();

    const result = await validator.validate(structuredClone(document));

    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
  });

  it('resolves every reference', () => {
    const refs = collectRefs(document, []);

    expect(refs.length).toBeGreaterThan(0);
    for (const ref of refs) {
      expect(ref, ref).toMatch(/^#\/components\//);
      expect(at(document, ...ref.slice(2).split('/')), ref).toBeDefined();
    }
  });

  it('lists the routes of docs/protocol.md', async () => {
    const expected = await protocolDocRoutes();

    expect(expected.length).toBeGreaterThanOrEqual(18);
    expect(documentRoutes()).toEqual(expected);
  });

  it('lists the error catalogue', () => {
    const codes = at(document, 'components', 'schemas', 'ErrorCode', 'enum');

    expect(codes).toEqual(Object.keys(ERRORS));
  });

  it('lists the features and limits', () => {
    const features = at(document, 'components', 'schemas', 'ServiceInfo', 'properties');

    expect(at(features, 'features', 'items', 'enum')).toEqual([...FEATURES]);
    const limits = at(document, 'components', 'schemas', 'Limits', 'properties') as Json;
    expect(Object.keys(limits).sort()).toEqual(Object.keys(DEFAULT_LIMITS).sort());
  });

  it('matches the id checks', () => {
    const msgid = new RegExp(at(document, 'components', 'schemas', 'Msgid', 'pattern') as string);
    const evpid = new RegExp(at(document, 'components', 'schemas', 'Evpid', 'pattern') as string);
    const samples = [
      '0000abcd',
      '00000000',
      '0000ABCD',
      '0x00abcd',
      '000abcd',
      '0000abcd00000001',
      '0000abcd00000000',
      '000000000000abcd',
      '0000abcd0000000g',
      '0000abcd000000011',
    ];

    for (const sample of samples) {
      expect(msgid.test(sample), `msgid ${sample}`).toBe(isMsgid(sample));
      expect(evpid.test(sample), `evpid ${sample}`).toBe(isEvpid(sample));
    }
  });

  it('takes an Idempotency-Key on every write', () => {
    for (const [path, item] of Object.entries(document.paths as Json)) {
      for (const method of ['put', 'post', 'delete']) {
        if ((item as Json)[method] === undefined) continue;
        const names = operationParameters(path, method).map((parameter) => parameter.name);
        expect(names, `${method} ${path}`).toContain('Idempotency-Key');
      }
    }
  });

  it('requires Content-Digest on body uploads', () => {
    for (const path of ['/v1/messages/{msgid}/body', '/v1/messages/{msgid}/bundle']) {
      const digest = operationParameters(path, 'put').find(
        (parameter) => parameter.name === 'Content-Digest',
      );
      expect(digest?.required, path).toBe(true);
      expect(at(document, 'paths', path, 'put', 'requestBody'), path).toBeDefined();
    }
  });

  it('needs no token for health', () => {
    expect(at(document, 'paths', '/v1/health', 'get', 'security')).toEqual([]);
    expect(at(document, 'components', 'securitySchemes', 'bearerAuth', 'scheme')).toBe('bearer');
  });
});
