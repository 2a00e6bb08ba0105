import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS, startTestRecord, type TestRecord } from '../support/harness.js';
import { fhir, messages, type Fhir } from '../support/fhir-client.js';

interface ResponseBundle {
  resourceType: string;
  type: string;
  entry: { resource?: Record<string, unknown>; response: { status: string; location?: string; etag?: string; outcome?: unknown } }[];
}

const patient = (family: string, identifier?: string) => ({
  resourceType: 'Patient',
  name: [{ family }],
  ...(identifier ? { identifier: [{ system: 'urn:test:bundle', value: identifier }] } : {}),
});

describe.each(BACKENDS)('batch and transaction on %s', (backend) => {
  let rec: TestRecord;
  let api: Fhir;
  beforeAll(async () => {
    rec = await startTestRecord(backend, { validation: 'base' });
    api = fhir(rec.api);
  });
  afterAll(() => rec.close());

  it('resolves urn:uuid references between new resources, whatever their order', async () => {
    const res = await api.post<ResponseBundle>('', {
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [
        {
          fullUrl: 'urn:uuid:2b6d9e2e-3b0e-4b8a-9b55-1f3f6c0e0a01',
          resource: { resourceType: 'CarePlan', status: 'active', intent: 'plan', subject: { reference: 'urn:uuid:8f0c4c8e-6f55-4a5e-9e3b-6d2f7a1b9c02' } },
          request: { method: 'POST', url: 'CarePlan' },
        },
        { fullUrl: 'urn:uuid:8f0c4c8e-6f55-4a5e-9e3b-6d2f7a1b9c02', resource: patient('Transaction'), request: { method: 'POST', url: 'Patient' } },
      ],
    });
    expect(res.status).toBe(200);
    expect(res.body.type).toBe('transaction-response');
    expect(res.body.entry.map((e) => e.response.status)).toEqual(['201 Created', '201 Created']);
    const patientId = (res.body.entry[1].resource as { id: string }).id;
    expect((res.body.entry[0].resource as { subject: unknown }).subject).toEqual({ reference: `Patient/${patientId}` });
    expect(res.body.entry[0].response.location).toMatch(/\/CarePlan\/[^/]+\/_history\/1$/);
    expect((await api.get(`CarePlan?subject=Patient/${patientId}`)).body.total).toBe(1);
  });

  it('resolves conditional references and If-None-Exist inside a transaction', async () => {
    await api.post('Patient', patient('Known', 'known-1'));
    const res = await api.post<ResponseBundle>('', {
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [
        { resource: { resourceType: 'Goal', lifecycleStatus: 'active', description: { text: 'walk' }, subject: { reference: 'Patient?identifier=urn:test:bundle|known-1' } }, request: { method: 'POST', url: 'Goal' } },
        { fullUrl: 'urn:uuid:0d3a51d6-0e0e-4a41-a5a4-1c1c1c1c1c1c', resource: patient('Known', 'known-1'), request: { method: 'POST', url: 'Patient', ifNoneExist: 'identifier=urn:test:bundle|known-1' } },
      ],
    });
    expect(res.status).toBe(200);
    expect(res.body.entry[1].response.status).toBe('200 OK');
    expect((await api.get('Patient?identifier=urn:test:bundle|known-1')).body.total).toBe(1);
    const goalSubject = (res.body.entry[0].resource as { subject: { reference: string } }).subject.reference;
    expect(goalSubject).toBe(`Patient/${(res.body.entry[1].resource as { id: string }).id}`);
  });

  it('is atomic: one failing entry and nothing of the transaction is stored', async () => {
    const res = await api.post('', {
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [
        { resource: patient('Atomic', 'atomic-1'), request: { method: 'POST', url: 'Patient' } },
        { resource: { resourceType: 'Patient', gender: 'mail' }, request: { method: 'POST', url: 'Patient' } },
      ],
    });
    expect(res.status).toBe(422);
    expect(messages(res.body)).toMatch(/Bundle\.entry\[1\]\.resource\.gender/);
    expect((await api.get('Patient?identifier=urn:test:bundle|atomic-1')).body.total).toBe(0);
  });

  it('rolls back when a reference in the transaction cannot be resolved', async () => {
    const res = await api.post('', {
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [
        { resource: patient('Orphan', 'orphan-1'), request: { method: 'POST', url: 'Patient' } },
        { resource: { resourceType: 'Goal', lifecycleStatus: 'active', description: { text: 'x' }, subject: { reference: 'urn:uuid:00000000-0000-4000-8000-000000000000' } }, request: { method: 'POST', url: 'Goal' } },
      ],
    });
    expect(res.status).toBe(400);
    expect(messages(res.body)).toContain('urn:uuid:00000000-0000-4000-8000-000000000000');
    expect((await api.get('Patient?identifier=urn:test:bundle|orphan-1')).body.total).toBe(0);
  });

  it('processes deletes, creates, updates and reads in the order the specification gives', async () => {
    const a = await api.put('Patient/pat-bundle-a', { ...patient('A'), id: 'pat-bundle-a' });
    expect(a.status).toBe(201);
    const res = await api.post<ResponseBundle>('', {
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [
        { request: { method: 'GET', url: 'Patient?_id=pat-bundle-a,pat-bundle-b' } },
        { resource: { ...patient('B'), id: 'pat-bundle-b' }, request: { method: 'PUT', url: 'Patient/pat-bundle-b' } },
        { request: { method: 'DELETE', url: 'Patient/pat-bundle-a' } },
      ],
    });
    expect(res.status).toBe(200);
    const search = res.body.entry[0].resource as { total: number; entry: { resource: { id: string } }[] };
    expect(search.entry.map((e) => e.resource.id)).toEqual(['pat-bundle-b']);
    expect(res.body.entry[1].response.status).toBe('201 Created');
  });

  it('takes absolute request URLs on this server like relative ones', async () => {
    const res = await api.post<ResponseBundle>('', {
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [{ resource: { ...patient('Absolute'), id: 'pat-bundle-abs' }, request: { method: 'PUT', url: `${rec.baseUrl}/Patient/pat-bundle-abs` } }],
    });
    expect(res.status).toBe(200);
    expect(res.body.entry[0].response.status).toBe('201 Created');
  });

  it('applies a JSON Patch carried as a Binary', async () => {
    await api.put('Patient/pat-bundle-patch', { ...patient('Patchy'), id: 'pat-bundle-patch' });
    const patch = Buffer.from(JSON.stringify([{ op: 'add', path: '/gender', value: 'female' }])).toString('base64');
    const res = await api.post<ResponseBundle>('', {
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [{ resource: { resourceType: 'Binary', contentType: 'application/json-patch+json', data: patch }, request: { method: 'PATCH', url: 'Patient/pat-bundle-patch' } }],
    });
    expect(res.status).toBe(200);
    expect((await api.get('Patient/pat-bundle-patch')).body.gender).toBe('female');
  });

  it('runs batch entries independently and reports each outcome', async () => {
    const res = await api.post<ResponseBundle>('', {
      resourceType: 'Bundle',
      type: 'batch',
      entry: [
        { resource: patient('Batch', 'batch-1'), request: { method: 'POST', url: 'Patient' } },
        { resource: { resourceType: 'Patient', gender: 'mail' }, request: { method: 'POST', url: 'Patient' } },
        { request: { method: 'GET', url: 'Patient/does-not-exist' } },
        { request: { method: 'GET', url: 'Patient?identifier=urn:test:bundle|batch-1' } },
      ],
    });
    expect(res.status).toBe(200);
    expect(res.body.type).toBe('batch-response');
    expect(res.body.entry.map((e) => e.response.status)).toEqual(['201 Created', '422', '404', '200 OK']);
    expect(messages(res.body.entry[1].response.outcome)).toMatch(/gender/);
    expect((res.body.entry[3].resource as { total: number }).total).toBe(1);
  });

  it('refuses what is not a batch or transaction, and malformed entries', async () => {
    expect((await api.post('', { resourceType: 'Bundle', type: 'collection', entry: [] })).status).toBe(400);
    expect((await api.post('', { resourceType: 'Patient' })).status).toBe(400);
    const noRequest = await api.post('', { resourceType: 'Bundle', type: 'transaction', entry: [{ resource: patient('X') }] });
    expect(noRequest.status).toBe(400);
    expect(messages(noRequest.body)).toContain('Bundle.entry[0].request');
    const badMethod = await api.post('', { resourceType: 'Bundle', type: 'transaction', entry: [{ resource: patient('X'), request: { method: 'FETCH', url: 'Patient' } }] });
    expect(badMethod.status).toBe(400);
    const nested = await api.post<ResponseBundle>('', {
      resourceType: 'Bundle',
      type: 'batch',
      entry: [{ resource: { resourceType: 'Bundle', type: 'batch' }, request: { method: 'POST', url: '' } }],
    });
    expect(nested.body.entry[0].response.status).toBe('400');
  });
});
