import { beforeAll, describe, expect, it } from 'vitest';
import type { ResourceValidator } from '../../src/validation/index.js';
import { div, EXTRA_PROFILES, expectIssue, relevant, validator } from './helpers.js';

/**
 * Extensions, and the kinds of slicing and constraints the ICR profiles do not use, through the
 * test profiles in fixtures/extra-profiles (differentials only: their snapshots are generated when
 * the validator starts).
 */

let v: ResourceValidator;
let extra: ResourceValidator;
beforeAll(async () => {
  v = await validator();
  extra = await validator({ profilesDir: EXTRA_PROFILES, requiredProfiles: {} });
});

const base = (r: unknown) => v.validate(r, { baseOnly: true });
const T = 'https://test.integrated-care.be/StructureDefinition/';

describe('extensions', () => {
  it('accepts a known extension used as defined', () => {
    const issues = base({ resourceType: 'Patient', text: div(), extension: [{ url: 'http://hl7.org/fhir/StructureDefinition/patient-birthPlace', valueAddress: { city: 'Brugge', country: 'BE' } }] });
    expect(relevant(issues)).toEqual([]);
  });

  it('refuses a value type the extension definition does not allow', () => {
    const issues = base({ resourceType: 'Patient', text: div(), extension: [{ url: 'http://hl7.org/fhir/StructureDefinition/patient-birthPlace', valueString: 'Brugge' }] });
    expectIssue(issues, 'error', 'structure', 'Patient.extension[0].value.ofType(string)', /type string is not allowed by Birth Place; allowed: Address/);
    expect(issues).toHaveLength(1);
  });

  it('checks the parts of a complex core extension', () => {
    const issues = base({
      resourceType: 'Patient',
      text: div(),
      extension: [{ url: 'http://hl7.org/fhir/StructureDefinition/patient-nationality', extension: [{ url: 'code', valueString: 'BE' }] }],
    });
    expectIssue(issues, 'error', 'structure', 'Patient.extension[0].extension[0].value.ofType(string)', /not allowed by nationality; allowed: CodeableConcept/);
  });

  it('checks the binding of an extension value', () => {
    const issues = base({ resourceType: 'Patient', text: div(), _gender: { extension: [{ url: 'http://hl7.org/fhir/StructureDefinition/data-absent-reason', valueCode: 'forgotten' }] } });
    expectIssue(issues, 'error', 'code-invalid', 'Patient.gender.extension[0].value.ofType(code)', /'forgotten' is not in the value set DataAbsentReason/);
  });

  it('warns about an unknown extension and does not refuse it', () => {
    const issues = base({ resourceType: 'Patient', text: div(), extension: [{ url: 'https://gp-software.example.be/fhir/patient-flag', valueBoolean: true }] });
    expectIssue(issues, 'warning', 'extension', 'Patient.extension[0]', /the extension https:\/\/gp-software.example.be\/fhir\/patient-flag is unknown/);
    expect(issues).toHaveLength(1);
  });

  it('refuses an unknown modifier extension (it may change the meaning)', () => {
    const issues = base({ resourceType: 'Patient', text: div(), modifierExtension: [{ url: 'https://gp-software.example.be/fhir/not-really', valueBoolean: true }] });
    expectIssue(issues, 'error', 'extension', 'Patient.modifierExtension[0]', /modifier extension .* is unknown/);
  });

  it('ext-1: an extension has a value or nested extensions, not both', () => {
    const issues = base({ resourceType: 'Patient', text: div(), extension: [{ url: 'https://example.org/x', valueBoolean: true, extension: [{ url: 'a', valueString: 'b' }] }] });
    expectIssue(issues, 'error', 'invariant', 'Patient.extension[0]', /either a value\[x\] or nested extensions/);
  });

  it('requires an absolute url on a top-level extension', () => {
    const issues = base({ resourceType: 'Patient', text: div(), extension: [{ url: 'flag', valueBoolean: true }] });
    expectIssue(issues, 'error', 'structure', 'Patient.extension[0].url', /must be an absolute URL/);
  });

  it('warns about an extension used outside its declared context', () => {
    const issues = base({ resourceType: 'Practitioner', text: div(), extension: [{ url: 'http://hl7.org/fhir/StructureDefinition/patient-birthPlace', valueAddress: { city: 'Brugge' } }] });
    expectIssue(issues, 'warning', 'extension', 'Practitioner.extension[0]', /patient-birthPlace may not be used here; it is defined for Patient/);
  });

  it('accepts an extension in its context deep in data types, on primitives and in repeated backbone elements', () => {
    const issues = base({
      resourceType: 'Patient',
      text: div(),
      contact: [{ name: { family: 'Dupont', _family: { extension: [{ url: 'http://hl7.org/fhir/StructureDefinition/humanname-own-prefix', valueString: 'van' }] } } }],
    });
    expect(relevant(issues)).toEqual([]);
    const plan = base({
      resourceType: 'PlanDefinition',
      text: div(),
      name: 'CarePathway',
      status: 'draft',
      action: [{ title: 'a', action: [{ title: 'b', extension: [{ url: 'http://hl7.org/fhir/StructureDefinition/timing-daysOfCycle', extension: [{ url: 'day', valueInteger: 1 }] }] }] }],
    });
    expect(relevant(plan)).toEqual([]);
  });

  it('requires the url of an extension', () => {
    const issues = base({ resourceType: 'Patient', text: div(), extension: [{ valueBoolean: true }] });
    expectIssue(issues, 'error', 'required', 'Patient.extension[0].url', /'url' is required/);
  });
});

