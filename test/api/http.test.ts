import zlib from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestRecord, type TestRecord } from '../support/harness.js';

describe('HTTP behaviour', () => {
  let rec: TestRecord;
  beforeAll(async () => {
    rec = await startTestRecord('pglite', { validation: 'base' });
    await rec.api.put('/fhir/Patient/pat-http').set('Content-Type', 'application/fhir+json').send(JSON.stringify({ resourceType: 'Patient', id: 'pat-http', gender: 'male' }));
  });
  afterAll(() => rec.close());

  it('serves a CapabilityStatement of what works', async () => {
    const res = await rec.api.get('/fhir/metadata');
    expect(res.status).toBe(200);
    const cs = JSON.parse(res.text);
    expect(cs.resourceType).toBe('CapabilityStatement');
    expect(cs.fhirVersion).toBe('4.0.1');
    const types = cs.rest[0].resource.map((r: { type: string }) => r.type);
    expect(types).toEqual(expect.arrayContaining(['Patient', 'CareTeam', 'CarePlan', 'Consent', 'AuditEvent']));
    // The 14 types held (Group for bulk export cohorts) and the Measures served read-only.
    expect(types).toHaveLength(15);
    expect(cs.rest[0].resource.find((r: { type: string }) => r.type === 'Measure').interaction.map((i: { code: string }) => i.code)).toEqual(['read', 'search-type']);
    const carePlan = cs.rest[0].resource.find((r: { type: string }) => r.type === 'CarePlan');
    expect(carePlan.searchParam.map((p: { name: string }) => p.name)).toEqual(expect.arrayContaining(['patient', 'subject', 'care-team', 'date', '_id', '_lastUpdated']));
    expect(carePlan.searchInclude).toContain('CarePlan:subject');
    expect(cs.rest[0].interaction.map((i: { code: string }) => i.code)).toEqual(['transaction', 'batch', 'history-system']);
    expect(carePlan.operation.map((o: { name: string }) => o.name)).toContain('validate');
  });

  it('compresses responses for clients that accept gzip', async () => {
    const res = await rec.api.get('/fhir/metadata').set('Accept-Encoding', 'gzip');
    expect(res.headers['content-encoding']).toBe('gzip');
  });

  it('accepts gzip-compressed request bodies, and refuses a body that is not what its encoding says', async () => {
    const token = await rec.token({ scope: 'system/*.cruds' });
    const post = (body: Buffer | string) =>
      fetch(`${rec.baseUrl}/Patient`, { method: 'POST', headers: { 'Content-Type': 'application/fhir+json', 'Content-Encoding': 'gzip', Authorization: `Bearer ${token}` }, body });
    const res = await post(zlib.gzipSync(JSON.stringify({ resourceType: 'Patient', gender: 'female' })));
    expect(res.status).toBe(201);
    const bad = await post(JSON.stringify({ resourceType: 'Patient' }));
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { issue: { diagnostics: string }[] }).issue[0].diagnostics).toMatch(/Content-Encoding/);
  });

  it('echoes a request id, or makes one', async () => {
    const given = await rec.api.get('/fhir/Patient/pat-http').set('X-Request-Id', 'trace-123');
    expect(given.headers['x-request-id']).toBe('trace-123');
    const made = await rec.api.get('/fhir/Patient/pat-http');
    expect(made.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('answers application/json to clients that ask for it, and fhir+json otherwise', async () => {
    expect((await rec.api.get('/fhir/Patient/pat-http').set('Accept', 'application/json')).headers['content-type']).toBe('application/json; charset=utf-8');
    expect((await rec.api.get('/fhir/Patient/pat-http').set('Accept', 'application/xml, application/fhir+json;q=0.5')).status).toBe(200);
    expect((await rec.api.get('/fhir/Patient/pat-http').set('Accept', '*/*')).headers['content-type']).toBe('application/fhir+json; charset=utf-8');
    expect((await rec.api.get('/fhir/Patient/pat-http?_format=json')).status).toBe(200);
  });

  it('pretty-prints with _pretty=true', async () => {
    const res = await rec.api.get('/fhir/Patient/pat-http?_pretty=true');
    expect(res.text).toContain('\n  "resourceType": "Patient"');
  });

  it('answers HEAD with the headers of GET and no body', async () => {
    const res = await rec.api.head('/fhir/Patient/pat-http');
    expect(res.status).toBe(200);
    expect(res.headers.etag).toBe('W/"1"');
    expect(res.text ?? '').toBe('');
  });

  it('reports liveness and readiness', async () => {
    expect((await rec.api.get('/healthz')).status).toBe(200);
    const ready = await rec.api.get('/readyz');
    expect(ready.status).toBe(200);
    expect(ready.body.status).toBe('ready');
  });

  it('validates with $validate on type and instance, always answering an OperationOutcome', async () => {
    const good = await rec.api.post('/fhir/Patient/$validate').set('Content-Type', 'application/fhir+json').send(JSON.stringify({ resourceType: 'Patient', gender: 'male' }));
    expect(good.status).toBe(200);
    expect(JSON.parse(good.text).issue.filter((i: { severity: string }) => i.severity === 'error')).toEqual([]);
    const bad = await rec.api
      .post('/fhir/Patient/$validate')
      .set('Content-Type', 'application/fhir+json')
      .send(JSON.stringify({ resourceType: 'Parameters', parameter: [{ name: 'resource', resource: { resourceType: 'Patient', gender: 'mail' } }, { name: 'mode', valueCode: 'create' }] }));
    expect(bad.status).toBe(200);
    const outcome = JSON.parse(bad.text);
    expect(outcome.issue.some((i: { severity: string; expression: string[] }) => i.severity === 'error' && i.expression[0] === 'Patient.gender')).toBe(true);
    const instance = await rec.api.get('/fhir/Patient/pat-http/$validate');
    expect(instance.status).toBe(200);
    expect(JSON.parse(instance.text).resourceType).toBe('OperationOutcome');
    const wrongType = await rec.api.post('/fhir/Patient/$validate').set('Content-Type', 'application/fhir+json').send(JSON.stringify({ resourceType: 'Goal' }));
    expect(wrongType.status).toBe(400);
  });

  it('answers $validate with mode=delete by whether deleting would be refused', async () => {
    await rec.api.post('/fhir/Goal').set('Content-Type', 'application/fhir+json').send(JSON.stringify({ resourceType: 'Goal', lifecycleStatus: 'active', description: { text: 'x' }, subject: { reference: 'Patient/pat-http' } }));
    const res = await rec.api.post('/fhir/Patient/pat-http/$validate?mode=delete');
    const outcome = JSON.parse(res.text);
    expect(res.status).toBe(200);
    expect(outcome.issue[0].severity).toBe('error');
    expect(outcome.issue[0].diagnostics).toMatch(/Goal\/.* refers to it/);
    expect((await rec.api.get('/fhir/Patient/pat-http')).status).toBe(200);
  });
});

describe('access log', () => {
  it('keeps search values (an SSIN, a name) out of the logs', async () => {
    const { withoutSearchValues } = await import('../../src/http/access-log.js');
    expect(withoutSearchValues('/fhir/Patient?identifier=https://www.ehealth.fgov.be/standards/fhir/core/NamingSystem/ssin|48041201777&_count=5&family=Peeters')).toBe(
      '/fhir/Patient?identifier=*&_count=5&family=*',
    );
    expect(withoutSearchValues('/fhir/Patient/pat-1')).toBe('/fhir/Patient/pat-1');
  });
});
