import type { MeasureReport, MeasureReportGroupPopulation } from 'fhir/r4.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS, startTestRecord, type TestRecord } from '../support/harness.js';

/**
 * Small-cell suppression for evaluation tokens, on a population made for it: 15 patients of one
 * consortium with a care plan in 2024, each with a care team (patient, GP, nurse) and 12 with a
 * consent.
 *   age on 31 Dec 2024: 7 in 75-84, 6 in 65-74, 2 in 45-64;   sex: 8 female, 7 male.
 * Reach: 15 patients (shown). Age: 45-64 has 2 (masked); being the only masked band, it could be
 * recovered as 15 - 7 - 6, so the next smallest band, 65-74 (6), is masked too; 75-84 (7) is shown.
 * Sex: 8 and 7, both shown.
 * Consent: 12 of 15 have one, 3 do not: the 3 could be read off as denominator minus numerator, so
 * the whole report is masked. A system token sees every figure.
 */
const PERIOD = 'periodStart=2024-01-01&periodEnd=2024-12-31';
const HCP = 'https://www.ehealth.fgov.be/standards/fhir/core/CodeSystem/cd-hcparty';

function bundle(): Record<string, unknown> {
  const entries: Record<string, unknown>[] = [
    {
      resourceType: 'Organization',
      id: 'sup-cons',
      active: true,
      name: 'Consortium Gent',
      type: [{ coding: [{ system: 'https://fhir.integrated-care.be/CodeSystem/icr-hcparty', code: 'orgconsortium' }] }],
      extension: [{ url: 'https://fhir.integrated-care.be/StructureDefinition/icr-region-municipality', valueCoding: { system: 'https://fhir.integrated-care.be/CodeSystem/refnis', version: '2020', code: '44021' } }],
    },
    { resourceType: 'Practitioner', id: 'sup-gp', name: [{ family: 'Arts' }] },
    { resourceType: 'Practitioner', id: 'sup-nurse', name: [{ family: 'Verpleger' }] },
  ];
  for (let i = 0; i < 15; i++) {
    const id = `sup-p${i}`;
    const birthDate = i < 7 ? '1945-06-01' : i < 13 ? '1955-06-01' : '1970-06-01';
    entries.push({ resourceType: 'Patient', id, gender: i < 8 ? 'female' : 'male', birthDate, address: [{ use: 'home', city: 'Gent', postalCode: '9000' }] });
    entries.push({
      resourceType: 'CareTeam',
      id: `sup-t${i}`,
      status: 'active',
      subject: { reference: `Patient/${id}` },
      period: { start: '2024-01-01' },
      participant: [
        { role: [{ coding: [{ system: HCP, code: 'patient' }] }], member: { reference: `Patient/${id}` } },
        { role: [{ coding: [{ system: HCP, code: 'persgeneralphysician' }] }], member: { reference: 'Practitioner/sup-gp' } },
        { role: [{ coding: [{ system: HCP, code: 'persnurse' }] }], member: { reference: 'Practitioner/sup-nurse' } },
      ],
    });
    entries.push({ resourceType: 'CarePlan', id: `sup-cp${i}`, status: 'active', intent: 'plan', subject: { reference: `Patient/${id}` }, period: { start: '2024-02-01' }, careTeam: [{ reference: `CareTeam/sup-t${i}` }] });
    if (i >= 3) {
      entries.push({
        resourceType: 'Consent',
        id: `sup-consent${i}`,
        status: 'active',
        scope: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/consentscope', code: 'patient-privacy' }] },
        category: [{ coding: [{ system: 'http://loinc.org', code: '59284-0' }] }],
        patient: { reference: `Patient/${id}` },
        dateTime: '2024-02-01',
        policyRule: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'OPTIN' }] },
      });
    }
  }
  return { resourceType: 'Bundle', type: 'transaction', entry: entries.map((r) => ({ resource: r, request: { method: 'PUT', url: `${String(r.resourceType)}/${String(r.id)}` } })) };
}

type Population = MeasureReportGroupPopulation & { _count?: { extension?: { url: string; valueCode: string }[] } };

const masked = (p: Population | undefined) => p?.count === undefined && p?._count?.extension?.[0]?.valueCode === 'masked' && p._count.extension[0].url === 'http://hl7.org/fhir/StructureDefinition/data-absent-reason';

