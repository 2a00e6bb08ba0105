import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CarePlan, CareTeam } from 'fhir/r4.js';
import { BACKENDS, loadFixtures, startTestRecord, type TestRecord } from '../support/harness.js';
import { fhir, type Fhir } from '../support/fhir-client.js';
import { HC, ICR, issues, participant, ROLE, text } from './helpers.js';

type Obj = Record<string, unknown>;
const BASE = 'https://fhir.integrated-care.be/PlanDefinition/';
const ACTIVITY = 'https://fhir.integrated-care.be/CodeSystem/icr-care-activity';
const CAREPLAN_PROFILE = 'https://fhir.integrated-care.be/StructureDefinition/icr-careplan';
const GUIDELINES = ['guideline-diabetes-type2', 'guideline-copd', 'guideline-heart-failure', 'guideline-frail-older-person'];

const warnings = (outcome: unknown) => issues(outcome).filter((i) => i.severity === 'warning');
/** The codes that $gaps names (details.coding of each warning: the discipline, or the activity's codes). */
const gapCodes = (outcome: unknown) => warnings(outcome).map((i) => `${i.expression?.[0]}:${i.details?.coding?.[0].code}`);

describe.each(BACKENDS)('guidelines, $apply and $gaps on %s', (backend) => {
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

  const apply = async (guideline: string, patient: string, lang = 'en') => {
    const res = await api.post(`PlanDefinition/${guideline}/$apply?subject=Patient/${patient}`, {}, { 'Accept-Language': lang });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    return res.body as CarePlan & Obj;
  };
  /** Stores a plan and answers its $gaps. */
  const gaps = async (plan: Obj, lang = 'en') => {
    const created = await api.post('CarePlan', plan);
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const res = await api.get(`CarePlan/${String((created.body as Obj).id)}/$gaps`, { 'Accept-Language': lang });
    expect(res.status).toBe(200);
    return res.body;
  };

  describe('$apply', () => {
    it.each(GUIDELINES)('makes a draft CarePlan from %s that our CarePlan profile accepts, and that can be stored', async (guideline) => {
      const plan = await apply(guideline, 'pat-jan-peeters');
      // the guideline comes from profiles/, published at startup: clients read the same definition that $apply uses
      const published = await api.get(`PlanDefinition/${guideline}`);
      expect(published.status).toBe(200);
      expect(published.body).toMatchObject({ url: `${BASE}${guideline}`, version: '1.0.0', status: 'active' });
      expect(plan).toMatchObject({ resourceType: 'CarePlan', status: 'draft', intent: 'plan', subject: { reference: 'Patient/pat-jan-peeters' }, instantiatesCanonical: [`${BASE}${guideline}|1.0.0`] });
      expect(plan.careTeam).toEqual([{ reference: 'CareTeam/ct-jan-peeters' }]);
      expect(plan.activity!.length).toBeGreaterThanOrEqual(6);
      for (const a of plan.activity!) {
        expect(a.detail!.status).toBe('not-started');
        expect(a.detail!.code!.coding![0].system).toBe(ACTIVITY);
      }
      const validated = await api.post(`CarePlan/$validate?profile=${encodeURIComponent(CAREPLAN_PROFILE)}`, plan);
      expect(issues(validated.body).filter((i) => i.severity === 'error')).toEqual([]);
      expect((await api.post('CarePlan', plan)).status).toBe(201);
    });

    it('addresses the patient\'s conditions that the guideline is for, and names the team members who hold its roles as performers', async () => {
      const plan = await apply('guideline-heart-failure', 'pat-jan-peeters');
      expect(plan.addresses).toEqual([{ reference: 'Condition/cond-jan-heartfailure' }]);
      const byCode = new Map(plan.activity!.map((a) => [a.detail!.code!.coding![0].code, a.detail!]));
      expect(byCode.get('hf-echocardiography')!.performer).toEqual([{ reference: 'Practitioner/prac-koen-wouters' }]);
      expect(byCode.get('hf-medication-optimisation')!.performer).toEqual([{ reference: 'Practitioner/prac-an-vermeulen' }, { reference: 'Practitioner/prac-koen-wouters' }]);
      expect(byCode.get('hf-weight-monitoring')!.performer).toEqual([{ reference: 'Practitioner/prac-els-maes' }, { reference: 'Patient/pat-jan-peeters' }]);
      expect(byCode.get('hf-education')!.code!.coding!.map((c) => c.code)).toEqual(['hf-education', '423475008']);
      expect(byCode.get('hf-vaccination')!.scheduledTiming).toEqual({ repeat: { frequency: 1, period: 1, periodUnit: 'a' } });
    });

    it('writes the plan in the language asked', async () => {
      const plan = await apply('guideline-diabetes-type2', 'pat-francoise-dubois', 'fr-BE');
      expect(plan.title).toBe('Soins multidisciplinaires du diabète de type 2');
      expect(plan.activity![0].detail!.code!.text).toBe('Suivi trimestriel par le médecin généraliste');
      expect(plan.activity![0].detail!.code!.coding![0].display).toBe('Suivi trimestriel par le médecin généraliste');
      expect((await apply('guideline-copd', 'pat-maria-claes', 'nl')).title).toBe('Multidisciplinaire zorg bij COPD');
    });

    it('proposes a contained care team with the roles to fill when the patient has no active team', async () => {
      const plan = await apply('guideline-diabetes-type2', 'pat-elise-lejeune');
      expect(plan.careTeam).toEqual([{ reference: '#proposed-team' }]);
      const team = (plan.contained as CareTeam[])[0];
      expect(team).toMatchObject({ resourceType: 'CareTeam', id: 'proposed-team', status: 'proposed', subject: { reference: 'Patient/pat-elise-lejeune' } });
      expect(team.participant![0].member).toEqual({ reference: 'Patient/pat-elise-lejeune' });
      expect(team.participant!.slice(1).map((p) => [p.role![0].coding![0].code, p.member])).toEqual([
        ['persgeneralphysician', undefined],
        ['persdiabeticeducator', undefined],
        ['persdietician', undefined],
        ['perspodologist', undefined],
        ['persendocrinodiabetologist', undefined],
      ]);
      const validated = await api.post('CarePlan/$validate', plan);
      expect(issues(validated.body).filter((i) => i.severity === 'error')).toEqual([]);
      const outcome = await gaps(plan);
      expect(gapCodes(outcome).filter((c) => c.startsWith('CarePlan.careTeam'))).toHaveLength(5);
    });

    it('takes its parameters from a Parameters body or the query, with GET too', async () => {
      const body = { resourceType: 'Parameters', parameter: [{ name: 'subject', valueReference: { reference: 'Patient/pat-maria-claes' } }, { name: 'practitioner', valueString: 'Practitioner/prac-pieter-desmet' }] };
      const res = await api.post('PlanDefinition/guideline-copd/$apply', body);
      expect(res.status).toBe(200);
      expect((res.body as Obj).author).toEqual({ reference: 'Practitioner/prac-pieter-desmet' });
      expect((await api.get('PlanDefinition/guideline-copd/$apply?subject=Patient/pat-maria-claes')).status).toBe(200);
    });

    it('applies a PlanDefinition stored on the server (a region\'s own guideline)', async () => {
      const pd = {
        resourceType: 'PlanDefinition',
        id: 'pd-rules-local',
        url: `${BASE}pd-rules-local`,
        version: '2.0.0',
        status: 'active',
        title: 'Local pathway',
        action: [{ id: 'a1', title: 'Home visit', code: [{ coding: [{ system: 'http://snomed.info/sct', code: '439708006', display: 'Home visit' }] }], participant: [{ type: 'practitioner', role: { coding: [{ system: HC, code: 'persnurse' }] } }] }],
      };
      expect((await api.put('PlanDefinition/pd-rules-local', pd)).status).toBe(201);
      const plan = await apply('pd-rules-local', 'pat-jan-peeters');
      expect(plan.instantiatesCanonical).toEqual([`${BASE}pd-rules-local|2.0.0`]);
      expect(plan.activity!.map((a) => a.detail!.performer)).toEqual([[{ reference: 'Practitioner/prac-els-maes' }]]);
      const outcome = await gaps(plan);
      expect(warnings(outcome)).toEqual([]);
    });

    it('answers 400 without a patient subject, 404 for an unknown patient or guideline', async () => {
      const noSubject = await api.post('PlanDefinition/guideline-copd/$apply', {});
      expect(noSubject.status).toBe(400);
      expect(text(issues(noSubject.body)[0])).toMatch(/needs the subject parameter/);
      expect((await api.post('PlanDefinition/guideline-copd/$apply?subject=Practitioner/prac-an-vermeulen', {})).status).toBe(400);
      expect((await api.post('PlanDefinition/guideline-copd/$apply?subject=Patient/pat-nobody', {})).status).toBe(404);
      const unknown = await api.post('PlanDefinition/guideline-nope/$apply?subject=Patient/pat-jan-peeters', {});
      expect(unknown.status).toBe(404);
      expect(text(issues(unknown.body)[0])).toMatch(/guideline-copd, guideline-diabetes-type2, guideline-frail-older-person, guideline-heart-failure/);
    });

    it('sees only the patients the caller may see', async () => {
      const els = rec.as(await rec.token({ scope: 'user/*.rs', fhirUser: 'Practitioner/prac-els-maes' }));
      expect((await els.post('/fhir/PlanDefinition/guideline-copd/$apply?subject=Patient/pat-maria-claes').set('Content-Type', 'application/fhir+json').send('{}')).status).toBe(200);
      expect((await els.post('/fhir/PlanDefinition/guideline-copd/$apply?subject=Patient/pat-jean-pierre-lambert').set('Content-Type', 'application/fhir+json').send('{}')).status).toBe(404);
    });
  });

  describe('$gaps', () => {
    it('finds nothing missing when the team and the activities cover the guideline', async () => {
      const outcome = await gaps(await apply('guideline-copd', 'pat-jean-pierre-lambert'));
      expect(warnings(outcome)).toEqual([]);
      expect(issues(outcome).map((i) => [i.severity, text(i)])).toEqual([
        ['information', "The care team and the activities of the plan cover every discipline and activity of the guideline 'Multidisciplinary care for COPD'"],
      ]);
    });

    it('names each discipline the team lacks', async () => {
      const outcome = await gaps(await apply('guideline-diabetes-type2', 'pat-jan-peeters'));
      expect(gapCodes(outcome)).toEqual([
        'CarePlan.careTeam:persdiabeticeducator',
        'CarePlan.careTeam:persdietician',
        'CarePlan.careTeam:perspodologist',
        'CarePlan.careTeam:persendocrinodiabetologist',
      ]);
      expect(text(warnings(outcome)[1])).toBe("The care team has no dietician, which the guideline 'Multidisciplinary care for type 2 diabetes' requires for: Dietary advice by a dietitian");
    });

    it('names each activity the plan lacks, and ignores cancelled ones', async () => {
      const plan = await apply('guideline-heart-failure', 'pat-jan-peeters', 'nl');
      plan.activity = plan.activity!.filter((a) => a.detail!.code!.coding![0].code !== 'hf-post-discharge');
      plan.activity.find((a) => a.detail!.code!.coding![0].code === 'hf-vaccination')!.detail!.status = 'cancelled';
      const outcome = await gaps(plan, 'nl');
      expect(gapCodes(outcome)).toEqual(['CarePlan.activity:hf-post-discharge', 'CarePlan.activity:hf-vaccination']);
      expect(text(warnings(outcome)[1])).toBe("Het plan heeft geen activiteit 'Jaarlijkse griepvaccinatie' (hf-vaccination / 86198006), die de richtlijn 'Multidisciplinaire zorg bij chronisch hartfalen' vraagt");
    });

    it('compares the fixture plans with the guidelines they name, matching activities by their SNOMED CT codes too', async () => {
      const res = await api.get('CarePlan/cp-maria-claes/$gaps');
      expect(gapCodes(res.body)).toEqual([
        'CarePlan.careTeam:perspneumologist',
        'CarePlan.activity:copd-spirometry',
        'CarePlan.activity:copd-smoking-cessation',
        'CarePlan.activity:copd-vaccination',
        'CarePlan.activity:copd-action-plan',
      ]);
      // cp-jean-pierre-lambert follows two guidelines: one outcome for both
      const two = await api.get('CarePlan/cp-jean-pierre-lambert/$gaps', { 'Accept-Language': 'fr' });
      expect(warnings(two.body).some((i) => /insuffisance cardiaque/.test(text(i)))).toBe(true);
      expect(warnings(two.body).some((i) => /BPCO/.test(text(i)))).toBe(true);
    });

    it('counts the codes of PractitionerRole members of the team', async () => {
      const team = {
        resourceType: 'CareTeam',
        id: 'ct-rules-gaps-roles',
        status: 'active',
        subject: { reference: 'Patient/pat-maria-claes' },
        participant: [
          participant(ROLE.patient, 'Patient/pat-maria-claes'),
          participant(ROLE.gp, 'Practitioner/prac-pieter-desmet'),
          participant(ROLE.nurse, 'Practitioner/prac-els-maes'),
          participant(ROLE.coordinator, 'Practitioner/prac-sarah-goossens'),
          participant(ROLE.physio, 'Practitioner/prac-lotte-jacobs'),
          participant(ROLE.pharmacist, 'Practitioner/prac-tom-willems'),
          participant(ROLE.physician, 'PractitionerRole/role-claire-leroy-pneumo'),
        ],
      };
      expect((await api.put('CareTeam/ct-rules-gaps-roles', team)).status).toBe(201);
      const plan = await apply('guideline-copd', 'pat-maria-claes');
      const outcome = await gaps({ ...plan, careTeam: [{ reference: 'CareTeam/ct-rules-gaps-roles' }] });
      expect(warnings(outcome)).toEqual([]);
      const without = { ...team, id: 'ct-rules-gaps-roles-2', participant: team.participant.slice(0, 6) };
      expect((await api.put('CareTeam/ct-rules-gaps-roles-2', without)).status).toBe(201);
      expect(gapCodes(await gaps({ ...plan, careTeam: [{ reference: 'CareTeam/ct-rules-gaps-roles-2' }] }))).toEqual(['CarePlan.careTeam:perspneumologist']);
    });

    it('answers 422 for a plan that instantiates no known guideline, and 404 for an unknown or hidden plan', async () => {
      const res = await api.get('CarePlan/cp-rules-none/$gaps');
      expect(res.status).toBe(404);
      const plan = await apply('guideline-copd', 'pat-maria-claes');
      delete plan.instantiatesCanonical;
      const created = await api.post('CarePlan', plan);
      const none = await api.get(`CarePlan/${String((created.body as Obj).id)}/$gaps`);
      expect(none.status).toBe(422);
      expect(text(issues(none.body)[0])).toMatch(/instantiates no guideline known here/);
      const els = rec.as(await rec.token({ scope: 'user/*.rs', fhirUser: 'Practitioner/prac-els-maes' }));
      expect((await els.get('/fhir/CarePlan/cp-maria-claes/$gaps')).status).toBe(200);
      expect((await els.get('/fhir/CarePlan/cp-jean-pierre-lambert/$gaps')).status).toBe(404);
    });
  });

  it('ships every guideline with its disciplines as CD-HCPARTY or local codes and its texts in three languages', async () => {
    const { readFileSync } = await import('node:fs');
    for (const id of GUIDELINES) {
      const pd = JSON.parse(readFileSync(new URL(`../../profiles/PlanDefinition-${id}.json`, import.meta.url), 'utf8'));
      const langs = (el: Obj, name: string) => ((el[`_${name}`] as Obj)?.extension as Obj[] ?? []).map((e) => ((e.extension as Obj[])[0] as Obj).valueCode).sort();
      expect(langs(pd, 'title'), id).toEqual(['fr', 'nl']);
      expect(langs(pd, 'description'), id).toEqual(['fr', 'nl']);
      for (const action of pd.action as Obj[]) {
        expect(langs(action, 'title'), `${id} ${String(action.id)}`).toEqual(['fr', 'nl']);
        for (const p of action.participant as { type: string; role: { coding: { system: string }[] } }[]) {
          expect([HC, ICR]).toContain(p.role.coding[0].system);
        }
      }
      const validated = await api.post('PlanDefinition/$validate', pd);
      expect(issues(validated.body).filter((i) => i.severity === 'error'), id).toEqual([]);
    }
  });
});
