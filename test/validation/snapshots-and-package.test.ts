import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CodeSystem, StructureDefinition, ValueSet } from 'fhir/r4.js';
import { describe, expect, it } from 'vitest';
import { staleProfiles } from '../../src/validation/build-profiles.js';
import { PROFILE_BASE_URL } from '../../src/validation/index.js';
import { defaultProfilesDir, loadRegistry, readPackageFolder } from '../../src/validation/profiles-loader.js';
import { generateSnapshot } from '../../src/validation/snapshot.js';
import { isValidSsin, ssinKind } from '../../src/validation/ssin.js';
import { Terminology } from '../../src/validation/terminology.js';

const dir = defaultProfilesDir();

describe('the profiles/ package', () => {
  it('is an npm-style FHIR package with our canonical base', () => {
    const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
    expect(pkg).toMatchObject({ name: 'be.integrated-care.icr', version: '0.1.0', fhirVersions: ['4.0.1'], canonical: PROFILE_BASE_URL, dependencies: { 'hl7.fhir.r4.core': '4.0.1' } });
    expect(PROFILE_BASE_URL).toBe('https://fhir.integrated-care.be');
  });

  it('has committed snapshots that match their differentials (run src/validation/build-profiles.ts after editing)', () => {
    expect(staleProfiles(dir)).toEqual([]);
  });

  it('gives every profile of ours a differential and a snapshot, under our canonical base', () => {
    const ours = readPackageFolder(dir).filter((r): r is StructureDefinition => r.resourceType === 'StructureDefinition' && r.url.startsWith(PROFILE_BASE_URL));
    expect(ours.map((p) => p.id).sort()).toEqual(
      ['icr-careplan', 'icr-careteam', 'icr-consent', 'icr-consortium-call', 'icr-goal', 'icr-organization', 'icr-organizationaffiliation', 'icr-patient', 'icr-practitioner', 'icr-practitionerrole', 'icr-region-municipality', 'icr-relatedperson'].sort(),
    );
    for (const p of ours) {
      expect(p.url).toBe(`${PROFILE_BASE_URL}/StructureDefinition/${p.id}`);
      expect(p.differential?.element.length, p.id).toBeGreaterThan(1);
      expect(p.snapshot?.element.length, p.id).toBeGreaterThan(p.differential!.element.length);
      expect(p.fhirVersion).toBe('4.0.1');
    }
  });

  it('derives CareTeam, CarePlan and Goal from HL7 Belgium', () => {
    const byId = new Map(readPackageFolder(dir).map((r) => [r.id, r]));
    const be = 'https://www.ehealth.fgov.be/standards/fhir/patient-care/StructureDefinition/';
    expect((byId.get('icr-careteam') as StructureDefinition).baseDefinition).toBe(be + 'be-careteam');
    expect((byId.get('icr-careplan') as StructureDefinition).baseDefinition).toBe(be + 'be-care-plan');
    expect((byId.get('icr-goal') as StructureDefinition).baseDefinition).toBe(be + 'be-goal');
  });

  it('keeps the CD-HCPARTY URLs and adds the local codes in three languages', () => {
    const resources = readPackageFolder(dir);
    const hcparty = resources.find((r) => r.url === 'https://www.ehealth.fgov.be/standards/fhir/core/CodeSystem/cd-hcparty') as CodeSystem;
    expect(hcparty.concept?.some((c) => c.code === 'perscaregiver')).toBe(true);
    const local = resources.find((r) => r.url === `${PROFILE_BASE_URL}/CodeSystem/icr-hcparty`) as CodeSystem;
    const codes = local.concept!.map((c) => c.code);
    for (const code of ['casemanager', 'carecoordinator', 'orghomecare', 'orgsel', 'orglmn', 'orgggznetwork', 'orglogo', 'orgpatientassociation', 'orgcaregiverassociation', 'orgconsultationstructure', 'orgconsortium']) {
      expect(codes).toContain(code);
    }
    // Nothing CD-HCPARTY already has is duplicated locally.
    const hcCodes = new Set(hcparty.concept!.map((c) => c.code));
    expect(codes.filter((c) => hcCodes.has(c))).toEqual([]);
    for (const c of local.concept!) {
      expect(c.designation?.map((d) => d.language?.slice(0, 2)).sort(), c.code).toEqual(['en', 'fr', 'nl']);
    }
  });

  it('expands our value sets from the code systems in the package', () => {
    const t = new Terminology(loadRegistry(dir));
    const roles = t.valueSet(`${PROFILE_BASE_URL}/ValueSet/icr-careteam-role`)!;
    expect(roles.size).toBe(241 + 14);
    expect(roles.codes.has('perscaregiver') && roles.codes.has('patient') && roles.codes.has('casemanager')).toBe(true);
    const orgTypes = t.valueSet(`${PROFILE_BASE_URL}/ValueSet/icr-organization-type`)!;
    expect(orgTypes.codes.has('orghospital') && orgTypes.codes.has('orgsel')).toBe(true);
    expect(orgTypes.codes.has('persnurse')).toBe(false);
    const ssin = t.valueSet(`${PROFILE_BASE_URL}/ValueSet/icr-ssin-system`) as unknown as ValueSet & { codes: Set<string> };
    expect([...ssin.codes].sort()).toEqual(['https://www.ehealth.fgov.be/standards/fhir/NamingSystem/ssin', 'https://www.ehealth.fgov.be/standards/fhir/core/NamingSystem/ssin']);
  });
});