function cell(report: MeasureReport, stratifier?: string, value?: string) {
  const g = report.group![0];
  const target = stratifier ? g.stratifier!.find((s) => s.code![0].text === stratifier)!.stratum!.find((s) => s.value!.text === value)! : g;
  const pops = (target.population ?? []) as Population[];
  const get = (code: string) => pops.find((p) => p.code!.coding![0].code === code);
  return { get, score: target.measureScore };
}

describe.each(BACKENDS)('small-cell suppression on %s', (backend) => {
  let rec: TestRecord;
  beforeAll(async () => {
    rec = await startTestRecord(backend, { validation: 'base', writeChecks: [] });
    const res = await rec.api.post('/fhir').set('Content-Type', 'application/fhir+json').send(JSON.stringify(bundle()));
    expect(res.status, res.text.slice(0, 500)).toBe(200);
  });
  afterAll(() => rec.close());

  const evaluate = async (token: string, measure: string) => {
    const res = await rec.as(token).get(`/fhir/Measure/${measure}/$evaluate-measure?${PERIOD}&subject=Organization/sup-cons`);
    expect(res.status, res.text).toBe(200);
    return JSON.parse(res.text) as MeasureReport;
  };

  it('masks strata of fewer than 5 patients, and the next smallest when one masked stratum could be derived', async () => {
    const token = await rec.token({ scope: 'system/*.rs', roles: ['evaluation'], clientId: 'eval' });
    const r = await evaluate(token, 'icr-reach-per-1000');
    expect(cell(r).get('numerator')!.count).toBe(15);
    expect(cell(r).score?.value).toBeGreaterThan(0);
    expect(masked(cell(r, 'age-band', '45-64').get('numerator'))).toBe(true);
    expect(masked(cell(r, 'age-band', '65-74').get('numerator'))).toBe(true);
    expect(cell(r, 'age-band', '75-84').get('numerator')!.count).toBe(7);
    // Empty bands give nothing away.
    expect(cell(r, 'age-band', '0-17').get('numerator')!.count).toBe(0);
    expect(cell(r, 'sex', 'female').get('numerator')!.count).toBe(8);
    expect(cell(r, 'sex', 'male').get('numerator')!.count).toBe(7);
    expect(r.text?.div).toContain('fewer than 5 patients');

    const gpNurse = await evaluate(token, 'icr-team-gp-nurse');
    // 15 of 15 teams: no complement to protect; the 45-64 band (2 patients) is masked with its score.
    expect(cell(gpNurse).get('numerator')!.count).toBe(15);
    const band = cell(gpNurse, 'age-band', '45-64');
    expect(masked(band.get('denominator')) && masked(band.get('numerator'))).toBe(true);
    expect(band.score?.value).toBeUndefined();
    expect(JSON.stringify(band.score)).toContain('masked');
  });

  it('masks a total whose complement is small: 3 patients without consent', async () => {
    const token = await rec.token({ scope: 'system/*.rs', roles: ['evaluation'], clientId: 'eval' });
    const r = await evaluate(token, 'icr-consent');
    expect(masked(cell(r).get('denominator'))).toBe(true);
    expect(masked(cell(r).get('numerator'))).toBe(true);
    expect(r.group![0].measureScore?.value).toBeUndefined();
    expect(masked(cell(r, 'sex', 'female').get('numerator'))).toBe(true);
    const csv = await rec.as(token).get(`/fhir/$indicators?${PERIOD}&measure=icr-consent`).set('Accept', 'text/csv');
    const total = csv.text.split('\r\n').find((l) => l.includes(',total,'))!;
    expect(total.endsWith(',true')).toBe(true);
    expect(total).not.toContain(',12,');
  });

  it('shows every figure to a backend system token', async () => {
    const token = await rec.token({ scope: 'system/*.rs', clientId: 'backend' });
    const r = await evaluate(token, 'icr-consent');
    expect(cell(r).get('numerator')!.count).toBe(12);
    expect(r.group![0].measureScore?.value).toBe(0.8);
    const reach = await evaluate(token, 'icr-reach-per-1000');
    expect(cell(reach, 'age-band', '45-64').get('numerator')!.count).toBe(2);
    expect(reach.text).toBeUndefined();
  });
});
