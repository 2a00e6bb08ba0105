import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS, startTestRecord, type TestRecord } from '../support/harness.js';
import { fhir, messages, type Fhir } from '../support/fhir-client.js';

const patient = (family: string, extra: Record<string, unknown> = {}) => ({
  resourceType: 'Patient',
  name: [{ family, given: ['Test'] }],
  gender: 'female',
  birthDate: '1950-01-01',
  ...extra,
});

describe.each(BACKENDS)('read, create, update, patch, delete on %s', (backend) => {
  let rec: TestRecord;
  let api: Fhir;
  beforeAll(async () => {
    rec = await startTestRecord(backend, { validation: 'base' });
    api = fhir(rec.api);
  });
  afterAll(() => rec.close());

  it('creates with a server UUID and answers 201 with Location, ETag and Last-Modified', async () => {
    const res = await api.post('Patient', { ...patient('Vermeersch'), id: 'client-chosen' });
    expect(res.status).toBe(201);
    expect(res.body.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(res.headers.location).toBe(`${rec.baseUrl}/Patient/${res.body.id}/_history/1`);
    expect(res.headers.etag).toBe('W/"1"');
    expect(new Date(res.headers['last-modified']).getTime()).toBeGreaterThan(Date.now() - 60_000);
    expect(res.headers['content-type']).toBe('application/fhir+json; charset=utf-8');
    expect((res.body.meta as { versionId: string }).versionId).toBe('1');
  });

  it('reads back what it stored, with the same ETag', async () => {
    const created = await api.post('Patient', patient('Lemmens'));
    const read = await api.get(`Patient/${created.body.id}`);
    expect(read.status).toBe(200);
    expect(read.body).toEqual(created.body);
    expect(read.headers.etag).toBe('W/"1"');
  });

  it('answers 304 to If-None-Match with the current version and 200 to an older one', async () => {
    const created = await api.post('Patient', patient('Cuypers'));
    const path = `Patient/${created.body.id}`;
    expect((await api.get(path, { 'If-None-Match': 'W/"1"' })).status).toBe(304);
    await api.put(path, { ...created.body, gender: 'male' });
    const fresh = await api.get(path, { 'If-None-Match': 'W/"1"' });
    expect(fresh.status).toBe(200);
    expect(fresh.headers.etag).toBe('W/"2"');
  });

  it('answers 304 to If-Modified-Since after the last change', async () => {
    const created = await api.post('Patient', patient('Aerts'));
    const later = new Date(Date.now() + 5000).toUTCString();
    expect((await api.get(`Patient/${created.body.id}`, { 'If-Modified-Since': later })).status).toBe(304);
    expect((await api.get(`Patient/${created.body.id}`, { 'If-Modified-Since': 'Mon, 01 Jan 2001 00:00:00 GMT' })).status).toBe(200);
  });

  it('updates to a new version and keeps every version for vread', async () => {
    const created = await api.post('Patient', patient('Wouters'));
    const path = `Patient/${created.body.id}`;
    const updated = await api.put(path, { ...created.body, name: [{ family: 'Wouters-Smet' }] });
    expect(updated.status).toBe(200);
    expect(updated.headers.etag).toBe('W/"2"');
    expect(updated.headers.location).toBe(`${rec.baseUrl}/${path}/_history/2`);
    const v1 = await api.get(`${path}/_history/1`);
    expect(v1.status).toBe(200);
    expect((v1.body.name as { family: string }[])[0].family).toBe('Wouters');
    const v2 = await api.get(`${path}/_history/2`);
    expect((v2.body.name as { family: string }[])[0].family).toBe('Wouters-Smet');
    expect((await api.get(`${path}/_history/3`)).status).toBe(404);
    expect((await api.get(`${path}/_history/abc`)).status).toBe(404);
  });

  it('makes no new version when an update changes nothing', async () => {
    const created = await api.post('Patient', patient('Stevens'));
    const same = await api.put(`Patient/${created.body.id}`, { ...created.body, meta: { versionId: '7', lastUpdated: '2001-01-01T00:00:00Z' } });
    expect(same.status).toBe(200);
    expect(same.headers.etag).toBe('W/"1"');
  });

  it('creates with a client id on PUT (update-as-create) and answers 201', async () => {
    const res = await api.put('Patient/pat-client-1', { ...patient('Goossens'), id: 'pat-client-1' });
    expect(res.status).toBe(201);
    expect(res.headers.location).toBe(`${rec.baseUrl}/Patient/pat-client-1/_history/1`);
    expect((await api.get('Patient/pat-client-1')).status).toBe(200);
  });

  it('refuses to create a purely numeric client id, saying why', async () => {
    const res = await api.put('Patient/12345', { ...patient('Numeric'), id: '12345' });
    expect(res.status).toBe(400);
    expect(messages(res.body)).toMatch(/digits.*HAPI.*UUID/);
    expect((await api.get('Patient/12345')).status).toBe(404);
  });

  it('refuses a PUT whose body id differs from the URL, or has none', async () => {
    const other = await api.put('Patient/pat-a', { ...patient('A'), id: 'pat-b' });
    expect(other.status).toBe(400);
    expect(messages(other.body)).toMatch(/'pat-b'.*'pat-a'/);
    const none = await api.put('Patient/pat-a', patient('A'));
    expect(none.status).toBe(400);
    expect(messages(none.body)).toMatch(/no id/);
  });

  it('enforces If-Match: 412 on a stale version, success on the current one', async () => {
    const created = await api.post('Patient', patient('Mertens'));
    const path = `Patient/${created.body.id}`;
    const ok = await api.put(path, { ...created.body, gender: 'male' }, { 'If-Match': 'W/"1"' });
    expect(ok.status).toBe(200);
    const stale = await api.put(path, { ...created.body, gender: 'other' }, { 'If-Match': 'W/"1"' });
    expect(stale.status).toBe(412);
    expect(messages(stale.body)).toMatch(/version 2, not 1/);
    expect((await api.get(path)).body.gender).toBe('male');
    expect((await api.put(path, { ...created.body }, { 'If-Match': 'three' })).status).toBe(400);
    expect((await api.put('Patient/does-not-exist', { ...patient('X'), id: 'does-not-exist' }, { 'If-Match': 'W/"1"' })).status).toBe(412);
  });

  it('honours Prefer: return=minimal, representation and OperationOutcome', async () => {
    const minimal = await api.post('Patient', patient('Minimal'), { Prefer: 'return=minimal' });
    expect(minimal.status).toBe(201);
    expect(minimal.text).toBe('');
    expect(minimal.headers.location).toContain('/Patient/');
    const outcome = await api.post('Patient', patient('Outcome'), { Prefer: 'return=OperationOutcome' });
    expect(outcome.status).toBe(201);
    expect(outcome.body.resourceType).toBe('OperationOutcome');
    expect(messages(outcome.body)).toMatch(/information\|informational\|\|Created Patient\//);
    const representation = await api.post('Patient', patient('Representation'), { Prefer: 'return=representation' });
    expect(representation.body.resourceType).toBe('Patient');
  });

  it('patches with JSON Patch, with If-Match, and re-validates the result', async () => {
    const created = await api.post('Patient', patient('Patched'));
    const path = `Patient/${created.body.id}`;
    const res = await api.patch(path, [{ op: 'replace', path: '/gender', value: 'male' }, { op: 'add', path: '/name/0/given/-', value: 'Jozef' }], { 'If-Match': 'W/"1"' });
    expect(res.status).toBe(200);
    expect(res.body.gender).toBe('male');
    expect((res.body.name as { given: string[] }[])[0].given).toEqual(['Test', 'Jozef']);
    expect(res.headers.etag).toBe('W/"2"');
    const stale = await api.patch(path, [{ op: 'replace', path: '/gender', value: 'female' }], { 'If-Match': 'W/"1"' });
    expect(stale.status).toBe(412);
    const invalid = await api.patch(path, [{ op: 'replace', path: '/gender', value: 'mail' }]);
    expect(invalid.status).toBe(422);
    expect(messages(invalid.body)).toMatch(/Patient\.gender/);
    const failedTest = await api.patch(path, [{ op: 'test', path: '/gender', value: 'female' }, { op: 'remove', path: '/birthDate' }]);
    expect(failedTest.status).toBe(409);
    expect((await api.get(path)).body.birthDate).toBe('1950-01-01');
    const changeId = await api.patch(path, [{ op: 'replace', path: '/id', value: 'other' }]);
    expect(changeId.status).toBe(422);
  });

  it('deletes: 200, then 410 on read, the deletion in history, and delete again is harmless', async () => {
    const created = await api.post('Patient', patient('Deleted'));
    const path = `Patient/${created.body.id}`;
    const del = await api.delete(path);
    expect(del.status).toBe(200);
    expect(del.body.resourceType).toBe('OperationOutcome');
    expect(del.headers.etag).toBe('W/"2"');
    const read = await api.get(path);
    expect(read.status).toBe(410);
    expect(read.body.resourceType).toBe('OperationOutcome');
    expect((await api.get(`${path}/_history/1`)).status).toBe(200);
    expect((await api.get(`${path}/_history/2`)).status).toBe(410);
    expect((await api.delete(path)).status).toBe(204);
    const search = await api.get(`Patient?_id=${created.body.id}`);
    expect(search.body.total).toBe(0);
    expect((await api.delete('Patient/never-existed')).status).toBe(404);
  });

  it('re-creates a deleted resource with PUT as its next version', async () => {
    const created = await api.put('Patient/pat-phoenix', { ...patient('Phoenix'), id: 'pat-phoenix' });
    expect(created.status).toBe(201);
    await api.delete('Patient/pat-phoenix');
    const again = await api.put('Patient/pat-phoenix', { ...patient('Phoenix'), id: 'pat-phoenix' });
    expect(again.status).toBe(201);
    expect(again.headers.etag).toBe('W/"3"');
  });

  it('conditional create (If-None-Exist): creates once, then returns the match; 412 on several matches', async () => {
    const body = patient('Conditional', { identifier: [{ system: 'urn:test:conditional', value: 'c-1' }] });
    const first = await api.post('Patient', body, { 'If-None-Exist': 'identifier=urn:test:conditional|c-1' });
    expect(first.status).toBe(201);
    const second = await api.post('Patient', body, { 'If-None-Exist': 'identifier=urn:test:conditional|c-1' });
    expect(second.status).toBe(200);
    expect(second.body.id).toBe(first.body.id);
    await api.post('Patient', patient('Twin', { identifier: [{ system: 'urn:test:conditional', value: 'twin' }] }));
    await api.post('Patient', patient('Twin', { identifier: [{ system: 'urn:test:conditional', value: 'twin' }] }));
    const many = await api.post('Patient', body, { 'If-None-Exist': 'identifier=urn:test:conditional|twin' });
    expect(many.status).toBe(412);
    const unknown = await api.post('Patient', body, { 'If-None-Exist': 'nonsense=1' });
    expect(unknown.status).toBe(400);
  });

  it('conditional update by search: updates the one match, creates on none, 412 on several', async () => {
    const ident = { system: 'https://www.ehealth.fgov.be/standards/fhir/core/NamingSystem/ssin', value: '50010112345' };
    const created = await api.put(`Patient?identifier=${ident.system}|${ident.value}`, patient('ByIdentifier', { identifier: [ident] }));
    expect(created.status).toBe(201);
    const updated = await api.put(`Patient?identifier=${ident.system}|${ident.value}`, patient('ByIdentifier', { identifier: [ident], gender: 'male' }));
    expect(updated.status).toBe(200);
    expect(updated.body.id).toBe(created.body.id);
    expect(updated.headers.etag).toBe('W/"2"');
    const wrongId = await api.put(`Patient?identifier=${ident.system}|${ident.value}`, patient('ByIdentifier', { identifier: [ident], id: 'someone-else' }));
    expect(wrongId.status).toBe(400);
    await api.post('Patient', patient('Dup', { identifier: [{ system: 'urn:test:dup', value: 'd' }] }));
    await api.post('Patient', patient('Dup', { identifier: [{ system: 'urn:test:dup', value: 'd' }] }));
    expect((await api.put('Patient?identifier=urn:test:dup|d', patient('Dup'))).status).toBe(412);
  });

  it('conditional delete: deletes the single match, does nothing on none, 412 on several', async () => {
    await api.post('Patient', patient('ToGo', { identifier: [{ system: 'urn:test:del', value: 'one' }] }));
    const res = await api.delete('Patient?identifier=urn:test:del|one');
    expect(res.status).toBe(200);
    expect((await api.get('Patient?identifier=urn:test:del|one')).body.total).toBe(0);
    expect((await api.delete('Patient?identifier=urn:test:del|none')).status).toBe(200);
    await api.post('Patient', patient('Many', { identifier: [{ system: 'urn:test:del', value: 'many' }] }));
    await api.post('Patient', patient('Many', { identifier: [{ system: 'urn:test:del', value: 'many' }] }));
    expect((await api.delete('Patient?identifier=urn:test:del|many')).status).toBe(412);
  });

  it('refuses a reference to a resource that does not exist, naming where it is', async () => {
    const res = await api.post('CarePlan', { resourceType: 'CarePlan', status: 'active', intent: 'plan', subject: { reference: 'Patient/nobody' } });
    expect(res.status).toBe(422);
    expect(messages(res.body)).toMatch(/CarePlan\.subject.*Patient\/nobody.*does not exist/);
  });

  it('refuses to delete a resource that others refer to (409), and allows it once they are gone', async () => {
    const p = await api.post('Patient', patient('Referenced'));
    const plan = await api.post('CarePlan', { resourceType: 'CarePlan', status: 'active', intent: 'plan', subject: { reference: `Patient/${p.body.id}` } });
    expect(plan.status).toBe(201);
    const refused = await api.delete(`Patient/${p.body.id}`);
    expect(refused.status).toBe(409);
    expect(messages(refused.body)).toContain(`CarePlan/${plan.body.id}`);
    expect((await api.get(`Patient/${p.body.id}`)).status).toBe(200);
    expect((await api.delete(`CarePlan/${plan.body.id}`)).status).toBe(200);
    expect((await api.delete(`Patient/${p.body.id}`)).status).toBe(200);
  });

  it('treats absolute references to this server as local ones', async () => {
    const p = await api.post('Patient', patient('Absolute'));
    const plan = await api.post('CarePlan', { resourceType: 'CarePlan', status: 'active', intent: 'plan', subject: { reference: `${rec.baseUrl}/Patient/${p.body.id}` } });
    expect(plan.status).toBe(201);
    expect(plan.body.subject).toEqual({ reference: `Patient/${p.body.id}` });
  });

  it('answers _summary and _elements on read with a SUBSETTED tag', async () => {
    const p = await api.post('Patient', patient('Summary', { text: { status: 'generated', div: '<div xmlns="http://www.w3.org/1999/xhtml">x</div>' }, maritalStatus: { text: 'married' } }));
    const summary = await api.get(`Patient/${p.body.id}?_summary=true`);
    expect(summary.body.name).toBeDefined();
    expect(summary.body.maritalStatus).toBeUndefined();
    expect(summary.body.text).toBeUndefined();
    expect(JSON.stringify(summary.body.meta)).toContain('SUBSETTED');
    const elements = await api.get(`Patient/${p.body.id}?_elements=gender`);
    expect(Object.keys(elements.body).sort()).toEqual(['gender', 'id', 'meta', 'resourceType']);
  });
});
