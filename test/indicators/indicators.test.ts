import type { Bundle, MeasureReport, MeasureReportGroup } from 'fhir/r4.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { INDICATORS } from '../../src/indicators/definitions.js';
import { rebuildIndicatorIndexIfAsked } from '../../src/indicators/projection.js';
import { defaultRules } from '../../src/rules/index.js';
import { BACKENDS, startTestRecord, type TestRecord } from '../support/harness.js';
import { fhir, messages, type Fhir } from '../support/fhir-client.js';
import { CONSORTIUM_A, CONSORTIUM_B, PLAN_VERSIONS, POPULATION_A, population } from './population.js';

/**
 * Every indicator against figures worked out by hand on the population of population.ts, for 2024
 * (periodStart=2024-01-01, periodEnd=2024-12-31; ages on 31 December 2024).
 *
 * Who belongs to which consortium in 2024 (care team managed by a consortium first, else the home
 * address on 31 December 2024):
 *   A (Kortrijk + Kuurne): P1, P2, P3, P4 (moved to Kortrijk on 2024-04-01), P5 (lives in Brugge, but
 *     her team ind-t5 is managed by A), P7, P8.            B (Brugge): P6.
 * Plans in force during 2024: cp1 (P1), cp2 (P2), cp4 (P4, since 2023-11), cp5 (P5), cp7 (P7);
 *   cp3 (P3) ended 2023-06-30. Included patients of A: P1, P2, P4, P5, P7 = 5; of B: none.
 * Care teams in force in 2024 of A's patients: t1, t2a, t2b (P2 has two), t3, t4, t5 = 6
 *   (t1-old became inactive in 2023). Members during 2024 and their disciplines (CD-HCPARTY pers*):
 *   t1: patient, GP, nurse, pharmacist, cardiologist, caregiver, coordinator (the physiotherapist
 *       left on 2023-12-31)                                                    -> 4 disciplines
 *   t2a: patient, GP, nurse                                                    -> 2
 *   t2b: physiotherapist, pharmacist, cardiologist, case manager (no patient, no GP) -> 3
 *   t3: patient, nurse (no GP)                                                 -> 1
 *   t4: patient, GP, nurse, RelatedPerson whose relationship is caregiver     -> 2
 *   t5: patient, GP through a PractitionerRole, nurse                         -> 2
 */
const PERIOD = 'periodStart=2024-01-01&periodEnd=2024-12-31';

type Report = MeasureReport & { group: MeasureReportGroup[] };

type Counts = Record<string, number | undefined>;

function counts(populations: { code?: { coding?: { code?: string }[] }; count?: number }[] | undefined): Counts {
  return Object.fromEntries((populations ?? []).map((p) => [p.code!.coding![0].code!, p.count]));
}

function total(report: Report, group = 0): Counts {
  const g = report.group[group];
  return { ...counts(g.population), score: g.measureScore?.value };
}

function stratum(report: Report, stratifier: string, value: string, group = 0): Counts {
  const s = report.group[group].stratifier!.find((x) => x.code![0].text === stratifier)!;
  const st = s.stratum!.find((x) => x.value!.text === value)!;
  return { ...counts(st.population), score: st.measureScore?.value };
}

