import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS, startTestRecord, type TestRecord } from '../support/harness.js';
import { fhir, messages, type Fhir } from '../support/fhir-client.js';

/** Every bad request gets a 4xx with an OperationOutcome that says what is wrong: never a 500 or a hang. */
describe.each(BACKENDS)('bad input on %s', (backend) => {
  let rec: TestRecord;
  let api: Fhir;
  const expectOutcome = (res: { status: number; body: unknown; headers: Record<string, string> }, status: number, text: RegExp) => {
    expect(res.status).toBe(status);
    expect(res.headers['content-type']).toMatch(/^application\/fhir\+json/);
    expect((res.body as { resourceType: string }).resourceType).toBe('OperationOutcome');
    expect(messages(res.body)).toMatch(text);
  };

  beforeAll(async () => {
    rec = await startTestRecord(backend, { validation: 'base', config: { bodyLimitBytes: 5 * 1024 * 1024 } });
    api = fhir(rec.api);
    await api.put('Patient/pat-bad-input', { resourceType: 'Patient', id: 'pat-bad-input', name: [{ family: "O'Brien" }] });
  });
  afterAll(() => rec.close());

  it('broken JSON: 400 saying where', async () => {
    expectOutcome(await api.post('Patient', '{"resourceType": "Patient", "name": [}'), 400, /not valid JSON at line 1, column \d+/);
  });

  it('a body of another type than the URL: 400', async () => {
    expectOutcome(await api.post('Patient', { resourceType: 'CarePlan' }), 400, /body is a CarePlan but the URL is for Patient/);
  });

  it('a body that is not a resource: 400', async () => {
    expectOutcome(await api.post('Patient', '[1,2,3]'), 400, /JSON object/);
    expectOutcome(await api.post('Patient', '{"name": []}'), 400, /no resourceType/);
    expectOutcome(await api.post('Patient', ''), 400, /no body/);
  });

  it('wrong types inside the resource: 422 with the location of each problem', async () => {
    const res = await api.post('Patient', { resourceType: 'Patient', birthDate: 19480412, active: 'yes', name: 'Peeters' });
    expect(res.status).toBe(422);
    const text = messages(res.body);
    expect(text).toMatch(/Patient\.birthDate/);
    expect(text).toMatch(/Patient\.active/);
    expect(text).toMatch(/Patient\.name/);
  });

  it('an unknown resource type: 404', async () => {
    expectOutcome(await api.get('Foo'), 404, /'Foo' is not a resource type/);
    expectOutcome(await api.get('Observation'), 404, /does not hold Observation/);
    expectOutcome(await api.post('Observation', { resourceType: 'Observation' }), 404, /does not hold Observation/);
  });

  it('an invalid id in the URL: 400', async () => {
    expectOutcome(await api.get(`Patient/${'x'.repeat(65)}`), 400, /not a valid resource id/);
    expectOutcome(await api.get('Patient/a%20b'), 400, /not a valid resource id/);
  });

  it('an id mismatch on PUT: 400', async () => {
    expectOutcome(await api.put('Patient/pat-bad-input', { resourceType: 'Patient', id: 'other' }), 400, /differs from the id in the URL/);
  });

  it('an unknown search parameter: ignored and reported, or 400 with Prefer: handling=strict', async () => {
    const lenient = await api.get('Patient?colour=blue');
    expect(lenient.status).toBe(200);
    expect(lenient.text).toContain("'colour' is not a search parameter");
    expectOutcome(await api.get('Patient?colour=blue', { Prefer: 'handling=strict' }), 400, /colour/);
  });

  it('a malformed date or number in a search: 400', async () => {
    expectOutcome(await api.get('Patient?birthdate=yesterday'), 400, /not a valid date/);
    expectOutcome(await api.get('Patient?_count=many'), 400, /_count must be a whole number/);
    expectOutcome(await api.get('Patient?_lastUpdated=gt2024-13-01'), 400, /not a valid date/);
  });

  it('SQL metacharacters and quotes in search values only ever match themselves', async () => {
    for (const value of ["'; DROP TABLE resource; --", "O'Brien' OR '1'='1", '%', '_', '\\', '"', '$1', "')) OR 1=1 --"]) {
      const res = await api.get(`Patient?family=${encodeURIComponent(value)}`);
      expect(res.status, value).toBe(200);
      expect((res.body as { total: number }).total, value).toBe(0);
    }
    const quote = await api.get(`Patient?family=${encodeURIComponent("O'Brien")}`);
    expect((quote.body as { total: number }).total).toBe(1);
    expect((await api.get('Patient/pat-bad-input')).status).toBe(200);
  });

  it('a body over the limit: 413', async () => {
    const big = JSON.stringify({ resourceType: 'Patient', text: { status: 'generated', div: `<div xmlns="http://www.w3.org/1999/xhtml">${'x'.repeat(20 * 1024 * 1024)}</div>` } });
    expectOutcome(await api.post('Patient', big), 413, /larger than the limit/);
  });

  it('JSON nested 1,000 deep: 400', async () => {
    const deep = `{"resourceType":"Patient","extension":${'['.repeat(1000)}${']'.repeat(1000)}}`;
    expectOutcome(await api.post('Patient', deep), 400, /nested more than/);
  });

  it('a media type we do not take or give: 415 and 406', async () => {
    expectOutcome(await api.post('Patient', '<Patient xmlns="http://hl7.org/fhir"/>', { 'Content-Type': 'application/fhir+xml' }), 415, /FHIR JSON only/);
    expectOutcome(await api.post('Patient', 'name=x', { 'Content-Type': 'text/plain' }), 415, /text\/plain is not supported/);
    const xml = await rec.api.get('/fhir/Patient/pat-bad-input').set('Accept', 'application/fhir+xml');
    expect(xml.status).toBe(406);
    expect(JSON.parse(xml.text).resourceType).toBe('OperationOutcome');
    expect((await api.get('Patient/pat-bad-input?_format=xml')).status).toBe(406);
  });

  it('an invalid JSON Patch: 400, and a patch that does not apply: 422', async () => {
    expectOutcome(await api.patch('Patient/pat-bad-input', { op: 'replace' }), 400, /must be an array/);
    expectOutcome(await api.patch('Patient/pat-bad-input', [{ op: 'rename', path: '/gender' }]), 400, /'op' must be add, remove/);
    expectOutcome(await api.patch('Patient/pat-bad-input', [{ op: 'remove', path: '/address/3' }]), 422, /cannot be applied/);
    expectOutcome(await api.patch('Patient/pat-bad-input', [{ op: 'add', path: '/gender', value: 'x' }], { 'Content-Type': 'application/fhir+json' }), 415, /JSON Patch/);
  });

  it('a transaction with a failing entry: the error names the entry, nothing is stored', async () => {
    const res = await api.post('', {
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [
        { resource: { resourceType: 'Patient', id: 'pat-tx-1', name: [{ family: 'Tx' }] }, request: { method: 'PUT', url: 'Patient/pat-tx-1' } },
        { resource: { resourceType: 'Goal', description: { text: 'no status' }, subject: { reference: 'Patient/pat-tx-1' } }, request: { method: 'POST', url: 'Goal' } },
      ],
    });
    expectOutcome(res, 422, /Bundle\.entry\[1\]/);
    expect((await api.get('Patient/pat-tx-1')).status).toBe(404);
  });

  it('a method that the path does not take: 405', async () => {
    expectOutcome(await api.post('Patient/pat-bad-input', { resourceType: 'Patient' }), 405, /not allowed/);
    expectOutcome(await api.delete('metadata'), 405, /not allowed/);
  });

  it('paths outside the API: 404 with an OperationOutcome', async () => {
    const res = await rec.api.get('/nothing-here');
    expect(res.status).toBe(404);
    expect(JSON.parse(res.text).resourceType).toBe('OperationOutcome');
  });

  it('a forged paging cursor: 400', async () => {
    expectOutcome(await api.get('Patient?_cursor=not-a-cursor'), 400, /cursor/);
    expectOutcome(await api.get('Patient?_sort=family&_cursor=eyJ2IjpbXSwicyI6MX0'), 400, /cursor/);
  });
});
