import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS, loadFixtures, startTestRecord, type TestRecord } from '../support/harness.js';
import { fhir, type Fhir } from '../support/fhir-client.js';
import { bad, CATEGORIES, consortiumBundle, CONSORTIUM_RULES, HC, issues, ofRule, statbelPopulation, text, type ConsortiumOptions } from './helpers.js';

const nl = (n: number) => new Intl.NumberFormat('nl-BE').format(n);
const fr = (n: number) => new Intl.NumberFormat('fr-BE').format(n);
const en = (n: number) => new Intl.NumberFormat('en-GB').format(n);

describe.each(BACKENDS)('consortium rules of the 2016 call on %s', (backend) => {
  let rec: TestRecord;
  let api: Fhir;
  beforeAll(async () => {
    rec = await startTestRecord(backend);
    await loadFixtures(rec);
    api = fhir(rec.api);
  });
  afterAll(async () => {
    await rec.close();
  });

  /** POST $check-consortium with a Bundle; the default region is Brugge (in no fixture consortium). */
  const check = async (options: ConsortiumOptions = {}, lang = 'en', query = '') => {
    const res = await api.post(`Organization/$check-consortium${query}`, consortiumBundle({ region: ['31005'], ...options }), { 'Accept-Language': lang });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    return res.body;
  };
  const one = (outcome: unknown, rule: string) => {
    const found = ofRule(outcome, rule);
    expect(found, `issues of rule ${rule}: ${JSON.stringify(issues(outcome))}`).toHaveLength(1);
    expect(found[0].details?.coding?.[0].system).toBe(CONSORTIUM_RULES);
    return found[0];
  };

  describe('the fixture consortia', () => {
    it('Geïntegreerde Zorg Leiestreek (Flemish) meets every rule, with its population from Statbel 2020', async () => {
      const res = await api.get('Organization/org-consortium-leiestreek/$check-consortium', { 'Accept-Language': 'nl' });
      expect(res.status).toBe(200);
      expect(bad(res.body)).toEqual([]);
      const population = statbelPopulation('34022', '34023', '34013', '34025', '34042', '34041', '34027');
      expect(population).toBe(215007);
      expect(text(one(res.body, 'region-population'))).toBe(`De regio telt ${nl(population)} inwoners (Statbel 2020, 7 gemeenten); minstens 75.000 zijn nodig`);
      expect(text(one(res.body, 'hospital'))).toBe('Ziekenhuizen: 1 partner(s): AZ Leiestreek');
      expect(text(one(res.body, 'other-actors'))).toMatch(/Apotheek De Markt/);
      expect(issues(res.body)[0].diagnostics).toMatch(/consortium-2016\|1\.0\.0/);
    });

    it('Réseau de soins intégrés Namur-Meuse (Walloon) meets every rule, in French', async () => {
      const res = await api.get('Organization/org-consortium-namur-meuse/$check-consortium', { 'Accept-Language': 'fr-BE' });
      expect(bad(res.body)).toEqual([]);
      const population = statbelPopulation('92094', '92101', '92045', '92141', '92006', '92138', '92054', '92097', '92003');
      expect(text(one(res.body, 'region-population'))).toBe(`La région compte ${fr(population)} habitants (Statbel 2020, 9 communes) ; il en faut au moins ${fr(75000)}`);
      expect(text(one(res.body, 'logo'))).toBe('Concertation locale de santé (LOGO) impliquée : Centre local de promotion de la santé de Namur');
    });

    it('Zorgnetwerk Tielt-Wingene is too small and has no hospital (its 2025 codes summed from the 2020 municipalities)', async () => {
      const res = await api.get('Organization/org-consortium-tielt/$check-consortium', { 'Accept-Language': 'nl' });
      const errors = issues(res.body).filter((i) => i.severity === 'error');
      expect(errors.map((i) => i.details?.coding?.[0].code).sort()).toEqual(['hospital', 'region-population']);
      // 37022 Tielt = Meulebeke + Tielt, 37021 Wingene = Ruiselede + Wingene (mergers of 2025)
      const population = statbelPopulation('37007', '37015', '37012', '37018', '37011', '37020');
      expect(population).toBe(67027);
      expect(text(one(res.body, 'region-population'))).toBe('De regio telt 67.027 inwoners (Statbel 2020), er zijn er minstens 75.000 nodig');
      expect(text(one(res.body, 'hospital'))).toBe('Het consortium heeft geen ziekenhuis als partner; er is er minstens 1 nodig');
      expect(one(res.body, 'hospital').expression).toEqual(['Organization']);
    });
  });

  it('a consortium with every partner category and a large enough region meets every rule', async () => {
    const outcome = await check();
    expect(bad(outcome)).toEqual([]);
    for (const rule of [...Object.keys(CATEGORIES), 'medical-specialism', 'region-defined', 'region-codes-known', 'region-population', 'region-overlap']) {
      expect(one(outcome, rule).severity, rule).toBe('information');
    }
  });

  describe.each(Object.keys(CATEGORIES))('partner rule %s', (rule) => {
    it('is met by a partnership of its category', async () => {
      const issue = one(await check(), rule);
      expect(issue.severity).toBe('information');
      expect(text(issue)).toContain(CATEGORIES[rule].name);
    });

    it('is an error without one, and says what is missing', async () => {
      const outcome = await check({ without: [rule] });
      const issue = one(outcome, rule);
      expect(issue.severity).toBe('error');
      expect(issue.code).toBe('business-rule');
      expect(issue.expression).toEqual(['Bundle.entry[0].resource']);
      // The specialism of the test consortium comes with its hospital: without one, it goes too.
      expect(bad(outcome).map((i) => i.details?.coding?.[0].code)).toEqual(rule === 'hospital' ? ['hospital', 'medical-specialism'] : [rule]);
    });
  });

  it('names what is missing in the language asked', async () => {
    expect(text(one(await check({ without: ['hospital'] }, 'en'), 'hospital'))).toBe('The consortium has no hospital as a partner; at least 1 is required');
    expect(text(one(await check({ without: ['hospital'] }, 'fr'), 'hospital'))).toBe("Le consortium n'a aucun hôpital comme partenaire ; il en faut au moins 1");
    expect(text(one(await check({ without: ['sel'] }, 'nl'), 'sel'))).toBe('Er is geen samenwerkingsinitiatief eerstelijnsgezondheidszorg (SEL) betrokken; de oproep vraagt het');
    expect(text(one(await check({ without: ['gp'] }, 'en'), 'gp'))).toMatch(/no GP group, practice or GP circle .* \(group of physicians same address, .*GP circle\)/);
  });

  describe('medical specialism', () => {
    it('is met by a partnership with a specialty of chronic care', async () => {
      expect(text(one(await check(), 'medical-specialism'))).toBe('Medical specialisms in chronic care: 1 partnership(s) with a specialism: AZ Test (cardiology)');
    });
    it('is an error when no partnership brings one', async () => {
      const issue = one(await check({ noSpecialty: true }), 'medical-specialism');
      expect(issue.severity).toBe('error');
      expect(text(issue)).toMatch(/^No partner brings a medical specialism often involved in chronic care/);
    });
  });

  describe('other actors (optional)', () => {
    it('lists the partners that fit no category, as information', async () => {
      const issue = one(await check({ extra: [['Apotheek Test', HC, 'orgpharmacy']] }), 'other-actors');
      expect(issue.severity).toBe('information');
      expect(text(issue)).toBe('Other partners (optional): 1: Apotheek Test');
    });
    it('says there are none, still as information', async () => {
      const issue = one(await check(), 'other-actors');
      expect(issue.severity).toBe('information');
      expect(text(issue)).toBe('No other partners (optional)');
    });
  });

  describe('region', () => {
    it('must be given: no municipality is an error', async () => {
      const outcome = await check({ region: [] });
      expect(one(outcome, 'region-defined').severity).toBe('error');
      expect(text(one(outcome, 'region-defined'))).toMatch(/names no region: give the NIS codes of its municipalities/);
      expect(ofRule(outcome, 'region-population')).toEqual([]);
    });

    it('counts its municipalities when given', async () => {
      expect(text(one(await check({ region: ['31005', '31006'] }), 'region-defined'))).toBe('The region has 2 municipalities');
    });

    it('reports each unknown NIS code as an error that names it and points at it', async () => {
      const outcome = await check({ region: ['31005', '99999', ['71022', '2025']] });
      const unknown = ofRule(outcome, 'region-codes-known');
      expect(unknown.map((i) => [i.severity, i.code, text(i), i.expression?.[0]])).toEqual([
        ['error', 'code-invalid', 'The NIS code 99999 is not a Belgian municipality (Statbel 2020, 2025 mergers)', 'Bundle.entry[0].resource.extension[1].valueCoding'],
        // Hasselt's 2020 code no longer exists with the 2025 boundaries (it became 71072)
        ['error', 'code-invalid', 'The NIS code 71022 (2025) is not a Belgian municipality (Statbel 2020, 2025 mergers)', 'Bundle.entry[0].resource.extension[2].valueCoding'],
      ]);
    });

    it('knows every code of the data when they are all known', async () => {
      expect(text(one(await check({ region: ['31005', '71072'] }), 'region-codes-known'))).toBe('All 2 NIS codes of the region are municipalities (Statbel 2020, 2025 mergers)');
    });

    it('needs 75,000 inhabitants, summed from Statbel 2020, and says how many it has', async () => {
      const outcome = await check({ region: [['37022', '2025']] });
      const tielt = statbelPopulation('37007', '37015');
      const issue = one(outcome, 'region-population');
      expect(issue.severity).toBe('error');
      expect(text(issue)).toBe(`The region has ${en(tielt)} inhabitants (Statbel 2020), at least 75,000 are required`);
      expect(text(issue)).toBe('The region has 31,436 inhabitants (Statbel 2020), at least 75,000 are required');
    });

    it('counts a 2025 merger as its 2020 municipalities, and each municipality once', async () => {
      const merged = text(one(await check({ region: ['37022'] }), 'region-population'));
      const old = text(one(await check({ region: [['37007', '2020'], '37015'] }), 'region-population'));
      expect(merged).toBe(old);
      // 2020 Tielt inside 2025 Tielt is not counted twice
      expect(text(one(await check({ region: ['37022', ['37015', '2020']] }), 'region-population'))).toBe(old);
    });

    it('reads 11002 as today\'s Antwerpen (with Borsbeek) unless the coding says 2020', async () => {
      const today = text(one(await check({ region: ['11002'] }), 'region-population'));
      const in2020 = text(one(await check({ region: [['11002', '2020']] }), 'region-population'));
      expect(today).toContain(en(statbelPopulation('11002', '11007')));
      expect(in2020).toContain(en(statbelPopulation('11002')));
      expect(one(await check({ region: ['11002'] }), 'region-population').severity).toBe('information');
    });

    it('warns when it overlaps the region of another registered consortium, naming it and the shared municipalities', async () => {
      const outcome = await check({ region: ['34022', '34023', '31005'] }, 'nl');
      const issue = one(outcome, 'region-overlap');
      expect(issue.severity).toBe('warning');
      expect(text(issue)).toBe('De regio overlapt met die van consortium Geïntegreerde Zorg Leiestreek: 2 gemeente(n) gemeenschappelijk: Kortrijk (34022), Kuurne (34023)');
      expect(bad(outcome)).toEqual([issue]);
    });

    it('does not overlap with itself, and says with how many others it was compared', async () => {
      const res = await api.get('Organization/org-consortium-leiestreek/$check-consortium');
      expect(text(one(res.body, 'region-overlap'))).toBe('The region overlaps none of the 2 other registered consortia');
      expect(text(one(await check(), 'region-overlap'))).toBe('The region overlaps none of the 3 other registered consortia');
    });
  });

  describe('the operation', () => {
    it('reads partners that the Bundle refers to on the server, and warns about unknown ones', async () => {
      const bundle = consortiumBundle({ region: ['31005'], without: ['hospital'] }) as { entry: { fullUrl: string; resource: Record<string, unknown> }[] };
      const consortium = bundle.entry[0].fullUrl;
      const affiliation = (partner: string) => ({
        fullUrl: `urn:uuid:${crypto.randomUUID()}`,
        resource: {
          resourceType: 'OrganizationAffiliation',
          organization: { reference: consortium },
          participatingOrganization: { reference: partner },
          code: [{ coding: [{ system: HC, code: 'orghospital' }] }],
          specialty: [{ coding: [{ system: 'http://snomed.info/sct', code: '394579002' }] }],
        },
      });
      bundle.entry.push(affiliation('Organization/org-az-leiestreek'), affiliation('Organization/org-does-not-exist'));
      const res = await api.post('Organization/$check-consortium', bundle);
      // a partnership whose partner cannot be found does not count
      expect(text(one(res.body, 'hospital'))).toBe('Hospitals: 1 partner(s): AZ Leiestreek');
      expect(text(one(res.body, 'medical-specialism'))).toContain('AZ Leiestreek (Cardiology)');
      expect(issues(res.body).filter((i) => i.code === 'not-found').map(text)).toEqual(['The partner Organization/org-does-not-exist is neither in the Bundle nor on this server']);
    });

    it('reports validation errors of the Bundle with the rules', async () => {
      const outcome = await check({ region: ['3102'] });
      expect(issues(outcome).some((i) => i.severity === 'error' && i.details?.coding?.some((c) => c.code === 'icr-nis-1'))).toBe(true);
      expect(one(outcome, 'region-codes-known').severity).toBe('error');
    });

    it('applies the call the consortium names, or the one asked for, and refuses an unknown call', async () => {
      expect(bad(await check({ call: CONSORTIUM_RULES }))).toEqual([]);
      expect(bad(await check({}, 'en', `?call=${encodeURIComponent(`${CONSORTIUM_RULES}|1.0.0`)}`))).toEqual([]);
      const res = await api.post('Organization/$check-consortium', consortiumBundle({ region: ['31005'], call: 'https://fhir.integrated-care.be/rules/consortium-2031' }));
      expect(res.status).toBe(422);
      expect(text(issues(res.body)[0])).toBe(`The call for projects https://fhir.integrated-care.be/rules/consortium-2031 is not known here; known calls: ${CONSORTIUM_RULES}|1.0.0`);
    });

    it('answers 400, 404 and 422 to what it cannot check', async () => {
      expect((await api.get('Organization/$check-consortium')).status).toBe(400);
      expect((await api.post('Organization/$check-consortium', { resourceType: 'Organization', name: 'x' })).status).toBe(400);
      const two = consortiumBundle() as { entry: unknown[] };
      two.entry.push((consortiumBundle() as { entry: unknown[] }).entry[0]);
      const twice = await api.post('Organization/$check-consortium', two);
      expect(twice.status).toBe(400);
      expect(text(issues(twice.body)[0])).toMatch(/exactly one Organization of type orgconsortium .* it holds 2/);
      expect((await api.get('Organization/org-nope/$check-consortium')).status).toBe(404);
      const notOne = await api.get('Organization/org-az-leiestreek/$check-consortium', { 'Accept-Language': 'nl' });
      expect(notOne.status).toBe(422);
      expect(text(issues(notOne.body)[0])).toMatch(/^Organization\/org-az-leiestreek is geen consortium/);
      expect((await api.get('PlanDefinition/$check-consortium')).status).toBe(404);
    });

    it('is open to the consortium office with directory scopes, and to no token without them', async () => {
      const office = rec.as(await rec.token({ scope: 'user/Organization.rs user/OrganizationAffiliation.rs', fhirUser: 'Practitioner/prac-sarah-goossens' }));
      expect((await office.get('/fhir/Organization/org-consortium-leiestreek/$check-consortium')).status).toBe(200);
      const patientOnly = rec.as(await rec.token({ scope: 'user/Patient.rs', fhirUser: 'Practitioner/prac-sarah-goossens' }));
      expect((await patientOnly.get('/fhir/Organization/org-consortium-leiestreek/$check-consortium')).status).toBe(403);
      expect((await rec.anonymous.get('/fhir/Organization/org-consortium-leiestreek/$check-consortium')).status).toBe(401);
    });
  });
});
