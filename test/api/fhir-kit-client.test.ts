import { Client } from 'fhir-kit-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS, loadFixtures, startTestRecord, type TestRecord } from '../support/harness.js';

type Resource = Record<string, unknown> & { resourceType: string; id?: string; meta?: { versionId?: string } };
type Bundle = Resource & { total?: number; entry?: { resource: Resource; search?: { mode: string }; response?: { status: string } }[]; link?: { relation: string }[] };

/** The FHIR API driven by fhir-kit-client, a real client as GP and hospital systems use them. */
describe.each(BACKENDS)('fhir-kit-client against the server on %s', (backend) => {
  let rec: TestRecord;
  let client: Client;
  beforeAll(async () => {
    rec = await startTestRecord(backend, { validation: 'base' });
    await loadFixtures(rec);
    client = new Client({ baseUrl: rec.baseUrl, bearerToken: await rec.token({ scope: 'system/*.cruds' }) });
  });
  afterAll(() => rec.close());

  const status = async (p: Promise<unknown>) => {
    try {
      await p;
      return 200;
    } catch (err) {
      return (err as { response: { status: number } }).response.status;
    }
  };

  it('reads the CapabilityStatement', async () => {
    const cs = (await client.capabilityStatement()) as Resource;
    expect(cs.fhirVersion).toBe('4.0.1');
  });

  it('creates, reads, vreads, updates and deletes', async () => {
    const created = (await client.create({ resourceType: 'Patient', body: { resourceType: 'Patient', name: [{ family: 'Kit' }] } })) as Resource;
    expect(created.id).toBeDefined();
    const read = (await client.read({ resourceType: 'Patient', id: created.id! })) as Resource;
    expect(read.name).toEqual([{ family: 'Kit' }]);
    const updated = (await client.update({ resourceType: 'Patient', id: created.id!, body: { ...read, gender: 'female' } })) as Resource;
    expect(updated.meta!.versionId).toBe('2');
    const v1 = (await client.vread({ resourceType: 'Patient', id: created.id!, version: '1' })) as Resource;
    expect(v1.gender).toBeUndefined();
    await client.delete({ resourceType: 'Patient', id: created.id! });
    expect(await status(client.read({ resourceType: 'Patient', id: created.id! }))).toBe(410);
  });

  it('creates and updates conditionally', async () => {
    const body = { resourceType: 'Patient', identifier: [{ system: 'urn:test:kit', value: 'k1' }] };
    const first = (await client.create({ resourceType: 'Patient', body, options: { headers: { 'If-None-Exist': 'identifier=urn:test:kit|k1' } } })) as Resource;
    const again = (await client.create({ resourceType: 'Patient', body, options: { headers: { 'If-None-Exist': 'identifier=urn:test:kit|k1' } } })) as Resource;
    expect(again.id).toBe(first.id);
    const updated = (await client.update({ resourceType: 'Patient', searchParams: { identifier: 'urn:test:kit|k1' }, body: { ...body, gender: 'male' } })) as Resource;
    expect(updated.id).toBe(first.id);
    expect(updated.gender).toBe('male');
  });

  it('patches with JSON Patch', async () => {
    const patched = (await client.patch({ resourceType: 'Patient', id: 'pat-maria-claes', jsonPatch: [{ op: 'replace', path: '/active', value: false }] })) as Resource;
    expect(patched.active).toBe(false);
  });

  it('searches, pages with nextPage and includes referenced resources', async () => {
    let page = (await client.search({ resourceType: 'Practitioner', searchParams: { _count: 5 } })) as Bundle;
    let seen = (page.entry ?? []).length;
    for (;;) {
      const next = client.nextPage({ bundle: page as never });
      if (!next) break;
      page = (await next) as Bundle;
      seen += (page.entry ?? []).length;
    }
    expect(seen).toBe(12);
    const withTeam = (await client.search({ resourceType: 'CarePlan', searchParams: { patient: 'pat-jan-peeters', _include: 'CarePlan:care-team' } })) as Bundle;
    expect(withTeam.entry!.map((e) => `${e.search!.mode}:${e.resource.resourceType}`).sort()).toEqual(['include:CareTeam', 'match:CarePlan']);
    const posted = (await client.search({ resourceType: 'Patient', searchParams: { family: 'claes' }, options: { postSearch: true } })) as Bundle;
    expect(posted.total).toBe(1);
  });

  it('reads history with _since', async () => {
    const since = new Date(Date.now() - 1000).toISOString();
    await client.update({ resourceType: 'Goal', id: 'goal-maria-breath', body: { ...((await client.read({ resourceType: 'Goal', id: 'goal-maria-breath' })) as Resource), lifecycleStatus: 'on-hold' } });
    const history = (await client.resourceHistory({ resourceType: 'Goal', id: 'goal-maria-breath', options: { searchParams: { _since: since } } as never })) as Bundle;
    expect(history.type).toBe('history');
    expect(history.entry!.length).toBeGreaterThanOrEqual(1);
    expect((history.entry![0].resource as Resource).lifecycleStatus).toBe('on-hold');
    const all = (await client.resourceHistory({ resourceType: 'Goal', id: 'goal-maria-breath' })) as Bundle;
    expect(all.total).toBe(2);
  });

  it('sends a transaction', async () => {
    const result = (await client.transaction({
      body: {
        resourceType: 'Bundle',
        type: 'transaction',
        entry: [
          { fullUrl: 'urn:uuid:5c1a3a0e-9d8b-4f0e-8a57-2c7b0c3f9e11', resource: { resourceType: 'Patient', name: [{ family: 'Kit-Tx' }] }, request: { method: 'POST', url: 'Patient' } },
          { resource: { resourceType: 'Goal', lifecycleStatus: 'proposed', description: { text: 'x' }, subject: { reference: 'urn:uuid:5c1a3a0e-9d8b-4f0e-8a57-2c7b0c3f9e11' } }, request: { method: 'POST', url: 'Goal' } },
        ],
      },
    })) as Bundle;
    expect(result.entry!.map((e) => e.response!.status)).toEqual(['201 Created', '201 Created']);
  });

  it('gets 412 on an If-Match conflict', async () => {
    const current = (await client.read({ resourceType: 'Organization', id: 'org-az-leiestreek' })) as Resource;
    await client.update({ resourceType: 'Organization', id: 'org-az-leiestreek', body: { ...current, alias: ['AZL'] }, options: { headers: { 'If-Match': 'W/"1"' } } });
    expect(await status(client.update({ resourceType: 'Organization', id: 'org-az-leiestreek', body: { ...current, alias: ['Other'] }, options: { headers: { 'If-Match': 'W/"1"' } } }))).toBe(412);
  });
});
