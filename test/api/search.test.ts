import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS, loadFixtures, startTestRecord, type TestRecord } from '../support/harness.js';
import { fhir, ids, messages, nextLink, type Fhir, type SearchBundle } from '../support/fhir-client.js';

const SSIN = 'https://www.ehealth.fgov.be/standards/fhir/core/NamingSystem/ssin';

describe.each(BACKENDS)('search on %s', (backend) => {
  let rec: TestRecord;
  let api: Fhir;
  const search = async (query: string) => {
    const res = await api.get<SearchBundle>(query);
    expect(res.status, `${query}: ${res.text}`).toBe(200);
    return res.body;
  };
  const found = async (query: string) => ids(await search(query)).sort();

  beforeAll(async () => {
    rec = await startTestRecord(backend, { validation: 'base' });
    api = fhir(rec.api);
    await loadFixtures(rec);
  });
  afterAll(() => rec.close());

  describe('token', () => {
    it('matches system|value, value alone, |value and system|', async () => {
      expect(await found(`Patient?identifier=${SSIN}|48041201777`)).toEqual(['Patient/pat-jan-peeters']);
      expect(await found('Patient?identifier=48041201777')).toEqual(['Patient/pat-jan-peeters']);
      expect(await found('Patient?identifier=|48041201777')).toEqual([]);
      expect((await found(`Patient?identifier=${SSIN}|`)).length).toBe(6);
      expect(await found('Patient?identifier=urn:other|48041201777')).toEqual([]);
    });

    it('ORs comma-separated values and ANDs repeated parameters', async () => {
      expect(await found('Patient?gender=male,female&_count=100')).toHaveLength(6);
      expect(await found('Patient?gender=male&address-city=Kortrijk')).toEqual(['Patient/pat-jan-peeters']);
    });

    it('supports :not, :text and :missing', async () => {
      expect(await found('Patient?gender:not=female')).toEqual(['Patient/pat-jan-peeters', 'Patient/pat-jean-pierre-lambert', 'Patient/pat-lucas-janssens']);
      expect(await found('Condition?code:text=copd')).toEqual(['Condition/cond-jean-pierre-copd', 'Condition/cond-lucas-copd', 'Condition/cond-maria-copd']);
      expect(await found('Condition?code=http://snomed.info/sct|84114007')).toEqual([
        'Condition/cond-jan-heartfailure',
        'Condition/cond-jean-pierre-heartfailure',
        'Condition/cond-lucas-heartfailure',
      ]);
      expect(await found('Patient?deceased:missing=false')).toHaveLength(6);
      expect(await found('Patient?death-date:missing=false')).toEqual([]);
    });

    it('searches CD-HCPARTY role codes of practitioner roles', async () => {
      const nurses = await found('PractitionerRole?role=https://www.ehealth.fgov.be/standards/fhir/core/CodeSystem/cd-hcparty|persnurse');
      expect(nurses).toEqual(['PractitionerRole/role-els-maes-nurse', 'PractitionerRole/role-marc-dupont-nurse', 'PractitionerRole/role-sarah-goossens-coordinator']);
    });
  });

  describe('string', () => {
    it('matches the start, ignoring case and accents', async () => {
      expect(await found('Patient?family=PEE')).toEqual(['Patient/pat-jan-peeters']);
      expect(await found('Patient?given=francoise')).toEqual(['Patient/pat-francoise-dubois']);
      expect(await found('Patient?name=elise')).toEqual(['Patient/pat-elise-lejeune']);
      expect(await found('Patient?address=namur')).toEqual(['Patient/pat-elise-lejeune', 'Patient/pat-francoise-dubois']);
    });

    it('supports :exact and :contains', async () => {
      expect(await found('Patient?given:exact=Françoise')).toEqual(['Patient/pat-francoise-dubois']);
      expect(await found('Patient?given:exact=francoise')).toEqual([]);
      expect(await found('Patient?family:contains=ambe')).toEqual(['Patient/pat-jean-pierre-lambert']);
    });

    it('matches names that sound alike with phonetic', async () => {
      expect(await found('Patient?phonetic=Peters')).toEqual(['Patient/pat-jan-peeters']);
    });
  });

  describe('date', () => {
    it('compares ranges at the precision given', async () => {
      expect(await found('Patient?birthdate=1948-04-12')).toEqual(['Patient/pat-jan-peeters']);
      expect(await found('Patient?birthdate=1948')).toEqual(['Patient/pat-jan-peeters']);
      expect(await found('Patient?birthdate=1948-05')).toEqual([]);
      expect(await found('Patient?birthdate=lt1945')).toEqual(['Patient/pat-jean-pierre-lambert', 'Patient/pat-lucas-janssens']);
      expect(await found('Patient?birthdate=ge1952-11-03&birthdate=le1961-05-08')).toEqual(['Patient/pat-elise-lejeune', 'Patient/pat-maria-claes']);
      expect(await found('Patient?birthdate=gt1952-11-03')).toEqual(['Patient/pat-elise-lejeune']);
      expect(await found('Patient?birthdate=sa1952')).toEqual(['Patient/pat-elise-lejeune']);
      expect(await found('Patient?birthdate=eb1940')).toEqual(['Patient/pat-lucas-janssens']);
      expect((await found('Patient?birthdate=ne1948-04-12')).length).toBe(5);
      expect(await found('Patient?birthdate=ap1948-04-10')).toContain('Patient/pat-jan-peeters');
    });

    it('treats an open period as reaching into the future', async () => {
      expect(await found('CarePlan?date=ge2030-01-01')).toHaveLength(5);
      expect(await found('CarePlan?date=lt2024-01-01')).toEqual(['CarePlan/cp-maria-claes']);
    });

    it('searches _lastUpdated', async () => {
      expect((await found('Patient?_lastUpdated=gt2020-01-01')).length).toBe(6);
      expect(await found('Patient?_lastUpdated=lt2020-01-01')).toEqual([]);
    });

    it('refuses a malformed date with a message that shows valid forms', async () => {
      const res = await api.get('Patient?birthdate=12-04-1948');
      expect(res.status).toBe(400);
      expect(messages(res.body)).toMatch(/birthdate.*not a valid date.*2024-03-15/);
    });
  });

  describe('reference', () => {
    it('matches Type/id, a bare id and the :Type modifier', async () => {
      expect(await found('CarePlan?subject=Patient/pat-jan-peeters')).toEqual(['CarePlan/cp-jan-peeters']);
      expect(await found('CarePlan?patient=pat-jan-peeters')).toEqual(['CarePlan/cp-jan-peeters']);
      expect(await found('CarePlan?subject:Patient=pat-jan-peeters')).toEqual(['CarePlan/cp-jan-peeters']);
      expect(await found(`CarePlan?subject=${rec.baseUrl}/Patient/pat-jan-peeters`)).toEqual(['CarePlan/cp-jan-peeters']);
    });

    it('finds care teams by participant', async () => {
      expect(await found('CareTeam?participant=Practitioner/prac-marc-dupont')).toEqual(['CareTeam/ct-francoise-dubois', 'CareTeam/ct-jean-pierre-lambert']);
    });

    it('chains one level, with or without the target type', async () => {
      expect(await found(`CarePlan?subject:Patient.identifier=${SSIN}|48041201777`)).toEqual(['CarePlan/cp-jan-peeters']);
      expect(await found('CarePlan?patient.family=lambert')).toEqual(['CarePlan/cp-jean-pierre-lambert']);
      expect(await found('CareTeam?participant:Practitioner.family=maes')).toEqual(['CareTeam/ct-jan-peeters', 'CareTeam/ct-lucas-janssens', 'CareTeam/ct-maria-claes']);
      const deeper = await api.get('CarePlan?subject.organization.name=x');
      expect(deeper.status).toBe(400);
    });

    it('searches in reverse with _has', async () => {
      expect(await found('Patient?_has:CareTeam:patient:participant=Practitioner/prac-claire-leroy')).toEqual(['Patient/pat-jean-pierre-lambert']);
      expect(await found('Patient?_has:Condition:patient:code=http://snomed.info/sct|13645005')).toEqual([
        'Patient/pat-jean-pierre-lambert',
        'Patient/pat-lucas-janssens',
        'Patient/pat-maria-claes',
      ]);
    });
  });

  describe('uri and quantity', () => {
    beforeAll(async () => {
      const pd = await api.post('PlanDefinition', {
        resourceType: 'PlanDefinition',
        url: 'https://example.org/fhir/test/PlanDefinition/test-diabetes',
        status: 'active',
        useContext: [{ code: { system: 'http://terminology.hl7.org/CodeSystem/usage-context-type', code: 'age' }, valueQuantity: { value: 65, unit: 'a', system: 'http://unitsofmeasure.org', code: 'a' } }],
      });
      expect(pd.status).toBe(201);
      const c = await api.post('Condition', { resourceType: 'Condition', subject: { reference: 'Patient/pat-elise-lejeune' }, code: { text: 'asthma' }, onsetAge: { value: 12, unit: 'a', system: 'http://unitsofmeasure.org', code: 'a' } });
      expect(c.status).toBe(201);
    });

    it('matches uri exactly and with :below and :above', async () => {
      expect(await found('PlanDefinition?url=https://example.org/fhir/test/PlanDefinition/test-diabetes')).toHaveLength(1);
      expect(await found('PlanDefinition?url=https://example.org/fhir/test/PlanDefinition')).toHaveLength(0);
      expect(await found('PlanDefinition?url:below=https://example.org/fhir/test/PlanDefinition')).toHaveLength(1);
      expect(await found('PlanDefinition?url:above=https://example.org/fhir/test/PlanDefinition/test-diabetes/v2')).toHaveLength(1);
    });

    it('compares quantities with prefixes, units and implicit precision', async () => {
      expect(await found('Condition?onset-age=12')).toHaveLength(1);
      expect(await found('Condition?onset-age=12||a')).toHaveLength(1);
      expect(await found('Condition?onset-age=12|http://unitsofmeasure.org|a')).toHaveLength(1);
      expect(await found('Condition?onset-age=12|http://unitsofmeasure.org|mo')).toHaveLength(0);
      expect(await found('Condition?onset-age=gt11')).toHaveLength(1);
      expect(await found('Condition?onset-age=lt12')).toHaveLength(0);
      expect(await found('PlanDefinition?context-quantity=ge65')).toHaveLength(1);
      expect((await api.get('Condition?onset-age=twelve')).status).toBe(400);
    });
  });

  describe('result parameters', () => {
    it('includes referenced and referring resources, marked as include', async () => {
      const bundle = await search('CarePlan?_id=cp-jan-peeters&_include=CarePlan:care-team&_include=CarePlan:subject&_revinclude=Goal:patient');
      expect(ids(bundle)).toEqual(['CarePlan/cp-jan-peeters']);
      expect(ids(bundle, 'include').sort()).toEqual(['CareTeam/ct-jan-peeters', 'Patient/pat-jan-peeters']);
      const rev = await search('Patient?_id=pat-jan-peeters&_revinclude=Goal:patient&_revinclude=CarePlan:subject');
      expect(ids(rev, 'include').sort()).toEqual(['CarePlan/cp-jan-peeters', 'Goal/goal-jan-hba1c', 'Goal/goal-jan-walk']);
    });

    it('follows _include:iterate and _include=*', async () => {
      const bundle = await search('CarePlan?_id=cp-maria-claes&_include=CarePlan:care-team&_include:iterate=CareTeam:participant');
      const included = ids(bundle, 'include');
      expect(included).toContain('CareTeam/ct-maria-claes');
      expect(included).toContain('Practitioner/prac-lotte-jacobs');
      expect(included).toContain('RelatedPerson/rp-sofie-claes');
      const star = await search('Goal?_id=goal-maria-breath&_include=*');
      expect(ids(star, 'include')).toEqual(['Patient/pat-maria-claes']);
    });

    it('sorts on one or more keys, ascending and descending', async () => {
      expect(ids(await search('Patient?_sort=birthdate'))[0]).toBe('Patient/pat-lucas-janssens');
      expect(ids(await search('Patient?_sort=-birthdate'))[0]).toBe('Patient/pat-elise-lejeune');
      expect(ids(await search('Patient?_sort=gender,-birthdate'))).toEqual([
        'Patient/pat-elise-lejeune',
        'Patient/pat-maria-claes',
        'Patient/pat-francoise-dubois',
        'Patient/pat-jan-peeters',
        'Patient/pat-jean-pierre-lambert',
        'Patient/pat-lucas-janssens',
      ]);
      expect((await api.get('Patient?_sort=shoe-size')).status).toBe(400);
    });

    it('pages with next links that carry every parameter, and the pages add up', async () => {
      const seen: string[] = [];
      let page = await search('Practitioner?_count=5&_sort=family');
      expect(page.total).toBe(12);
      for (;;) {
        expect((page.entry ?? []).length).toBeLessThanOrEqual(5);
        seen.push(...ids(page));
        const next = nextLink(page);
        if (!next) break;
        expect(next).toContain('_count=5');
        expect(next).toContain('_sort=family');
        page = await search(next);
      }
      expect(seen).toHaveLength(12);
      expect(new Set(seen).size).toBe(12);
      const families = await Promise.all(seen.map(async (id) => ((await api.get(id)).body.name as { family: string }[])[0].family));
      expect(families).toEqual([...families].sort((a, b) => a.localeCompare(b, 'en', { sensitivity: 'base' })));
    });

    it('keeps paging correct while others write: nothing skipped, nothing twice', async () => {
      for (let i = 0; i < 9; i++) await api.post('Organization', { resourceType: 'Organization', name: `Paging ${i}`, alias: ['paging'] });
      const first = await search('Organization?name=paging&_count=3');
      const seen = ids(first);
      // Others write between pages: new resources, and a change to one already seen.
      await api.post('Organization', { resourceType: 'Organization', name: 'Paging late', alias: ['paging'] });
      const firstSeen = (await api.get(seen[0])).body;
      await api.put(seen[0], { ...firstSeen, alias: ['paging', 'changed'] });
      let next = nextLink(first);
      while (next) {
        const page = await search(next);
        seen.push(...ids(page));
        next = nextLink(page);
      }
      expect(new Set(seen).size).toBe(seen.length);
      expect(seen.length).toBeGreaterThanOrEqual(9);
    });

    it('answers _count=0 and _summary=count with only the total', async () => {
      const count = await search('Patient?_summary=count');
      expect(count.total).toBe(6);
      expect(count.entry).toBeUndefined();
      const zero = await search('Patient?_count=0');
      expect(zero.total).toBe(6);
      expect(zero.entry ?? []).toHaveLength(0);
    });

    it('computes _total=accurate on later pages and leaves it out with _total=none', async () => {
      const first = await search('Practitioner?_count=4&_total=accurate');
      const second = await search(nextLink(first)!);
      expect(second.total).toBe(12);
      expect((await search('Practitioner?_total=none')).total).toBeUndefined();
    });

    it('returns subsets with _elements and _summary', async () => {
      const bundle = await search('Patient?_id=pat-maria-claes&_elements=birthDate');
      const p = bundle.entry![0].resource;
      expect(Object.keys(p).sort()).toEqual(['birthDate', 'id', 'meta', 'resourceType']);
      const summary = await search('Patient?_id=pat-maria-claes&_summary=true');
      expect(summary.entry![0].resource.communication).toBeUndefined();
      expect(summary.entry![0].resource.birthDate).toBe('1952-11-03');
    });

    it('searches with POST _search and form parameters', async () => {
      const res = await rec.api
        .post('/fhir/Patient/_search?gender=female')
        .set('Content-Type', 'application/x-www-form-urlencoded')
        .send('address-city=Brugge');
      expect(res.status).toBe(200);
      expect(ids(JSON.parse(res.text))).toEqual(['Patient/pat-maria-claes']);
    });

    it('searches a patient compartment', async () => {
      expect(await found('Patient/pat-jan-peeters/Condition')).toEqual(['Condition/cond-jan-diabetes', 'Condition/cond-jan-heartfailure']);
      expect(await found('Patient/pat-jan-peeters/CareTeam?status=active')).toEqual(['CareTeam/ct-jan-peeters']);
      expect((await api.get('Practitioner/prac-els-maes/CareTeam')).status).toBe(404);
    });

    it('reports unknown parameters, and refuses them with Prefer: handling=strict', async () => {
      const lenient = await search('Patient?family=peeters&shoe-size=43');
      expect(ids(lenient)).toEqual(['Patient/pat-jan-peeters']);
      const outcome = lenient.entry!.find((e) => e.search?.mode === 'outcome')!.resource;
      expect(messages(outcome)).toMatch(/warning\|not-supported\|shoe-size\|'shoe-size' is not a search parameter of Patient/);
      expect(lenient.link.find((l) => l.relation === 'self')!.url).not.toContain('shoe-size');
      const strict = await api.get('Patient?family=peeters&shoe-size=43', { Prefer: 'handling=strict' });
      expect(strict.status).toBe(400);
      expect(messages(strict.body)).toContain('shoe-size');
    });

    it('refuses unknown or misplaced modifiers', async () => {
      const res = await api.get('Patient?family:fuzzy=peeters');
      expect(res.status).toBe(400);
      expect(messages(res.body)).toMatch(/':fuzzy' is not supported.*:exact/);
      expect((await api.get('Patient?birthdate:exact=1948')).status).toBe(400);
    });
  });
});