type Strict = Record<string, unknown> & { identifier: Array<Record<string, unknown>>; extension?: unknown[] };

describe('slicing and constraints through test profiles', () => {
  const strict = (): Strict => ({
    resourceType: 'Patient',
    meta: { profile: [T + 'test-patient-strict'] },
    text: div(),
    extension: [{ url: T + 'test-care-level', extension: [{ url: 'score', valueInteger: 4 }, { url: 'scale', valueCode: 'male' }] }],
    identifier: [
      { system: 'https://hospital.example.be/mrn', value: '1' },
      { system: 'https://www.ehealth.fgov.be/standards/fhir/core/NamingSystem/ssin', value: '85073003328' },
    ],
    active: true,
    name: [{ family: 'Peeters' }],
    telecom: [{ system: 'phone', value: '+32 9 123 45 67' }],
    maritalStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-MaritalStatus', code: 'M' }] },
  });

  it('accepts a conformant resource (snapshots generated at start-up from differentials)', () => {
    expect(extra.validate(strict())).toEqual([]);
  });

  it('closed slicing: refuses an item that matches no slice', () => {
    const p = strict();
    p.identifier.push({ system: 'https://other.example.be', value: '2' });
    expectIssue(extra.validate(p), 'error', 'structure', 'Patient.identifier[2]', /matches none of the slices mrn, ssin, and the slicing by TestPatientStrict is closed/);
  });

  it('ordered slicing: refuses slices out of order', () => {
    const p = strict();
    p.identifier.reverse();
    expectIssue(extra.validate(p), 'error', 'structure', 'Patient.identifier[1]', /matches slice 'mrn' but comes after items of a later slice/);
  });

  it('slice cardinality: a required slice is missing', () => {
    const p = strict();
    p.identifier = [p.identifier[1]];
    expectIssue(extra.validate(p), 'error', 'required', 'Patient.identifier', /at least 1 'identifier' matching slice 'mrn'/);
  });

  it('fixed value', () => {
    const p = strict();
    p.active = false;
    expectIssue(extra.validate(p), 'error', 'value', 'Patient.active', /the value false differs from the fixed value true by TestPatientStrict/);
  });

  it('pattern value', () => {
    const p = strict();
    p.maritalStatus = { coding: [{ system: 'http://example.org/civil', code: 'M' }] };
    expectIssue(extra.validate(p), 'error', 'value', 'Patient.maritalStatus', /does not match the pattern/);
  });

  it('maxLength', () => {
    const p = strict();
    p.name = [{ family: 'Vandenbroucke-Van Den Bossche' }];
    expectIssue(extra.validate(p), 'error', 'value', 'Patient.name[0].family', /at most 20 are allowed/);
  });

  it('a choice element restricted to one type', () => {
    const p = strict();
    p.deceasedDateTime = '2026-01-01';
    expectIssue(extra.validate(p), 'error', 'structure', 'Patient.deceased.ofType(dateTime)', /type dateTime is not allowed by TestPatientStrict; allowed: boolean/);
  });

  it('an element the profile prohibits (max 0)', () => {
    const p = strict();
    p.contact = [{ name: { text: 'Els' } }];
    expectIssue(extra.validate(p), 'error', 'structure', 'Patient.contact', /'contact' is not allowed by TestPatientStrict/);
  });

  it('exists discriminator', () => {
    const p = strict();
    p.telecom = [{ system: 'phone', value: '1', period: { start: '2020-01-01' } }];
    expectIssue(extra.validate(p), 'error', 'required', 'Patient.telecom', /at least 1 'telecom' matching slice 'current'/);
  });

  it('a required extension slice (type profile)', () => {
    const p = strict();
    delete p.extension;
    expectIssue(extra.validate(p), 'error', 'required', 'Patient.extension', /at least 1 'extension' matching slice 'careLevel'/);
  });

  it('a complex extension: closed parts, minValue/maxValue, binding', () => {
    const p = strict();
    p.extension = [{ url: T + 'test-care-level', extension: [{ url: 'score', valueInteger: 11 }, { url: 'grade', valueString: 'x' }, { url: 'scale', valueCode: 'x' }] }];
    const issues = extra.validate(p);
    expectIssue(issues, 'error', 'value', 'Patient.extension[0].extension[0].value.ofType(integer)', /11 is above the maximum 10 by TestCareLevel/);
    expectIssue(issues, 'error', 'structure', 'Patient.extension[0].extension[1]', /matches none of the slices score, scale/);
    expectIssue(issues, 'error', 'code-invalid', 'Patient.extension[0].extension[2].value.ofType(code)', /'x' is not in the value set AdministrativeGender by TestCareLevel/);
  });

  it('a complex extension misses a required part', () => {
    const p = strict();
    p.extension = [{ url: T + 'test-care-level', extension: [{ url: 'scale', valueCode: 'male' }] }];
    expectIssue(extra.validate(p), 'error', 'required', 'Patient.extension[0].extension', /at least 1 'extension' matching slice 'score'/);
  });

  const obs = (extraProps: Record<string, unknown>) => ({
    resourceType: 'Observation',
    meta: { profile: [T + 'test-observation-vitals'] },
    text: div(),
    status: 'final',
    code: { text: 'blood pressure' },
    subject: { reference: 'Patient/1' },
    component: [{ code: { coding: [{ system: 'http://loinc.org', code: '8480-6' }] }, valueQuantity: { value: 120, system: 'http://unitsofmeasure.org', code: 'mm[Hg]' } }],
    ...extraProps,
  });

  it('type slicing on a choice element, with minValue/maxValue and fixed values in the slice', () => {
    expect(extra.validate(obs({ valueQuantity: { value: 80, system: 'http://unitsofmeasure.org', code: 'mm[Hg]' } }))).toEqual([]);
    const issues = extra.validate(obs({ valueQuantity: { value: 400, system: 'http://other', code: 'mm' } }));
    expectIssue(issues, 'error', 'value', 'Observation.value.ofType(Quantity).value', /400 is above the maximum 300/);
    expectIssue(issues, 'error', 'value', 'Observation.value.ofType(Quantity).system', /differs from the fixed value "http:\/\/unitsofmeasure.org"/);
  });

  it('a choice type outside the profile, and closed type slicing', () => {
    const issues = extra.validate(obs({ valueBoolean: true }));
    expectIssue(issues, 'error', 'structure', 'Observation.value.ofType(boolean)', /type boolean is not allowed by TestObservationVitals; allowed: Quantity, string/);
    const str = extra.validate(obs({ valueString: 'high' }));
    expectIssue(str, 'error', 'structure', 'Observation.value.ofType(string)', /matches none of the slices valueQuantity/);
  });

  it('pattern discriminator on a CodeableConcept', () => {
    const issues = extra.validate(obs({ component: [{ code: { coding: [{ system: 'http://loinc.org', code: '8462-4' }] }, valueQuantity: { value: 80 } }] }));
    expectIssue(issues, 'error', 'required', 'Observation.component', /at least 1 'component' matching slice 'systolic'/);
  });

  it('a reference target narrowed by the profile', () => {
    const issues = extra.validate(obs({ subject: { reference: 'Group/1' } }));
    expectIssue(issues, 'error', 'structure', 'Observation.subject', /Group is not allowed here by TestObservationVitals; allowed: Patient/);
  });
});