describe.each(BACKENDS)('indicators on %s', (backend) => {
  let rec: TestRecord;
  let api: Fhir;

  const evaluate = async (measure: string, query = PERIOD, consortium = CONSORTIUM_A): Promise<Report> => {
    const res = await api.get<Report>(`Measure/${measure}/$evaluate-measure?${query}&subject=Organization/${consortium}`);
    expect(res.status, messages(res.body)).toBe(200);
    return res.body;
  };

  beforeAll(async () => {
    // The population has the edge cases that the rules and profiles would refuse (a team without a
    // GP, a plan without a team): data as it may come in through sync or from before the rules.
    rec = await startTestRecord(backend, { validation: 'base', writeChecks: [] });
    api = fhir(rec.api);
    const res = await api.post<Bundle>('', population());
    expect(res.status, JSON.stringify(res.body).slice(0, 2000)).toBe(200);
    // The server stamps versions with the time of the write; the plans' history is set as if they
    // had been written then.
    for (const [id, at] of Object.entries(PLAN_VERSIONS)) {
      await rec.runtime.db.query("UPDATE resource_version SET last_updated = $2 WHERE res_type = 'CarePlan' AND id = $1", [id, at]);
    }
    // ... and the indicator projection rebuilt from that history (as at the first start after migration 004).
    await rec.runtime.db.query("INSERT INTO maintenance_task (name) VALUES ('rebuild-indicator-index')");
    expect(await rebuildIndicatorIndexIfAsked(rec.runtime.store, defaultRules().data)).toBe(true);
  });
  afterAll(() => rec.close());

  it('reach per 1,000 inhabitants: 5 included patients over Statbel 2020 Kortrijk + Kuurne, strata by age band and sex', async () => {
    const r = await evaluate('icr-reach-per-1000');
    expect(r).toMatchObject({ resourceType: 'MeasureReport', status: 'complete', type: 'summary', measure: 'https://fhir.integrated-care.be/Measure/icr-reach-per-1000|0.1.0' });
    expect(r.period).toEqual({ start: '2024-01-01', end: '2024-12-31' });
    expect(r.subject?.reference).toBe('#consortium');
    expect(r.contained?.[0]).toMatchObject({ resourceType: 'Group', managingEntity: { reference: `Organization/${CONSORTIUM_A}` } });
    // P2 has two care teams and counts once; P3's plan ended in 2023; P5 counts through her managed team.
    expect(total(r)).toEqual({ 'initial-population': 5, numerator: 5, denominator: POPULATION_A, score: Math.round((5 * 1000 * 1000) / 90785) / 1000 });
    const g = r.group[0];
    expect(g.population!.find((p) => p.code!.coding![0].code === 'denominator')!.code!.text).toContain('1 January 2020');
    expect(g.measureScore!.unit).toContain('Statbel');
    // Ages on 2024-12-31: P1 74, P2 84, P4 64, P5 89, P7 34. Sexes: P1, P5 female; P2, P4 male; P7 other.
    expect(stratum(r, 'age-band', '65-74').numerator).toBe(1);
    expect(stratum(r, 'age-band', '75-84').numerator).toBe(1);
    expect(stratum(r, 'age-band', '45-64').numerator).toBe(1);
    expect(stratum(r, 'age-band', '85+').numerator).toBe(1);
    expect(stratum(r, 'age-band', '18-44').numerator).toBe(1);
    expect(stratum(r, 'age-band', '0-17').numerator).toBe(0);
    expect(stratum(r, 'sex', 'female').numerator).toBe(2);
    expect(stratum(r, 'sex', 'male').numerator).toBe(2);
    expect(stratum(r, 'sex', 'other').numerator).toBe(1);
    // Statbel has no figures per age band and sex: strata carry counts, no rate.
    expect(stratum(r, 'sex', 'female').score).toBeUndefined();
  });

  it('the patient who moved counts where she lived at the end of each period', async () => {
    // Q1 2024: P4 still lived in Brugge (old address until 2024-03-31) and had a plan since 2023-11:
    // B has 1 patient. A: P1 (plan from 2024-02-01) and P5 (team and plan from 2024-01-01) = 2.
    const q1 = 'periodStart=2024-01-01&periodEnd=2024-03-31';
    expect(total(await evaluate('icr-reach-per-1000', q1, CONSORTIUM_B)).numerator).toBe(1);
    expect(total(await evaluate('icr-reach-per-1000', q1, CONSORTIUM_A)).numerator).toBe(2);
    // The whole of 2024: P4 lives in Kortrijk on 31 December: B has none.
    expect(total(await evaluate('icr-reach-per-1000', PERIOD, CONSORTIUM_B)).numerator).toBe(0);
  });

  it('share of chronic patients with a plan: A 3 of 4, B 0 of 1', async () => {
    // Chronic in 2024 in A: P1 (diabetes), P2 (heart failure, COPD), P3 (diabetes since 2022), P4
    // (COPD); P8's diabetes was resolved in 2023; P7's sprain is not chronic. With a plan: P1, P2, P4.
    expect(total(await evaluate('icr-reach-chronic'))).toEqual({ 'initial-population': 4, denominator: 4, numerator: 3, score: 0.75 });
    // B: P6 has diabetes and no plan.
    expect(total(await evaluate('icr-reach-chronic', PERIOD, CONSORTIUM_B))).toEqual({ 'initial-population': 1, denominator: 1, numerator: 0, score: 0 });
  });

  it('disciplines per care team: mean 14/6 = 2.33, median 2', async () => {
    const r = await evaluate('icr-team-disciplines');
    expect(r.group.map((g) => g.code?.text)).toEqual(['mean', 'median']);
    expect(total(r, 0)).toEqual({ 'initial-population': 6, 'measure-population': 6, 'measure-observation': 6, score: 2.33 });
    expect(total(r, 1).score).toBe(2);
    // Women's teams: t1 (4), t3 (1), t5 (2): mean 7/3.
    expect(stratum(r, 'sex', 'female', 0).score).toBe(2.33);
    expect(stratum(r, 'sex', 'female', 1).score).toBe(2);
  });

  it('care teams with a GP and a nurse: t1, t2a, t4, t5 of 6 (t2b and t3 have no GP)', async () => {
    const r = await evaluate('icr-team-gp-nurse');
    expect(total(r)).toEqual({ 'initial-population': 6, denominator: 6, numerator: 4, score: 0.6667 });
    // Women (t1, t3, t5): 2 of 3; men (t2a, t2b, t4): 2 of 3.
    expect(stratum(r, 'sex', 'female')).toMatchObject({ denominator: 3, numerator: 2, score: 0.6667 });
    expect(stratum(r, 'sex', 'male')).toMatchObject({ denominator: 3, numerator: 2 });
  });

  it('care teams with a pharmacist or physiotherapist: t1 (pharmacist) and t2b, 2 of 6', async () => {
    // t1's physiotherapist left on 2023-12-31 and does not count, its pharmacist does.
    expect(total(await evaluate('icr-team-pharmacist-physio'))).toMatchObject({ denominator: 6, numerator: 2, score: 0.3333 });
  });

  it('care teams with the patient as participant: all but t2b, 5 of 6', async () => {
    expect(total(await evaluate('icr-team-patient'))).toMatchObject({ denominator: 6, numerator: 5, score: 0.8333 });
  });

  it('care teams with an informal caregiver: t1 (role) and t4 (RelatedPerson relationship), 2 of 6', async () => {
    expect(total(await evaluate('icr-team-caregiver'))).toMatchObject({ denominator: 6, numerator: 2, score: 0.3333 });
  });

  it('goals expressed by the patient: g1 and g2b of g1, g2a, g2b, g5', async () => {
    // g1x is cancelled; g3 belongs to P3, who is not included in 2024; g2a was expressed by the GP,
    // g5 by the caregiver.
    expect(total(await evaluate('icr-goals-patient'))).toEqual({ 'initial-population': 4, denominator: 4, numerator: 2, score: 0.5 });
  });

  it('care teams with a care coordinator or case manager: t1 and t2b, 2 of 6', async () => {
    expect(total(await evaluate('icr-team-coordinator'))).toMatchObject({ denominator: 6, numerator: 2, score: 0.3333 });
  });

  it('care plans with a care team and a goal: cp1, cp2, cp5 of 5 (cp4 has no goal, cp7 neither team nor goal)', async () => {
    expect(total(await evaluate('icr-plan-team-goal'))).toEqual({ 'initial-population': 5, denominator: 5, numerator: 3, score: 0.6 });
  });

  it('plans whose teams cover the guideline: cp1 and cp2 of cp1, cp2, cp7', async () => {
    // Heart failure needs a cardiologist, GP, nurse and pharmacist: cp1's t1 has them (the bare URL
    // names the guideline); cp2 has them only over its two teams t2a + t2b. cp7 (diabetes) has no
    // team. cp4 names a guideline this server does not know and is left out.
    expect(total(await evaluate('icr-plan-guideline-complete'))).toEqual({ 'initial-population': 3, denominator: 3, numerator: 2, score: 0.6667 });
  });

  it('days from a chronic condition to its first plan: 22, 336 and 31 days', async () => {
    // P1 diabetes 2024-01-10 -> cp1 2024-02-01: 22; P2 heart failure 2023-05-01 -> cp2 2024-04-01: 336;
    // P2 COPD 2024-03-01 -> cp2: 31. P4's COPD came after its plan (2023-11-01) began; P3's plan began in 2022.
    const r = await evaluate('icr-days-to-plan');
    expect(total(r, 0)).toEqual({ 'initial-population': 3, 'measure-population': 3, 'measure-observation': 3, score: 129.67 });
    expect(total(r, 1).score).toBe(31);
    expect(r.improvementNotation?.coding?.[0].code).toBe('decrease');
  });

  it('plans updated in the 12 months before the end of the period: 4 of 5 (cp5 last written 2023-01-01)', async () => {
    expect(total(await evaluate('icr-plan-updated'))).toEqual({ 'initial-population': 5, denominator: 5, numerator: 4, score: 0.8 });
  });

  it('chronic conditions per included patient: 1, 2, 1, 0, 0 (mean 0.8, median 1)', async () => {
    const r = await evaluate('icr-multimorbidity');
    expect(total(r, 0)).toMatchObject({ 'measure-population': 5, score: 0.8 });
    expect(total(r, 1).score).toBe(1);
    expect(stratum(r, 'chronic-conditions', '0')['measure-population']).toBe(2);
    expect(stratum(r, 'chronic-conditions', '1')['measure-population']).toBe(2);
    expect(stratum(r, 'chronic-conditions', '2')['measure-population']).toBe(1);
    expect(stratum(r, 'chronic-conditions', '4+')['measure-population']).toBe(0);
  });

  it('included patients with an active consent: P1 and P7 of 5', async () => {
    // P2 has none; P4's consent period ended in 2023; P5's consent denies.
    expect(total(await evaluate('icr-consent'))).toEqual({ 'initial-population': 5, denominator: 5, numerator: 2, score: 0.4 });
  });

  it('$indicators: every indicator for every consortium, as a Bundle and as one CSV table', async () => {
    const bundle = await api.get<Bundle<Report>>(`$indicators?${PERIOD}`);
    expect(bundle.status).toBe(200);
    expect(bundle.body).toMatchObject({ resourceType: 'Bundle', type: 'collection' });
    expect(bundle.body.entry).toHaveLength(INDICATORS.length * 2);
    const one = await api.get<Bundle<Report>>(`$indicators?${PERIOD}&consortium=Organization/${CONSORTIUM_A}&measure=icr-consent,icr-team-patient`);
    expect(one.body.entry!.map((e) => e.resource!.measure)).toEqual([
      'https://fhir.integrated-care.be/Measure/icr-consent|0.1.0',
      'https://fhir.integrated-care.be/Measure/icr-team-patient|0.1.0',
    ]);
    const csv = await rec.api.get(`/fhir/$indicators?${PERIOD}&consortium=${CONSORTIUM_A}`).set('Accept', 'text/csv');
    expect(csv.status).toBe(200);
    expect(csv.headers['content-type']).toMatch(/^text\/csv/);
    const lines = csv.text.trim().split('\r\n');
    expect(lines[0]).toBe('measure,title,consortium,consortium_name,period_start,period_end,stratifier,stratum,counted,denominator,numerator,score,median,score_unit,patients,suppressed');
    // A total row and one row per stratum (7 age bands, 4 sexes, and 5 condition counts for multimorbidity).
    expect(lines).toHaveLength(1 + INDICATORS.length * 12 + 5);
    expect(lines).toContain('icr-consent,Consent: included patients with an active consent,Organization/ind-cons-a,Consortium Leie,2024-01-01,2024-12-31,total,,patients,5,2,0.4,,proportion (0 to 1),5,false');
    const days = lines.find((l) => l.startsWith('icr-days-to-plan,') && l.includes(',total,'))!;
    expect(days).toContain(',3,,129.67,31,');
    // Dutch titles with Accept-Language.
    const nl = await rec.api.get(`/fhir/Measure/icr-consent/$evaluate-measure?${PERIOD}&subject=Organization/${CONSORTIUM_A}`).set('Accept', 'text/csv').set('Accept-Language', 'nl-BE');
    expect(nl.text).toContain('Toestemming: ingesloten patiënten met een actieve toestemming');
  });

  it('refuses what it cannot compute, with a clear OperationOutcome', async () => {
    const noPeriod = await api.get(`Measure/icr-consent/$evaluate-measure?subject=Organization/${CONSORTIUM_A}`);
    expect(noPeriod.status).toBe(400);
    expect(messages(noPeriod.body)).toMatch(/periodStart is required/);
    const backwards = await api.get(`Measure/icr-consent/$evaluate-measure?periodStart=2024-12-31&periodEnd=2024-01-01&subject=Organization/${CONSORTIUM_A}`);
    expect(backwards.status).toBe(400);
    expect((await api.get(`Measure/icr-consent/$evaluate-measure?${PERIOD}`)).status).toBe(400);
    expect((await api.get(`Measure/icr-consent/$evaluate-measure?${PERIOD}&subject=Organization/ind-p1`)).status).toBe(404);
    expect((await api.get(`Measure/nope/$evaluate-measure?${PERIOD}&subject=Organization/${CONSORTIUM_A}`)).status).toBe(404);
    expect((await api.get(`Measure/icr-consent/$evaluate-measure?${PERIOD}&subject=Organization/${CONSORTIUM_A}&reportType=subject`)).status).toBe(400);
    expect((await api.get(`Measure/icr-consent/$evaluate-measure?${PERIOD}&subject=Organization/${CONSORTIUM_A}&periodstart=2024`)).status).toBe(400);
    // XML is still refused; CSV only where an operation offers it.
    expect((await rec.api.get('/fhir/Patient/ind-p1').set('Accept', 'text/csv')).status).toBe(406);
    expect((await rec.api.get('/fhir/Measure/icr-consent').set('Accept', 'text/csv')).status).toBe(406);
  });

  it('users and patients cannot compute indicators; the Measures are readable by any token', async () => {
    const nurse = fhir(rec.as(await rec.token({ scope: 'user/*.rs', fhirUser: 'Practitioner/ind-nurse' })));
    const denied = await nurse.get(`Measure/icr-consent/$evaluate-measure?${PERIOD}&subject=Organization/${CONSORTIUM_A}`);
    expect(denied.status).toBe(403);
    expect((await nurse.get(`$indicators?${PERIOD}`)).status).toBe(403);
    const patient = fhir(rec.as(await rec.token({ scope: 'patient/*.rs', patient: 'ind-p1' })));
    expect((await patient.get(`$indicators?${PERIOD}`)).status).toBe(403);
    expect((await nurse.get('Measure/icr-consent')).status).toBe(200);
  });

  it('stays exact as the record changes: the projection follows every write, and a rebuild gives the same figures', async () => {
    const before = (await rec.api.get(`/fhir/$indicators?${PERIOD}`).set('Accept', 'text/csv')).text;
    // P7 gives a goal of their own: goals by the patient 3 of 5.
    const created = await api.post('Goal', { resourceType: 'Goal', lifecycleStatus: 'active', description: { text: 'x' }, subject: { reference: 'Patient/ind-p7' }, expressedBy: { reference: 'Patient/ind-p7' }, startDate: '2024-07-01' });
    expect(created.status).toBe(201);
    expect(total(await evaluate('icr-goals-patient'))).toMatchObject({ denominator: 5, numerator: 3 });
    expect((await api.delete(`Goal/${String(created.body.id)}`)).status).toBe(200);
    expect(total(await evaluate('icr-goals-patient'))).toMatchObject({ denominator: 4, numerator: 2 });
    // Rebuilding the projection from the stored resources (as migration 004 asks on an existing
    // database) gives the same table.
    await rec.runtime.db.query("INSERT INTO maintenance_task (name) VALUES ('rebuild-indicator-index')");
    expect(await rebuildIndicatorIndexIfAsked(rec.runtime.store, defaultRules().data)).toBe(true);
    const after = (await rec.api.get(`/fhir/$indicators?${PERIOD}`).set('Accept', 'text/csv')).text;
    expect(after).toBe(before);
  });
});
