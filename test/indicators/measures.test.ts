import type { Bundle, Measure } from 'fhir/r4.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { INDICATORS } from '../../src/indicators/definitions.js';
import { loadMeasures, staleMeasures } from '../../src/indicators/measures.js';
import { defaultProfilesDir } from '../../src/validation/profiles-loader.js';
import { createValidator } from '../../src/validation/index.js';
import { startTestRecord, type TestRecord } from '../support/harness.js';

const TRANSLATION = 'http://hl7.org/fhir/StructureDefinition/translation';

function translations(element: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  for (const t of (element as { extension?: { url: string; extension: { url: string; valueCode?: string; valueString?: string }[] }[] })?.extension ?? []) {
    if (t.url !== TRANSLATION) continue;
    out[t.extension.find((e) => e.url === 'lang')!.valueCode!] = t.extension.find((e) => e.url === 'content')!.valueString!;
  }
  return out;
}

describe('the indicators as Measures (profiles/)', () => {
  const measures = loadMeasures(defaultProfilesDir());

  it('has one Measure per indicator, committed as build-measures.ts writes it', () => {
    expect(measures.map((m) => m.id).sort()).toEqual(INDICATORS.map((i) => i.id).sort());
    expect(staleMeasures(defaultProfilesDir())).toEqual([]);
  });

  it('gives each Measure its title, description and definition in Dutch, French and English', () => {
    for (const m of measures as (Measure & Record<string, unknown>)[]) {
      expect(m.url).toBe(`https://fhir.integrated-care.be/Measure/${m.id}`);
      for (const [value, ext] of [
        [m.title, m._title],
        [m.description, m._description],
        [m.definition![0], (m._definition as unknown[])[0]],
      ] as const) {
        expect(value, m.id).toBeTruthy();
        const t = translations(ext);
        expect(Object.keys(t).sort(), m.id).toEqual(['fr', 'nl']);
        expect(t.nl).not.toBe(value);
        expect(t.fr).not.toBe(t.nl);
      }
      expect(m.scoring?.coding?.[0].code).toMatch(/^(proportion|ratio|continuous-variable)$/);
      for (const g of m.group!) {
        expect(g.stratifier!.map((s) => s.code!.text)).toEqual(expect.arrayContaining(['age-band', 'sex']));
        for (const p of g.population!) expect(translations((p as unknown as { _description: unknown })._description)).toHaveProperty('nl');
      }
    }
  });

  it('are valid FHIR R4 Measures', async () => {
    const validator = await createValidator({ requiredProfiles: {} });
    for (const m of measures) {
      const errors = validator.validate(m).filter((i) => i.severity === 'error' || i.severity === 'fatal');
      expect(errors, m.id).toEqual([]);
    }
  });
});

describe('the Measures over HTTP (read-only)', () => {
  let rec: TestRecord;
  beforeAll(async () => {
    rec = await startTestRecord('pglite');
  });
  afterAll(() => rec.close());

  it('reads and searches them; they cannot be written', async () => {
    const all = await rec.api.get('/fhir/Measure');
    expect(all.status).toBe(200);
    const bundle = JSON.parse(all.text) as Bundle;
    expect(bundle).toMatchObject({ type: 'searchset', total: INDICATORS.length });
    const byUrl = await rec.api.get('/fhir/Measure?url=https://fhir.integrated-care.be/Measure/icr-consent');
    expect((JSON.parse(byUrl.text) as Bundle).entry!.map((e) => e.resource!.id)).toEqual(['icr-consent']);
    const one = await rec.api.get('/fhir/Measure/icr-team-gp-nurse');
    expect(one.status).toBe(200);
    expect(JSON.parse(one.text)).toMatchObject({ resourceType: 'Measure', id: 'icr-team-gp-nurse', status: 'active' });
    expect((await rec.api.get('/fhir/Measure/nope')).status).toBe(404);
    const put = await rec.api.put('/fhir/Measure/icr-consent').set('Content-Type', 'application/fhir+json').send('{"resourceType":"Measure","id":"icr-consent","status":"draft"}');
    expect(put.status).toBe(405);
    expect((await rec.api.get('/fhir/Measure/icr-consent/_history')).status).toBe(404);
    expect((await rec.anonymous.get('/fhir/Measure')).status).toBe(401);
    // An evaluation token reads them (they are no one's data).
    const evaluation = rec.as(await rec.token({ scope: 'system/*.rs', roles: ['evaluation'] }));
    expect((await evaluation.get('/fhir/Measure/icr-consent')).status).toBe(200);
  });

  it('lists them in the CapabilityStatement with $evaluate-measure, and $indicators and $export at the system level', async () => {
    const cs = JSON.parse((await rec.anonymous.get('/fhir/metadata')).text);
    const measure = cs.rest[0].resource.find((r: { type: string }) => r.type === 'Measure');
    expect(measure.operation.map((o: { name: string }) => o.name)).toEqual(['evaluate-measure']);
    const system = cs.rest[0].operation.map((o: { name: string }) => o.name);
    expect(system).toEqual(expect.arrayContaining(['indicators', 'export', 'export-poll-status', 'export-file']));
    const group = cs.rest[0].resource.find((r: { type: string }) => r.type === 'Group');
    expect(group.operation.map((o: { name: string }) => o.name)).toContain('export');
  });
});
