import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS, startTestRecord, type TestRecord } from '../support/harness.js';
import { fhir, messages, nextLink, type Fhir } from '../support/fhir-client.js';

interface HistoryBundle {
  type: string;
  total?: number;
  link: { relation: string; url: string }[];
  entry: { fullUrl: string; resource?: { id: string; meta: { versionId: string }; gender?: string }; request: { method: string; url: string }; response: { status: string; etag: string } }[];
}

describe.each(BACKENDS)('history on %s', (backend) => {
  let rec: TestRecord;
  let api: Fhir;
  let id: string;
  let afterCreate: string;
  let orgId: string;
  beforeAll(async () => {
    rec = await startTestRecord(backend, { validation: 'base' });
    api = fhir(rec.api);
    const created = await api.post('Patient', { resourceType: 'Patient', gender: 'female' });
    id = created.body.id as string;
    await new Promise((r) => setTimeout(r, 20));
    afterCreate = new Date().toISOString();
    await api.put(`Patient/${id}`, { resourceType: 'Patient', id, gender: 'male' });
    await api.delete(`Patient/${id}`);
    orgId = (await api.post('Organization', { resourceType: 'Organization', name: 'Other' })).body.id as string;
  });
  afterAll(() => rec.close());

  it('lists every version of a resource, newest first, deletion included', async () => {
    const res = await api.get<HistoryBundle>(`Patient/${id}/_history`);
    expect(res.status).toBe(200);
    expect(res.body.type).toBe('history');
    expect(res.body.total).toBe(3);
    const entries = res.body.entry;
    expect(entries.map((e) => e.request.method)).toEqual(['DELETE', 'PUT', 'POST']);
    expect(entries.map((e) => e.response.etag)).toEqual(['W/"3"', 'W/"2"', 'W/"1"']);
    expect(entries[0].resource).toBeUndefined();
    expect(entries[1].resource!.gender).toBe('male');
    expect(entries[2].resource!.gender).toBe('female');
    expect(entries[2].response.status).toBe('201 Created');
    expect(entries[0].request.url).toBe(`Patient/${id}`);
  });

  it('filters with _since', async () => {
    const res = await api.get<HistoryBundle>(`Patient/${id}/_history?_since=${afterCreate}`);
    expect(res.body.entry.map((e) => e.response.etag)).toEqual(['W/"3"', 'W/"2"']);
  });

  it('gives type and system history', async () => {
    const type = await api.get<HistoryBundle>('Patient/_history');
    expect(type.body.entry).toHaveLength(3);
    const system = await api.get<HistoryBundle>('_history?_count=100');
    // Besides what this test wrote, the system history holds the audit events of those accesses
    // and the guidelines published at start-up.
    const written = system.body.entry.filter((e) => /\/(Patient|Organization)\//.test(e.fullUrl));
    expect(written.map((e) => e.fullUrl.split('/fhir/')[1])).toEqual(['Organization/' + orgId, `Patient/${id}`, `Patient/${id}`, `Patient/${id}`]);
    expect(system.body.entry.some((e) => e.fullUrl.includes('/AuditEvent/'))).toBe(true);
  });

  it('pages with _count, and new writes do not shift later pages', async () => {
    for (const name of ['B', 'C', 'D']) await api.post('Organization', { resourceType: 'Organization', name });
    const first = await api.get<HistoryBundle>('Organization/_history?_count=2');
    expect(first.body.entry.map((e) => (e.resource as unknown as { name: string }).name)).toEqual(['D', 'C']);
    await api.post('Organization', { resourceType: 'Organization', name: 'Written while paging' });
    const second = await api.get<HistoryBundle>(nextLink(first.body as never)!);
    expect(second.body.entry.map((e) => (e.resource as unknown as { name: string }).name)).toEqual(['B', 'Other']);
    expect(nextLink(second.body as never)).toBeUndefined();
  });

  it('refuses a malformed _since and unsupported history parameters', async () => {
    const res = await api.get('_history?_since=last-week');
    expect(res.status).toBe(400);
    expect(messages(res.body)).toContain('_since');
    expect((await api.get('_history?_at=2024')).status).toBe(400);
  });

  it('answers 404 for the history of an unknown resource', async () => {
    expect((await api.get('Patient/nobody/_history')).status).toBe(404);
  });
});
