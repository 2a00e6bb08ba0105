import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS, loadFixtures, startTestRecord, type TestRecord } from '../support/harness.js';
import { fhir, type Fhir } from '../support/fhir-client.js';
import { CARE_TEAM_RULES, issues, janTeam, ofRule, participant, ROLE, text, validationHeader } from './helpers.js';

type Obj = Record<string, unknown>;
const OUTCOME = { Prefer: 'return=OperationOutcome' };
const ruleIssues = (outcome: unknown) => issues(outcome).filter((i) => i.details?.coding?.some((c) => c.system === CARE_TEAM_RULES));
const ruleIds = (outcome: unknown) => ruleIssues(outcome).map((i) => `${i.severity}:${i.details!.coding![0].code}`);

describe.each(BACKENDS)('care-team rules on %s', (backend) => {
  let rec: TestRecord;
  let api: Fhir;
  let n = 0;
  const id = () => `ct-rules-${++n}`;
  beforeAll(async () => {
    rec = await startTestRecord(backend);
    await loadFixtures(rec);
    api = fhir(rec.api);
    expect((await api.put('Practitioner/prac-rules-freelance', { resourceType: 'Practitioner', id: 'prac-rules-freelance', name: [{ family: 'Zelfstandig', given: ['Bart'] }] })).status).toBe(201);
  });
  afterAll(async () => {
    await rec.close();
  });

  const put = (team: Obj, headers: Record<string, string> = OUTCOME) => api.put(`CareTeam/${String(team.id)}`, team, headers);

  it('stores an active team that meets every rule without any rule issue (the fixture teams load too)', async () => {
    const team = janTeam(id());
    const res = await put(team);
    expect(res.status).toBe(201);
    expect(ruleIssues(res.body)).toEqual([]);
    expect(validationHeader(res.headers)).not.toMatch(/CareTeam/);
    const fixture = await api.get('CareTeam/ct-jan-peeters');
    const validated = await api.post('CareTeam/$validate', fixture.body);
    expect(ruleIssues(validated.body)).toEqual([]);
  });

  describe.each([
    ['patient', (p: Obj[]) => p.filter((x) => (x.member as Obj).reference !== 'Patient/pat-jan-peeters'), 'The patient is not a participant of the own care team: add the patient (participant.member = the subject Patient) — patient empowerment'],
    ['gp', (p: Obj[]) => p.filter((x) => (x.member as Obj).reference !== 'Practitioner/prac-an-vermeulen'), 'The care team has no general practitioner (role general practitioner); at least 1 is required'],
    ['nurse', (p: Obj[]) => p.filter((x) => (x.member as Obj).reference !== 'Practitioner/prac-els-maes'), 'The care team has no nurse (role nurse / group of nurses); at least 1 is required'],
    ['coordinator', (p: Obj[]) => p.filter((x) => (x.member as Obj).reference !== 'Practitioner/prac-sarah-goossens'), 'The care team has no care coordinator or case manager (role care coordinator / case manager)'],
  ])('error rule %s', (rule, remove, message) => {
    it('refuses an active team that breaks it, with the rule and its message (422), and stores nothing', async () => {
      const team = janTeam(id(), remove);
      const res = await put(team);
      expect(res.status).toBe(422);
      const found = ofRule(res.body, rule);
      expect(found).toHaveLength(1);
      expect(found[0]).toMatchObject({ severity: 'error', code: 'business-rule', expression: ['CareTeam.participant'] });
      expect(text(found[0])).toBe(message);
      expect(ruleIds(res.body).filter((r) => r.startsWith('error'))).toEqual([`error:${rule}`]);
      expect((await api.get(`CareTeam/${String(team.id)}`)).status).toBe(404);
    });

    it('stores a proposed team that breaks it, and returns the rule as a warning', async () => {
      const team = janTeam(id(), remove, 'proposed');
      const res = await put(team);
      expect(res.status).toBe(201);
      const found = ofRule(res.body, rule);
      expect(found.map((i) => [i.severity, text(i)])).toEqual([['warning', message]]);
      expect((await api.get(`CareTeam/${String(team.id)}`)).status).toBe(200);
      // Without Prefer: return=OperationOutcome the warnings come in a header, as HAPI does it.
      const plain = await put(janTeam(id(), remove, 'proposed'), {});
      expect(plain.status).toBe(201);
      expect(validationHeader(plain.headers)).toContain(`warning CareTeam.participant: ${message.replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)}`);
    });

    it('is met when its member is there', async () => {
      const res = await api.post('CareTeam/$validate', janTeam(id()));
      expect(ofRule(res.body, rule)).toEqual([]);
    });
  });

  it('refuses with every rule issue at once, in the language asked', async () => {
    const team = janTeam(id(), (p) => p.slice(0, 1));
    const res = await put(team, { ...OUTCOME, 'Accept-Language': 'nl-BE' });
    expect(res.status).toBe(422);
    expect(ruleIds(res.body).sort()).toEqual(['error:coordinator', 'error:gp', 'error:nurse', 'warning:informal-caregiver']);
    expect(text(ofRule(res.body, 'gp')[0])).toBe('Het zorgteam heeft geen huisarts (rol huisarts); er is er minstens 1 nodig');
    const fr = await put(team, { ...OUTCOME, 'Accept-Language': 'fr-BE' });
    expect(text(ofRule(fr.body, 'nurse')[0])).toBe("L'équipe de soins n'a pas d'infirmier (rôle infirmier / regroupement d'infirmiers) ; il en faut au moins 1");
  });

  describe('warning rules', () => {
    it('recommends an informal caregiver: stored, with a warning', async () => {
      const res = await put(janTeam(id(), (p) => p.filter((x) => (x.member as Obj).reference !== 'RelatedPerson/rp-maria-peeters')));
      expect(res.status).toBe(201);
      expect(ofRule(res.body, 'informal-caregiver').map((i) => [i.severity, text(i)])).toEqual([
        ['warning', 'The care team has no informal caregiver (role caregiver); it is recommended to include the informal caregiver as a full member'],
      ]);
      const plain = await put(janTeam(id(), (p) => p.filter((x) => (x.member as Obj).reference !== 'RelatedPerson/rp-maria-peeters')), {});
      expect(validationHeader(plain.headers)).toMatch(/warning CareTeam.participant: The care team has no informal caregiver/);
    });

    it('asks every participant for a period, pointing at the one without', async () => {
      const res = await put(janTeam(id(), (p) => p.map((x, i) => (i === 3 ? { ...x, period: undefined } : x))));
      expect(res.status).toBe(201);
      expect(ofRule(res.body, 'participant-period').map((i) => [i.severity, i.expression?.[0], text(i)])).toEqual([
        ['warning', 'CareTeam.participant[3].period', 'Participant Practitioner/prac-els-maes has no period (participant.period.start): without one, the access to the record holds indefinitely'],
      ]);
    });

    describe('partners of the patient\'s consortium', () => {
      it('reports a provider who works for no partner of the consortium of the patient\'s home municipality', async () => {
        const team = janTeam(id(), (p) => [...p, participant(ROLE.pharmacist, 'Practitioner/prac-julie-renard', { onBehalfOf: { reference: 'Organization/org-mm-confluent' } })]);
        const res = await put(team);
        expect(res.status).toBe(201);
        expect(ofRule(res.body, 'consortium-partner').map((i) => [i.severity, i.expression?.[0], text(i)])).toEqual([
          ['warning', 'CareTeam.participant[5]', 'Participant Practitioner/prac-julie-renard (Organization/org-mm-confluent) is not a partner of consortium Geïntegreerde Zorg Leiestreek'],
        ]);
      });

      it('finds the organisation of a practitioner through their roles, and of a PractitionerRole member', async () => {
        const team = janTeam(id(), (p) => [
          ...p,
          participant(ROLE.cardiologist, 'Practitioner/prac-koen-wouters'),
          participant(ROLE.physician, 'PractitionerRole/role-an-vermeulen-gp'),
        ]);
        const res = await api.post('CareTeam/$validate', team);
        expect(ofRule(res.body, 'consortium-partner')).toEqual([]);
      });

      it('reports a provider who works for no known organisation', async () => {
        const res = await put(janTeam(id(), (p) => [...p, participant(ROLE.physio, 'Practitioner/prac-rules-freelance')]), { ...OUTCOME, 'Accept-Language': 'fr' });
        expect(ofRule(res.body, 'consortium-partner').map(text)).toEqual([
          'Le participant Practitioner/prac-rules-freelance ne travaille pour aucune organisation connue (onBehalfOf ou un PractitionerRole avec organization) ; pas partenaire du consortium Geïntegreerde Zorg Leiestreek',
        ]);
      });

      it('says so when the patient lives in the region of no registered consortium', async () => {
        const fixture = (await api.get('CareTeam/ct-maria-claes')).body as Obj;
        const res = await api.post('CareTeam/$validate', fixture, { 'Accept-Language': 'nl' });
        expect(ofRule(res.body, 'consortium-partner').map((i) => [i.severity, i.expression?.[0], text(i)])).toEqual([
          ['warning', 'CareTeam.subject', 'De gemeente van de patiënt (Brugge) ligt in de regio van geen enkel geregistreerd consortium; de partners van het team kunnen niet nagegaan worden'],
        ]);
      });

      it('uses the consortium the team names as managing organisation rather than the home municipality', async () => {
        const team = { ...janTeam(id()), managingOrganization: [{ reference: 'Organization/org-consortium-namur-meuse' }] };
        const res = await api.post('CareTeam/$validate', team);
        const found = ofRule(res.body, 'consortium-partner').map(text);
        expect(found).toHaveLength(3);
        expect(found[0]).toBe('Participant Practitioner/prac-an-vermeulen (Organization/org-hap-de-brug) is not a partner of consortium Réseau de soins intégrés Namur-Meuse');
      });

      it('follows the consortium\'s partnerships as they change', async () => {
        const team = janTeam(id(), (p) => [...p, participant(ROLE.pharmacist, 'Practitioner/prac-julie-renard', { onBehalfOf: { reference: 'Organization/org-mm-confluent' } })]);
        expect(ofRule((await api.post('CareTeam/$validate', team)).body, 'consortium-partner')).toHaveLength(1);
        const affiliation = {
          resourceType: 'OrganizationAffiliation',
          id: 'aff-rules-mm-confluent',
          organization: { reference: 'Organization/org-consortium-leiestreek' },
          participatingOrganization: { reference: 'Organization/org-mm-confluent' },
          code: [{ coding: [{ system: 'https://www.ehealth.fgov.be/standards/fhir/core/CodeSystem/cd-hcparty', code: 'groupofphysicianssameaddress' }] }],
        };
        expect((await api.put('OrganizationAffiliation/aff-rules-mm-confluent', affiliation)).status).toBe(201);
        expect(ofRule((await api.post('CareTeam/$validate', team)).body, 'consortium-partner')).toEqual([]);
        expect((await api.put('OrganizationAffiliation/aff-rules-mm-confluent', { ...affiliation, active: false })).status).toBe(200);
        expect(ofRule((await api.post('CareTeam/$validate', team)).body, 'consortium-partner')).toHaveLength(1);
      });
    });
  });

  it('counts the codes of a PractitionerRole member as its roles', async () => {
    const team = janTeam(id(), (p) => p.map((x) => ((x.member as Obj).reference === 'Practitioner/prac-an-vermeulen' ? participant(ROLE.physician, 'PractitionerRole/role-an-vermeulen-gp') : x)));
    expect(ruleIds((await api.post('CareTeam/$validate', team)).body)).toEqual([]);
  });

  it('does not count a role still to be filled, or a participant whose period has ended', async () => {
    const team = janTeam(id(), (p) =>
      p.map((x) => {
        if ((x.member as Obj).reference === 'Practitioner/prac-an-vermeulen') return participant(ROLE.gp);
        if ((x.member as Obj).reference === 'Practitioner/prac-els-maes') return { ...x, period: { start: '2024-01-01', end: '2024-06-30' } };
        return x;
      }),
    );
    expect((await api.post('CareTeam/$validate', team)).body).toSatisfy((o: unknown) => ruleIds(o).includes('error:gp') && ruleIds(o).includes('error:nurse'));
  });

  describe('joining a team (home-care software)', () => {
    it('joins a proposed team by PATCH with If-Match; the rules run again, and the team can then become active', async () => {
      const team = janTeam(id(), (p) => p.filter((x) => (x.member as Obj).reference !== 'Practitioner/prac-els-maes'), 'proposed');
      const created = await put(team);
      expect(created.status).toBe(201);
      expect(ruleIds(created.body)).toEqual(['warning:nurse']);
      const path = `CareTeam/${String(team.id)}`;
      const stale = await api.patch(path, [{ op: 'add', path: '/participant/-', value: participant(ROLE.nurse, 'Practitioner/prac-els-maes') }], { 'If-Match': 'W/"7"' });
      expect(stale.status).toBe(412);
      const joined = await api.patch(path, [{ op: 'add', path: '/participant/-', value: participant(ROLE.nurse, 'Practitioner/prac-els-maes', { onBehalfOf: { reference: 'Organization/org-thuisverpleging-zuidwest' } }) }], {
        'If-Match': 'W/"1"',
        ...OUTCOME,
      });
      expect(joined.status).toBe(200);
      expect(ruleIds(joined.body)).toEqual([]);
      const active = await api.patch(path, [{ op: 'replace', path: '/status', value: 'active' }], { 'If-Match': 'W/"2"' });
      expect(active.status).toBe(200);
    });

    it('refuses a PATCH that leaves an active team without its GP, and keeps the team as it was', async () => {
      const team = janTeam(id());
      expect((await put(team)).status).toBe(201);
      const path = `CareTeam/${String(team.id)}`;
      const res = await api.patch(path, [{ op: 'remove', path: '/participant/2' }], { 'If-Match': 'W/"1"' });
      expect(res.status).toBe(422);
      expect(ruleIds(res.body)).toEqual(['error:gp']);
      expect((await api.get(path)).headers.etag).toBe('W/"1"');
    });

    it('joins by PUT with If-Match, and reports a member who is not a partner', async () => {
      const team = janTeam(id());
      expect((await put(team)).status).toBe(201);
      const joined = { ...team, participant: [...(team.participant as Obj[]), participant(ROLE.nurse, 'Practitioner/prac-marc-dupont', { onBehalfOf: { reference: 'Organization/org-soins-domicile-meuse' } })] };
      const res = await put(joined, { ...OUTCOME, 'If-Match': 'W/"1"' });
      expect(res.status).toBe(200);
      expect(ruleIds(res.body)).toEqual(['warning:consortium-partner']);
      expect((await put(joined, { 'If-Match': 'W/"1"' })).status).toBe(412);
    });
  });

  it('refuses a transaction whose active team breaks a rule, as a whole', async () => {
    const team = janTeam(id(), (p) => p.filter((x) => (x.member as Obj).reference !== 'Practitioner/prac-an-vermeulen'));
    const goal = { resourceType: 'Goal', id: 'goal-rules-tx', lifecycleStatus: 'proposed', description: { text: 'x' }, subject: { reference: 'Patient/pat-jan-peeters' } };
    const res = await api.post('', {
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [
        { resource: goal, request: { method: 'PUT', url: 'Goal/goal-rules-tx' } },
        { resource: team, request: { method: 'PUT', url: `CareTeam/${String(team.id)}` } },
      ],
    });
    expect(res.status).toBe(422);
    expect(JSON.stringify(res.body)).toContain('The care team has no general practitioner');
    expect((await api.get('Goal/goal-rules-tx')).status).toBe(404);
  });

  it('sees a PractitionerRole made earlier in the same transaction', async () => {
    const team = janTeam(id(), (p) => p.map((x) => ((x.member as Obj).reference === 'Practitioner/prac-an-vermeulen' ? participant(ROLE.physician, 'PractitionerRole/role-rules-tx-gp') : x)));
    const role = {
      resourceType: 'PractitionerRole',
      id: 'role-rules-tx-gp',
      practitioner: { reference: 'Practitioner/prac-rules-freelance' },
      organization: { reference: 'Organization/org-hap-de-brug' },
      code: [{ coding: [{ system: 'https://www.ehealth.fgov.be/standards/fhir/core/CodeSystem/cd-hcparty', code: 'persgeneralphysician' }] }],
    };
    const res = await api.post('', {
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [
        { resource: role, request: { method: 'PUT', url: 'PractitionerRole/role-rules-tx-gp' } },
        { resource: team, request: { method: 'PUT', url: `CareTeam/${String(team.id)}` } },
      ],
    });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect((await api.get(`CareTeam/${String(team.id)}`)).status).toBe(200);
  });

  it('leaves inactive teams and other resource types alone', async () => {
    const res = await put(janTeam(id(), (p) => p.slice(0, 1), 'inactive'));
    expect(res.status).toBe(201);
    expect(ruleIssues(res.body)).toEqual([]);
    const goal = await api.put('Goal/goal-rules-plain', { resourceType: 'Goal', id: 'goal-rules-plain', lifecycleStatus: 'proposed', description: { text: 'x' }, subject: { reference: 'Patient/pat-jan-peeters' } }, OUTCOME);
    expect(goal.status).toBe(201);
    expect(ruleIssues(goal.body)).toEqual([]);
  });
});
