import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, ConfigError } from '../../src/config.js';
import { BACKENDS, startTestRecord, type TestRecord } from '../support/harness.js';
import { fhir, messages, type Fhir } from '../support/fhir-client.js';

const SSIN = 'https://www.ehealth.fgov.be/standards/fhir/core/NamingSystem/ssin';
const patient = (extra: Record<string, unknown> = {}) => ({
  resourceType: 'Patient',
  identifier: [{ system: SSIN, value: '48041201777' }],
  name: [{ family: 'Peeters', given: ['Jan'] }],
  gender: 'male',
  birthDate: '1948-04-12',
  ...extra,
});

describe.each(BACKENDS)('validation on write and $validate, with our profiles, on %s', (backend) => {
  let rec: TestRecord;
  let api: Fhir;
  beforeAll(async () => {
    rec = await startTestRecord(backend);
    api = fhir(rec.api);
  });
  afterAll(() => rec.close());

  it('refuses a write that breaks our profile with 422, naming every problem', async () => {
    const res = await api.post('Patient', { resourceType: 'Patient', gender: 'mail' });
    expect(res.status).toBe(422);
    const text = messages(res.body);
    expect(text).toMatch(/error\|.*\|Patient\.gender\|/);
    expect(text).toMatch(/error\|required\|Patient\.birthDate\|.*ICR Patient/);
    expect(text).toMatch(/error\|required\|Patient\.name\|/);
  });

  it('answers in Dutch or French when asked', async () => {
    const nl = await api.post('Patient', { ...patient(), gender: 'mail' }, { 'Accept-Language': 'nl-BE' });
    const fr = await api.post('Patient', { ...patient(), gender: 'mail' }, { 'Accept-Language': 'fr-BE,fr;q=0.9' });
    expect(messages(nl.body)).not.toBe(messages(fr.body));
    expect(messages(nl.body)).toMatch(/waardenverzameling|waarde|niet/i);
    expect(messages(fr.body)).toMatch(/valeurs|n'est pas|ne fait pas/i);
  });

  it('stores a write with warnings and reports them (a bad SSIN check digit)', async () => {
    const res = await api.post('Patient', patient({ identifier: [{ system: SSIN, value: '79121137740' }] }));
    expect(res.status).toBe(201);
    expect(res.headers['x-fhir-request-validation']).toMatch(/warning Patient\.identifier\[0\]: .*SSIN check digits/);
    const full = await api.post('Patient', patient({ identifier: [{ system: SSIN, value: '79121137740' }] }), { Prefer: 'return=OperationOutcome' });
    expect(messages(full.body)).toMatch(/warning\|invariant\|Patient\.identifier\[0\]\|/);
  });

  it('does not report missing narrative on writes, but $validate does', async () => {
    const res = await api.post('Patient', patient());
    expect(res.status).toBe(201);
    expect(res.headers['x-fhir-request-validation']).toBeUndefined();
    const v = await api.post('Patient/$validate', patient());
    expect(messages(v.body)).toMatch(/dom-6/);
  });

  it('validates against an extra profile given to $validate', async () => {
    const res = await api.post('Patient/$validate', {
      resourceType: 'Parameters',
      parameter: [
        { name: 'resource', resource: { resourceType: 'Patient', gender: 'male' } },
        { name: 'profile', valueUri: 'https://fhir.integrated-care.be/StructureDefinition/icr-patient' },
      ],
    });
    expect(res.status).toBe(200);
    expect(messages(res.body)).toMatch(/error\|required\|Patient\.birthDate/);
    const unknown = await api.post('Patient/$validate?profile=https://example.org/StructureDefinition/nope', patient());
    expect(messages(unknown.body)).toMatch(/error\|.*nope/);
  });

  it('lists our profiles in the CapabilityStatement', async () => {
    const cs = await api.get<{ rest: { resource: { type: string; supportedProfile?: string[] }[] }[] }>('metadata');
    const careTeam = cs.body.rest[0].resource.find((r) => r.type === 'CareTeam')!;
    expect(careTeam.supportedProfile).toContain('https://fhir.integrated-care.be/StructureDefinition/icr-careteam');
  });
});

describe('REQUIRED_PROFILES', () => {
  it('chooses the profiles a write must meet, or none', async () => {
    expect(loadConfig({ REQUIRED_PROFILES: 'none' }).requiredProfiles).toEqual({});
    expect(loadConfig({ REQUIRED_PROFILES: 'Patient=https://fhir.integrated-care.be/StructureDefinition/icr-patient' }).requiredProfiles).toEqual({
      Patient: ['https://fhir.integrated-care.be/StructureDefinition/icr-patient'],
    });
    expect(() => loadConfig({ REQUIRED_PROFILES: 'Patient:icr' })).toThrow(ConfigError);
    const rec = await startTestRecord('pglite', { config: { requiredProfiles: {} } });
    try {
      expect((await fhir(rec.api).post('Patient', { resourceType: 'Patient' })).status).toBe(201);
    } finally {
      await rec.close();
    }
    await expect(startTestRecord('pglite', { config: { requiredProfiles: { Patient: ['https://example.org/StructureDefinition/missing'] } } })).rejects.toThrow(/REQUIRED_PROFILES/);
  });
});
