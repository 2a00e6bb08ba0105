import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadFixtures, startTestRecord, type TestRecord } from '../support/harness.js';

/** Two service replicas on one PostgreSQL database, each with its own cache of who may see what. */
describe('access across replicas', () => {
  let a: TestRecord;
  let b: TestRecord;
  beforeAll(async () => {
    a = await startTestRecord('postgres');
    b = await startTestRecord('postgres', { shareSchemaOf: a });
    await loadFixtures(a);
  });
  afterAll(async () => {
    await b.close();
    await a.close();
  });

  it('a practitioner removed from a team on one replica loses access on the other at the commit', async () => {
    const els = a.as(await a.token({ scope: 'user/*.rs', fhirUser: 'Practitioner/prac-els-maes' }));
    expect((await els.get('/fhir/Patient/pat-maria-claes')).status).toBe(200);
    expect((await els.get('/fhir/Patient/pat-maria-claes')).status).toBe(200);
    const team = JSON.parse((await b.api.get('/fhir/CareTeam/ct-maria-claes')).text);
    // Another nurse takes her place: an active team keeps a nurse (care-team rules, docs/rules.md).
    const without = { ...team, participant: team.participant.map((p: { member: { reference: string } }) => (p.member.reference === 'Practitioner/prac-els-maes' ? { ...p, member: { reference: 'Practitioner/prac-marc-dupont' } } : p)) };
    expect((await b.api.put('/fhir/CareTeam/ct-maria-claes').set('Content-Type', 'application/fhir+json').send(JSON.stringify(without))).status).toBe(200);
    // The NOTIFY reaches the other replica within milliseconds of the commit.
    let status = 0;
    for (let i = 0; i < 50 && status !== 404; i++) {
      status = (await els.get('/fhir/Patient/pat-maria-claes')).status;
      if (status !== 404) await new Promise((r) => setTimeout(r, 20));
    }
    expect(status).toBe(404);
    expect((await els.get('/fhir/Patient/pat-jan-peeters')).status).toBe(200);
  });
});
