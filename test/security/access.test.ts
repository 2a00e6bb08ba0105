import type supertest from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS, loadFixtures, startTestRecord, type TestRecord } from '../support/harness.js';

type Res = { status: number; text: string; headers: Record<string, string> };
const json = (r: Res) => JSON.parse(r.text) as Record<string, unknown> & { total?: number; entry?: { resource: { resourceType: string; id: string }; search?: { mode: string }; response?: { status: string } }[] };
const ids = (r: Res) => (json(r).entry ?? []).filter((e) => e.search?.mode !== 'outcome').map((e) => `${e.resource.resourceType}/${e.resource.id}`).sort();

/**
 * What belongs to the patients outside the Flemish care teams of nurse Els Maes: names, SSINs,
 * birth dates, streets, conditions. (Their ids may appear where the request itself named them.)
 */
const OTHERS = ['Dubois', 'Françoise', 'Lambert', 'Jean-Pierre', 'Lejeune', 'Élise', '50021405210', '44093008995', '61050814657', '1950-02-14', 'Rue de Fer', 'Saint-Gilles', 'cond-francoise', 'cp-jean-pierre', 'goal-francoise'];
const expectNoLeak = (r: Res) => {
  for (const word of OTHERS) expect(r.text, `response leaks ${word}`).not.toContain(word);
};

