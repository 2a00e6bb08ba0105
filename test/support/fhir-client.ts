import type supertest from 'supertest';
import type { OperationOutcome } from 'fhir/r4.js';

export const FHIR_JSON = 'application/fhir+json';

export interface FhirResult<T = Record<string, unknown>> {
  status: number;
  headers: Record<string, string>;
  body: T;
  text: string;
}

type Agent = supertest.Agent;

function wrap<T>(res: supertest.Response): FhirResult<T> {
  let body: unknown = undefined;
  if (res.text) {
    try {
      body = JSON.parse(res.text);
    } catch {
      body = res.text;
    }
  }
  return { status: res.status, headers: res.headers as Record<string, string>, body: body as T, text: res.text };
}

/** Thin helpers over supertest that speak application/fhir+json both ways. */
export function fhir(api: Agent) {
  const send = async <T>(method: 'post' | 'put' | 'patch' | 'delete' | 'get', path: string, body?: unknown, headers: Record<string, string> = {}) => {
    let req = api[method](path.startsWith('/') ? path : `/fhir/${path}`).set('Accept', FHIR_JSON);
    for (const [k, v] of Object.entries(headers)) req = req.set(k, v);
    if (body !== undefined) {
      req = req.set('Content-Type', headers['Content-Type'] ?? FHIR_JSON).send(typeof body === 'string' ? body : JSON.stringify(body));
    }
    return wrap<T>(await req);
  };
  return {
    get: <T = Record<string, unknown>>(path: string, headers?: Record<string, string>) => send<T>('get', path, undefined, headers),
    post: <T = Record<string, unknown>>(path: string, body: unknown, headers?: Record<string, string>) => send<T>('post', path, body, headers),
    put: <T = Record<string, unknown>>(path: string, body: unknown, headers?: Record<string, string>) => send<T>('put', path, body, headers),
    patch: <T = Record<string, unknown>>(path: string, body: unknown, headers?: Record<string, string>) =>
      send<T>('patch', path, body, { 'Content-Type': 'application/json-patch+json', ...headers }),
    delete: <T = Record<string, unknown>>(path: string, headers?: Record<string, string>) => send<T>('delete', path, undefined, headers),
  };
}

export type Fhir = ReturnType<typeof fhir>;

/** All issue texts of an OperationOutcome, for assertions on what the user reads. */
export function messages(outcome: unknown): string {
  return ((outcome as OperationOutcome).issue ?? []).map((i) => `${i.severity}|${i.code}|${(i.expression ?? []).join(',')}|${i.diagnostics ?? i.details?.text}`).join('\n');
}

export interface SearchBundle {
  resourceType: 'Bundle';
  type: string;
  total?: number;
  link: { relation: string; url: string }[];
  entry?: { fullUrl?: string; resource: Record<string, unknown> & { resourceType: string; id: string }; search?: { mode: string } }[];
}

export function ids(bundle: SearchBundle, mode = 'match'): string[] {
  return (bundle.entry ?? []).filter((e) => (e.search?.mode ?? 'match') === mode).map((e) => `${e.resource.resourceType}/${e.resource.id}`);
}

export function nextLink(bundle: SearchBundle): string | undefined {
  const url = bundle.link.find((l) => l.relation === 'next')?.url;
  return url ? url.slice(url.indexOf('/fhir/')) : undefined;
}