describe('snapshot generation', () => {
  const registry = loadRegistry(dir);
  const resolve = (url: string) => registry.structure(url);

  it('adds a slice after the sliced element and expands the data type under it', () => {
    const profile: StructureDefinition = {
      resourceType: 'StructureDefinition',
      url: 'https://test.example/StructureDefinition/p',
      name: 'P',
      status: 'draft',
      kind: 'resource',
      abstract: false,
      type: 'Patient',
      baseDefinition: 'http://hl7.org/fhir/StructureDefinition/Patient',
      derivation: 'constraint',
      differential: {
        element: [
          { id: 'Patient.identifier', path: 'Patient.identifier', slicing: { discriminator: [{ type: 'value', path: 'system' }], rules: 'open' } },
          { id: 'Patient.identifier:mrn', path: 'Patient.identifier', sliceName: 'mrn', max: '1' },
          { id: 'Patient.identifier:mrn.system', path: 'Patient.identifier.system', fixedUri: 'https://h.example/mrn' },
          { id: 'Patient.name.family', path: 'Patient.name.family', min: 1 },
        ],
      },
    };
    const elements = generateSnapshot(profile, resolve);
    const ids = elements.map((e) => e.id);
    const at = (id: string) => elements[ids.indexOf(id)];
    expect(ids.indexOf('Patient.identifier:mrn')).toBeGreaterThan(ids.indexOf('Patient.identifier'));
    expect(ids.indexOf('Patient.identifier:mrn')).toBeLessThan(ids.indexOf('Patient.active'));
    expect(at('Patient.identifier:mrn')).toMatchObject({ path: 'Patient.identifier', sliceName: 'mrn', min: 0, max: '1' });
    expect(at('Patient.identifier:mrn').slicing).toBeUndefined();
    expect(at('Patient.identifier:mrn.system')).toMatchObject({ path: 'Patient.identifier.system', fixedUri: 'https://h.example/mrn', base: { path: 'Identifier.system' } });
    expect(at('Patient.name.family')).toMatchObject({ min: 1, base: { path: 'HumanName.family' } });
    expect(at('Patient.identifier').slicing?.rules).toBe('open');
  });

  it('keeps the base invariants and adds new ones', () => {
    const sd = registry.structure(`${PROFILE_BASE_URL}/StructureDefinition/icr-careplan`)!;
    const root = sd.snapshot!.element[0];
    expect(root.constraint!.map((c) => c.key)).toEqual(expect.arrayContaining(['dom-2', 'dom-6', 'icr-cpl-1']));
  });

  it('fails loudly on an element that does not exist', () => {
    expect(() =>
      generateSnapshot(
        {
          resourceType: 'StructureDefinition',
          url: 'https://test.example/x',
          name: 'X',
          status: 'draft',
          kind: 'resource',
          abstract: false,
          type: 'Patient',
          baseDefinition: 'http://hl7.org/fhir/StructureDefinition/Patient',
          derivation: 'constraint',
          differential: { element: [{ id: 'Patient.nickname', path: 'Patient.nickname', min: 1 }] },
        },
        resolve,
      ),
    ).toThrow(/Patient.nickname/);
  });
});

describe('SSIN check digits', () => {
  it.each([
    ['85073003328', true, 'born before 2000'],
    ['03100516541', true, 'born from 2000 (the 2 prefix)'],
    ['85273003371', true, 'a BIS number (month + 20)'],
    ['85473003317', true, 'a BIS number (month + 40)'],
    ['79121137740', false, 'the HL7 Belgium example'],
    ['85073003329', false, 'one digit off'],
    ['8507300332', false, 'ten digits'],
  ])('%s is %s (%s)', (value, valid) => {
    expect(isValidSsin(value)).toBe(valid);
  });

  it('tells SSIN and BIS numbers apart', () => {
    expect(ssinKind('85073003328')).toBe('ssin');
    expect(ssinKind('85273003371')).toBe('bis-sex-unknown');
    expect(ssinKind('85473003317')).toBe('bis-sex-known');
    expect(ssinKind('85993003355')).toBeUndefined();
  });
});
