import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS, startTestRecord, type TestRecord } from '../support/harness.js';
import { fhir, type Fhir } from '../support/fhir-client.js';

describe.each(BACKENDS)('concurrent writes on %s', (backend) => {
  let rec: TestRecord;
  let api: Fhir;
  beforeAll(async () => {
    rec = await startTestRecord(backend, { validation: 'base' });
    api = fhir(rec.api);
  });
  afterAll(() => rec.close());

  it('two updates with the same If-Match: exactly one wins, the other gets 412', async () => {
    const created = await api.post('Patient', { resourceType: 'Patient', gender: 'female' });
    const id = created.body.id as string;
    for (let round = 1; round <= 5; round++) {
      const results = await Promise.all(
        ['male', 'other'].map((gender) => api.put(`Patient/${id}`, { resourceType: 'Patient', id, gender, birthDate: `19${50 + round}` }, { 'If-Match': `W/"${round}"` })),
      );
      expect(results.map((r) => r.status).sort()).toEqual([200, 412]);
      const winner = results.find((r) => r.status === 200)!;
      expect(winner.headers.etag).toBe(`W/"${round + 1}"`);
      expect((await api.get(`Patient/${id}`)).body.gender).toBe(winner.body.gender);
    }
  });

  it('200 parallel creates: 200 resources, all found by search', async () => {
    const results = await Promise.all(
      Array.from({ length: 200 }, (_, i) => api.post('Patient', { resourceType: 'Patient', identifier: [{ system: 'urn:test:parallel', value: `p${i}` }] })),
    );
    expect(results.every((r) => r.status === 201)).toBe(true);
    expect(new Set(results.map((r) => r.body.id)).size).toBe(200);
    const count = await api.get('Patient?identifier=urn:test:parallel|&_summary=count');
    expect(count.body.total).toBe(200);
    const one = await api.get('Patient?identifier=urn:test:parallel|p137');
    expect(one.body.total).toBe(1);
  });

  it('parallel conditional creates with the same criteria make one resource', async () => {
    const results = await Promise.all(
      Array.from({ length: 10 }, () =>
        api.post('Patient', { resourceType: 'Patient', identifier: [{ system: 'urn:test:once', value: 'x' }] }, { 'If-None-Exist': 'identifier=urn:test:once|x' }),
      ),
    );
    expect(results.filter((r) => r.status === 201)).toHaveLength(1);
    expect(results.filter((r) => r.status === 200)).toHaveLength(9);
    expect((await api.get('Patient?identifier=urn:test:once|x')).body.total).toBe(1);
  });

  it('parallel update-as-create of one new id: one creates, the others update or find it unchanged', async () => {
    const results = await Promise.all(Array.from({ length: 8 }, () => api.put('Patient/pat-race', { resourceType: 'Patient', id: 'pat-race', gender: 'unknown' })));
    expect(results.filter((r) => r.status === 201)).toHaveLength(1);
    expect(results.filter((r) => r.status === 200)).toHaveLength(7);
    const history = await api.get('Patient/pat-race/_history');
    expect(history.body.total).toBe(1);
  });
});
