import type { Parameters } from 'fhir/r4.js';
import type { Config } from '../../src/config.js';
import { SYSTEM_PRINCIPAL } from '../../src/interactions/context.js';
import type { RequestContext } from '../../src/interactions/context.js';
import { contentKey, type Obj } from '../../src/sync/content.js';
import type { SyncContext } from '../../src/sync/index.js';
import { SyncWorker, type WorkerOptions } from '../../src/sync/worker.js';
import { startTestRecord, type Backend, type TestRecord, type TestRecordOptions } from '../support/harness.js';
import type { UpstreamServer } from '../support/upstream-server.js';

/** Small delays so that retries and polls happen within a test's time. */
export const FAST_SYNC: Partial<Config> = {
  syncRetryBaseMs: 20,
  syncRetryMaxMs: 300,
  syncRequestTimeoutMs: 1000,
  syncPollIntervalMs: 100,
  syncPushIntervalMs: 50,
  syncOverlapMs: 2000,
};

export const NO_VALIDATION = { validator: { validate: () => [], profileUrls: () => [] } };

export async function startSyncedRecord(backend: Backend, upstream: Pick<UpstreamServer, 'url'>, options: TestRecordOptions = {}): Promise<TestRecord> {
  return startTestRecord(backend, { validation: 'base', ...options, config: { upstreamFhirUrl: upstream.url, ...FAST_SYNC, ...options.config } });
}

export function syncOf(rec: TestRecord): SyncContext {
  if (!rec.runtime.sync) throw new Error('sync is not configured on this record');
  return rec.runtime.sync;
}

export function newWorker(rec: TestRecord, options: WorkerOptions = {}): SyncWorker {
  return new SyncWorker(syncOf(rec), options);
}

export const ctx = (rec: TestRecord): RequestContext => ({ baseUrl: rec.baseUrl, lang: 'en', prefer: {}, requestId: 'test', principal: SYSTEM_PRINCIPAL });

export const patient = (family: string, extra: Obj = {}): Obj => ({
  resourceType: 'Patient',
  name: [{ family, given: ['Test'] }],
  gender: 'female',
  birthDate: '1950-01-01',
  ...extra,
});

/** Creates through the FHIR service (validation and the outbox hook, without HTTP). */
export async function create(rec: TestRecord, resource: Obj): Promise<Obj> {
  const res = await rec.runtime.service.crud.create(ctx(rec), String(resource.resourceType), resource, {});
  return JSON.parse((res.body as { text: string }).text) as Obj;
}

export async function update(rec: TestRecord, resource: Obj): Promise<Obj> {
  const res = await rec.runtime.service.crud.update(ctx(rec), String(resource.resourceType), String(resource.id), resource, {});
  return JSON.parse((res.body as { text: string }).text) as Obj;
}

export async function remove(rec: TestRecord, type: string, id: string): Promise<void> {
  await rec.runtime.service.crud.delete(ctx(rec), type, id, {});
}

export async function readLocal(rec: TestRecord, type: string, id: string): Promise<{ version: number; deleted: boolean; resource?: Obj } | undefined> {
  const r = await rec.runtime.store.reader().read(type, id);
  return r ? { version: r.version, deleted: r.deleted, resource: r.json ? (JSON.parse(r.json) as Obj) : undefined } : undefined;
}

/** A write made upstream by another system, over HTTP. */
export async function upstreamWrite(upstream: Pick<UpstreamServer, 'url'>, method: 'PUT' | 'POST' | 'DELETE', path: string, body?: Obj, headers: Record<string, string> = {}): Promise<{ status: number; body: Obj }> {
  const res = await fetch(`${upstream.url}/${path}`, {
    method,
    headers: { 'content-type': 'application/fhir+json', accept: 'application/fhir+json', ...headers },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as Obj) : {} };
}

export async function upstreamRead(upstream: Pick<UpstreamServer, 'url'>, type: string, id: string): Promise<Obj | undefined> {
  const res = await fetch(`${upstream.url}/${type}/${id}`, { headers: { accept: 'application/fhir+json' } });
  return res.status === 200 ? ((await res.json()) as Obj) : undefined;
}

/** Polls until check() is truthy, or fails with what was expected. */
export async function until<T>(check: () => Promise<T> | T, what: string, timeoutMs = 30_000, everyMs = 25): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v) return v as NonNullable<T>;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for: ${what}${last ? ` (last error: ${(last as Error).message})` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** $sync-status over HTTP, as a plain object. */
export async function syncStatus(rec: TestRecord): Promise<Record<string, unknown>> {
  const res = await rec.api.get('/fhir/$sync-status').set('Accept', 'application/fhir+json');
  if (res.status !== 200) throw new Error(`$sync-status answered ${res.status}: ${res.text}`);
  const out: Record<string, unknown> = {};
  for (const p of (JSON.parse(res.text) as Parameters).parameter ?? []) {
    const key = Object.keys(p).find((k) => k.startsWith('value'));
    out[p.name] = key ? (p as unknown as Record<string, unknown>)[key] : undefined;
  }
  return out;
}

/**
 * Upstream state against local state: every local resource of the type (not deleted) is upstream
 * with the same content, nothing else is there, and no resource has two consecutive upstream
 * versions with the same content (a change applied twice).
 */
export async function expectSameEverywhere(rec: TestRecord, upstream: UpstreamServer, type: string): Promise<{ count: number; versions: number }> {
  const { rows } = await rec.runtime.db.query<{ id: string; content: string }>('SELECT id, content FROM resource WHERE res_type = $1 AND NOT deleted', [type]);
  const remote = await upstream.resources(type);
  const problems: string[] = [];
  const byId = new Map(remote.map((r) => [r.id, r as unknown as Obj]));
  if (remote.length !== rows.length) problems.push(`${rows.length} ${type} here, ${remote.length} upstream`);
  for (const row of rows) {
    const r = byId.get(row.id);
    if (!r) problems.push(`${type}/${row.id} is missing upstream`);
    else if (contentKey(r) !== contentKey(row.content)) problems.push(`${type}/${row.id} differs upstream`);
  }
  let versions = 0;
  for (const r of remote) {
    const v = upstream.versions(type, r.id).filter((e) => e.resource);
    versions += v.length;
    for (let i = 1; i < v.length; i++) {
      if (contentKey(v[i].resource as unknown as Obj) === contentKey(v[i - 1].resource as unknown as Obj)) problems.push(`${type}/${r.id} has the same content twice in a row upstream`);
    }
  }
  if (problems.length) throw new Error(`upstream and local differ:\n${problems.slice(0, 20).join('\n')}${problems.length > 20 ? `\n... ${problems.length - 20} more` : ''}`);
  return { count: rows.length, versions };
}