describe.each(BACKENDS)('access by care-team membership, consent and compartment on %s', (backend) => {
  let rec: TestRecord;
  let els: supertest.Agent; // home nurse in the teams of Jan, Maria and Lucas
  let marc: supertest.Agent; // home nurse in the teams of Françoise and Jean-Pierre, through his PractitionerRole
  let jan: supertest.Agent; // patient token of Jan Peeters
  let mariaP: supertest.Agent; // informal caregiver of Jan (RelatedPerson)
  let admin: supertest.Agent;
  let evaluation: supertest.Agent;

  beforeAll(async () => {
    rec = await startTestRecord(backend);
    await loadFixtures(rec);
    els = rec.as(await rec.token({ scope: 'user/*.cruds', fhirUser: 'Practitioner/prac-els-maes' }));
    marc = rec.as(await rec.token({ scope: 'user/*.cruds', fhirUser: 'PractitionerRole/role-marc-dupont-nurse' }));
    jan = rec.as(await rec.token({ scope: 'patient/*.rs patient/Goal.cu', patient: 'pat-jan-peeters' }));
    mariaP = rec.as(await rec.token({ scope: 'user/*.rs', fhirUser: 'RelatedPerson/rp-maria-peeters' }));
    admin = rec.as(await rec.token({ scope: 'user/*.rs', fhirUser: 'Practitioner/prac-sarah-goossens', roles: ['admin'] }));
    evaluation = rec.as(await rec.token({ scope: 'system/*.rs', roles: ['evaluation'] }));
  });
  afterAll(() => rec.close());

  describe('a practitioner outside the care team', () => {
    it('read: 404, as if the patient did not exist', async () => {
      const r = await els.get('/fhir/Patient/pat-francoise-dubois');
      expect(r.status).toBe(404);
      expectNoLeak(r);
      expect((await els.get('/fhir/CarePlan/cp-francoise-dubois')).status).toBe(404);
      expect((await els.get('/fhir/Patient/pat-jan-peeters')).status).toBe(200);
    });

    it('vread: 404', async () => {
      const r = await els.get('/fhir/CarePlan/cp-francoise-dubois/_history/1');
      expect(r.status).toBe(404);
      expectNoLeak(r);
    });

    it('search: only the patients of their teams', async () => {
      const r = await els.get('/fhir/Patient?_count=50');
      expect(ids(r)).toEqual(['Patient/pat-jan-peeters', 'Patient/pat-lucas-janssens', 'Patient/pat-maria-claes']);
      expect(json(r).total).toBe(3);
      expectNoLeak(r);
      const plans = await els.get('/fhir/CarePlan?_count=50');
      expect(ids(plans)).toEqual(['CarePlan/cp-jan-peeters', 'CarePlan/cp-lucas-janssens', 'CarePlan/cp-maria-claes']);
      const direct = await els.get('/fhir/Condition?patient=pat-francoise-dubois');
      expect(json(direct).total).toBe(0);
      expectNoLeak(direct);
    });

    it('search by identifier, chain and _has does not reveal others', async () => {
      expect(json(await els.get('/fhir/Patient?identifier=50021405210')).total).toBe(0);
      const chained = await els.get('/fhir/CarePlan?subject:Patient.family=lejeune');
      expect(json(chained).total).toBe(0);
      expectNoLeak(chained);
      const has = await els.get('/fhir/Patient?_has:Condition:patient:code=http://snomed.info/sct|44054006');
      expect(ids(has)).toEqual(['Patient/pat-jan-peeters', 'Patient/pat-lucas-janssens']);
      expectNoLeak(has);
    });

    it('_include and _revinclude return nothing outside the teams', async () => {
      const r = await els.get('/fhir/Practitioner?_id=prac-sophie-martin&_revinclude=CareTeam:participant&_revinclude=Patient:general-practitioner');
      expect(ids(r)).toEqual(['Practitioner/prac-sophie-martin']);
      expectNoLeak(r);
      const own = await els.get('/fhir/Practitioner?_id=prac-an-vermeulen&_revinclude=Patient:general-practitioner');
      expect(ids(own)).toEqual(['Patient/pat-jan-peeters', 'Patient/pat-lucas-janssens', 'Practitioner/prac-an-vermeulen']);
      const plans = await els.get('/fhir/CarePlan?_id=cp-jan-peeters&_include=CarePlan:subject&_include=CarePlan:care-team&_include:iterate=CareTeam:participant');
      expect(ids(plans)).toContain('RelatedPerson/rp-maria-peeters');
      expectNoLeak(plans);
    });

    it('history: 404 for an instance, filtered for a type', async () => {
      expect((await els.get('/fhir/Patient/pat-francoise-dubois/_history')).status).toBe(404);
      const type = await els.get('/fhir/Patient/_history?_count=100');
      expect(type.status).toBe(200);
      expectNoLeak(type);
      const system = await els.get('/fhir/_history?_count=200');
      expectNoLeak(system);
    });

    it('a bundle entry: the entry gets 404, the other entries go through', async () => {
      const r = await els.post('/fhir').set('Content-Type', 'application/fhir+json').send(
        JSON.stringify({
          resourceType: 'Bundle',
          type: 'batch',
          entry: [
            { request: { method: 'GET', url: 'Patient/pat-francoise-dubois' } },
            { request: { method: 'GET', url: 'Patient/pat-jan-peeters' } },
            { request: { method: 'GET', url: 'CarePlan?patient=pat-jean-pierre-lambert' } },
          ],
        }),
      );
      const entries = json(r).entry!;
      expect(entries.map((e) => e.response!.status)).toEqual(['404', '200 OK', '200 OK']);
      expectNoLeak(r);
    });

    it('a transaction entry that touches another patient fails the whole transaction', async () => {
      const goalsOfJan = async () => json(await rec.api.get('/fhir/Goal?patient=pat-jan-peeters&_summary=count')).total;
      const before = await goalsOfJan();
      const r = await els.post('/fhir').set('Content-Type', 'application/fhir+json').send(
        JSON.stringify({
          resourceType: 'Bundle',
          type: 'transaction',
          entry: [
            { resource: { resourceType: 'Goal', lifecycleStatus: 'proposed', description: { text: 'ok' }, subject: { reference: 'Patient/pat-jan-peeters' }, expressedBy: { reference: 'Practitioner/prac-els-maes' } }, request: { method: 'POST', url: 'Goal' } },
            { resource: { resourceType: 'Goal', lifecycleStatus: 'proposed', description: { text: 'no' }, subject: { reference: 'Patient/pat-francoise-dubois' }, expressedBy: { reference: 'Practitioner/prac-els-maes' } }, request: { method: 'POST', url: 'Goal' } },
          ],
        }),
      );
      expect(r.status).toBe(403);
      expect(await goalsOfJan()).toBe(before);
    });

    it('a conditional update does not match, and cannot write, another patient\'s resources', async () => {
      const r = await els.put('/fhir/Goal?_id=goal-francoise-garden').set('Content-Type', 'application/fhir+json').send(
        JSON.stringify({ resourceType: 'Goal', lifecycleStatus: 'cancelled', description: { text: 'x' }, subject: { reference: 'Patient/pat-francoise-dubois' } }),
      );
      expect(r.status).toBe(403);
      expect(JSON.parse((await rec.api.get('/fhir/Goal/goal-francoise-garden')).text).lifecycleStatus).toBe('active');
    });

    it('update, patch and delete of another patient\'s resource: 404', async () => {
      const current = JSON.parse((await rec.api.get('/fhir/Goal/goal-francoise-garden')).text);
      expect((await els.put('/fhir/Goal/goal-francoise-garden').set('Content-Type', 'application/fhir+json').send(JSON.stringify({ ...current, lifecycleStatus: 'cancelled' }))).status).toBe(404);
      expect((await els.patch('/fhir/Goal/goal-francoise-garden').set('Content-Type', 'application/json-patch+json').send(JSON.stringify([{ op: 'replace', path: '/lifecycleStatus', value: 'cancelled' }]))).status).toBe(404);
      expect((await els.delete('/fhir/Goal/goal-francoise-garden')).status).toBe(404);
      expect(JSON.parse((await rec.api.get('/fhir/Goal/goal-francoise-garden')).text).lifecycleStatus).toBe('active');
    });

    it('writes for their own patients go through', async () => {
      const r = await els.post('/fhir/Goal').set('Content-Type', 'application/fhir+json').send(
        JSON.stringify({ resourceType: 'Goal', lifecycleStatus: 'proposed', description: { text: 'Voeten dagelijks controleren' }, subject: { reference: 'Patient/pat-jan-peeters' }, expressedBy: { reference: 'Practitioner/prac-els-maes' } }),
      );
      expect(r.status).toBe(201);
    });
  });

  describe('through a PractitionerRole or an organisation', () => {
    it('a role token sees the teams its practitioner is in', async () => {
      const r = await marc.get('/fhir/Patient?_count=50');
      expect(ids(r)).toEqual(['Patient/pat-francoise-dubois', 'Patient/pat-jean-pierre-lambert']);
    });

    it('a practitioner of an organisation that is in a team sees that patient', async () => {
      const put = (path: string, body: unknown) => rec.api.put(`/fhir/${path}`).set('Content-Type', 'application/fhir+json').send(JSON.stringify(body));
      expect((await put('Practitioner/prac-wzc-nurse', { resourceType: 'Practitioner', id: 'prac-wzc-nurse', active: true, name: [{ family: 'Verstraete', given: ['Ann'] }], identifier: [{ system: 'https://www.ehealth.fgov.be/standards/fhir/core/NamingSystem/nihdi', value: '41999978401' }] })).status).toBe(201);
      const role = {
        resourceType: 'PractitionerRole',
        id: 'role-wzc-nurse',
        active: true,
        practitioner: { reference: 'Practitioner/prac-wzc-nurse' },
        organization: { reference: 'Organization/org-wzc-ter-linde' },
        code: [{ coding: [{ system: 'https://www.ehealth.fgov.be/standards/fhir/core/CodeSystem/cd-hcparty', code: 'persnurse' }] }],
      };
      expect((await put('PractitionerRole/role-wzc-nurse', role)).status).toBe(201);
      const wzc = rec.as(await rec.token({ scope: 'user/*.rs', fhirUser: 'Practitioner/prac-wzc-nurse' }));
      expect(ids(await wzc.get('/fhir/Patient'))).toEqual(['Patient/pat-lucas-janssens']);
      // An inactive role no longer counts.
      await put('PractitionerRole/role-wzc-nurse', { ...role, active: false });
      expect(ids(await wzc.get('/fhir/Patient'))).toEqual([]);
    });
  });

  describe('leaving a care team', () => {
    it('ends access at once, whether the participant is removed or their period ends', async () => {
      const lotte = rec.as(await rec.token({ scope: 'user/*.rs', fhirUser: 'Practitioner/prac-lotte-jacobs' }));
      expect((await lotte.get('/fhir/Patient/pat-maria-claes')).status).toBe(200);
      const team = JSON.parse((await rec.api.get('/fhir/CareTeam/ct-maria-claes')).text);
      const ended = {
        ...team,
        participant: team.participant.map((p: { member: { reference: string }; period: object }) =>
          p.member.reference === 'Practitioner/prac-lotte-jacobs' ? { ...p, period: { start: '2023-10-02', end: '2024-01-31' } } : p,
        ),
      };
      expect((await rec.api.put('/fhir/CareTeam/ct-maria-claes').set('Content-Type', 'application/fhir+json').send(JSON.stringify(ended))).status).toBe(200);
      expect((await lotte.get('/fhir/Patient/pat-maria-claes')).status).toBe(404);
      expect(json(await lotte.get('/fhir/CarePlan')).total).toBe(0);
      const removed = { ...team, participant: team.participant.filter((p: { member: { reference: string } }) => p.member.reference !== 'Practitioner/prac-lotte-jacobs') };
      expect((await rec.api.put('/fhir/CareTeam/ct-maria-claes').set('Content-Type', 'application/fhir+json').send(JSON.stringify(removed))).status).toBe(200);
      expect((await lotte.get('/fhir/Patient/pat-maria-claes')).status).toBe(404);
      // Back in the team: access again.
      expect((await rec.api.put('/fhir/CareTeam/ct-maria-claes').set('Content-Type', 'application/fhir+json').send(JSON.stringify(team))).status).toBe(200);
      expect((await lotte.get('/fhir/Patient/pat-maria-claes')).status).toBe(200);
    });

    it('a team that is no longer active gives no access', async () => {
      const koen = rec.as(await rec.token({ scope: 'user/*.rs', fhirUser: 'Practitioner/prac-koen-wouters' }));
      expect((await koen.get('/fhir/Patient/pat-lucas-janssens')).status).toBe(200);
      const team = JSON.parse((await rec.api.get('/fhir/CareTeam/ct-lucas-janssens')).text);
      await rec.api.put('/fhir/CareTeam/ct-lucas-janssens').set('Content-Type', 'application/fhir+json').send(JSON.stringify({ ...team, status: 'inactive' }));
      expect((await koen.get('/fhir/Patient/pat-lucas-janssens')).status).toBe(404);
      expect((await koen.get('/fhir/Patient/pat-jan-peeters')).status).toBe(200);
      await rec.api.put('/fhir/CareTeam/ct-lucas-janssens').set('Content-Type', 'application/fhir+json').send(JSON.stringify(team));
    });
  });

  describe('consent', () => {
    it('an active consent that denies a practitioner keeps them out, for the types it names', async () => {
      const tom = rec.as(await rec.token({ scope: 'user/*.rs', fhirUser: 'Practitioner/prac-tom-willems' }));
      expect((await tom.get('/fhir/Patient/pat-maria-claes')).status).toBe(200);
      const consent = {
        resourceType: 'Consent',
        id: 'consent-maria-deny-tom',
        status: 'active',
        scope: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/consentscope', code: 'patient-privacy' }] },
        category: [{ coding: [{ system: 'http://loinc.org', code: '59284-0' }] }],
        patient: { reference: 'Patient/pat-maria-claes' },
        dateTime: '2024-06-01T10:00:00+02:00',
        policyRule: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'OPTIN' }] },
        provision: { type: 'permit', provision: [{ type: 'deny', actor: [{ role: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ParticipationType', code: 'PRF' }] }, reference: { reference: 'Practitioner/prac-tom-willems' } }], class: [{ system: 'http://hl7.org/fhir/resource-types', code: 'CarePlan' }] }] },
      };
      const created = await rec.api.put('/fhir/Consent/consent-maria-deny-tom').set('Content-Type', 'application/fhir+json').send(JSON.stringify(consent));
      expect(created.status, created.text).toBe(201);
      expect((await tom.get('/fhir/CarePlan/cp-maria-claes')).status).toBe(404);
      expect((await tom.get('/fhir/Patient/pat-maria-claes')).status).toBe(200);
      // Without the class, the whole record is denied.
      const whole = { ...consent, provision: { type: 'permit', provision: [{ type: 'deny', actor: consent.provision.provision[0].actor }] } };
      await rec.api.put('/fhir/Consent/consent-maria-deny-tom').set('Content-Type', 'application/fhir+json').send(JSON.stringify(whole));
      expect((await tom.get('/fhir/Patient/pat-maria-claes')).status).toBe(404);
      expect((await tom.get('/fhir/Patient/pat-jan-peeters')).status).toBe(200);
      // Withdrawn consent: access again.
      await rec.api.put('/fhir/Consent/consent-maria-deny-tom').set('Content-Type', 'application/fhir+json').send(JSON.stringify({ ...whole, status: 'inactive' }));
      expect((await tom.get('/fhir/Patient/pat-maria-claes')).status).toBe(200);
    });
  });

  describe('patients and informal caregivers', () => {
    it('a patient reads their own record only', async () => {
      expect((await jan.get('/fhir/Patient/pat-jan-peeters')).status).toBe(200);
      const other = await jan.get('/fhir/Patient/pat-maria-claes');
      expect(other.status).toBe(404);
      expect(other.text).not.toContain('Claes');
      expect(ids(await jan.get('/fhir/CarePlan'))).toEqual(['CarePlan/cp-jan-peeters']);
      expect(ids(await jan.get('/fhir/Condition'))).toEqual(['Condition/cond-jan-diabetes', 'Condition/cond-jan-heartfailure']);
      expect(json(await jan.get('/fhir/Goal?patient=pat-maria-claes')).total).toBe(0);
    });

    it('a patient sets their own goals, and only their own', async () => {
      const own = { resourceType: 'Goal', lifecycleStatus: 'proposed', description: { text: 'Minder suiker in de koffie' }, subject: { reference: 'Patient/pat-jan-peeters' }, expressedBy: { reference: 'Patient/pat-jan-peeters' } };
      expect((await jan.post('/fhir/Goal').set('Content-Type', 'application/fhir+json').send(JSON.stringify(own))).status).toBe(201);
      const other = { ...own, subject: { reference: 'Patient/pat-maria-claes' } };
      expect((await jan.post('/fhir/Goal').set('Content-Type', 'application/fhir+json').send(JSON.stringify(other))).status).toBe(403);
      expect((await jan.post('/fhir/CarePlan').set('Content-Type', 'application/fhir+json').send('{"resourceType":"CarePlan"}')).status).toBe(403);
    });

    it('an informal caregiver sees the patient whose care team has them', async () => {
      expect(ids(await mariaP.get('/fhir/Patient'))).toEqual(['Patient/pat-jan-peeters']);
      expect((await mariaP.get('/fhir/Patient/pat-maria-claes')).status).toBe(404);
    });

    it('a user token that names no one sees no patient data', async () => {
      const nobody = rec.as(await rec.token({ scope: 'user/*.rs' }));
      expect((await nobody.get('/fhir/Patient')).status).toBe(403);
      expect((await nobody.get('/fhir/Practitioner')).status).toBe(200);
    });
  });

  describe('evaluation tokens', () => {
    it('cannot read identified data', async () => {
      expect((await evaluation.get('/fhir/Patient')).status).toBe(403);
      expect((await evaluation.get('/fhir/CarePlan/cp-jan-peeters')).status).toBe(403);
      expect((await evaluation.get('/fhir/Organization')).status).toBe(200);
    });
  });

  describe('audit trail', () => {
    it('records who read which patient, with outcome and source address', async () => {
      await els.get('/fhir/CarePlan/cp-jan-peeters');
      const r = await admin.get('/fhir/AuditEvent?patient=Patient/pat-jan-peeters&agent=Practitioner/prac-els-maes&_sort=-date&_count=100');
      expect(r.status).toBe(200);
      const events = (json(r).entry ?? []).map((e) => e.resource as unknown as { subtype: { code: string }[]; outcome: string; agent: { who: { reference: string }; network?: { address: string } }[]; entity: { what?: { reference: string } }[] });
      const read = events.find((e) => e.subtype[0].code === 'read' && e.entity.some((x) => x.what?.reference === 'CarePlan/cp-jan-peeters'))!;
      expect(read).toBeDefined();
      expect(read.outcome).toBe('0');
      expect(read.agent[0].who.reference).toBe('Practitioner/prac-els-maes');
      expect(read.agent[0].network?.address).toMatch(/127\.0\.0\.1/);
      expect(read.entity.map((x) => x.what?.reference)).toContain('Patient/pat-jan-peeters');
    });

    it('records refused reads of patient data', async () => {
      await els.get('/fhir/Patient/pat-elise-lejeune');
      const r = await admin.get('/fhir/AuditEvent?patient=Patient/pat-elise-lejeune&outcome=4');
      expect(json(r).total).toBeGreaterThanOrEqual(1);
    });

    it('lets a patient see who looked at their record, and nobody else\'s', async () => {
      await marc.get('/fhir/Patient/pat-jean-pierre-lambert');
      const jp = rec.as(await rec.token({ scope: 'patient/*.rs', patient: 'pat-jean-pierre-lambert' }));
      const mine = await jp.get('/fhir/AuditEvent?_count=100');
      expect(mine.status).toBe(200);
      const agents = (json(mine).entry ?? []).flatMap((e) => (e.resource as unknown as { agent: { who?: { reference?: string } }[] }).agent.map((a) => a.who?.reference));
      expect(agents).toContain('PractitionerRole/role-marc-dupont-nurse');
      expect(mine.text).not.toContain('pat-jan-peeters');
    });

    it('is closed to practitioners, and cannot be changed by anyone', async () => {
      expect((await els.get('/fhir/AuditEvent')).status).toBe(403);
      const any = json(await admin.get('/fhir/AuditEvent?_count=1')).entry![0].resource;
      expect((await rec.api.delete(`/fhir/AuditEvent/${any.id}`)).status).toBe(405);
    });
  });
});
