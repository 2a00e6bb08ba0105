import { beforeAll, describe, expect, it } from 'vitest';
import type { ResourceValidator } from '../../src/validation/index.js';
import { Registry } from '../../src/validation/registry.js';
import { Terminology } from '../../src/validation/terminology.js';
import { div, expectIssue, relevant, validator } from './helpers.js';

let v: ResourceValidator;
beforeAll(async () => {
  v = await validator();
});

const base = (r: unknown, lang: 'en' | 'nl' | 'fr' = 'en') => v.validate(r, { baseOnly: true, lang });

describe('required bindings', () => {
  it('names the value set and lists its codes (code)', () => {
    const issue = expectIssue(base({ resourceType: 'Patient', text: div(), gender: 'mail' }), 'error', 'code-invalid', 'Patient.gender');
    expect(issue.diagnostics).toBe("Patient.gender: 'mail' is not in the value set AdministrativeGender (male, female, other, unknown)");
  });

  it('says the same in Dutch and French', () => {
    const nl = expectIssue(base({ resourceType: 'Patient', text: div(), gender: 'mail' }, 'nl'), 'error', 'code-invalid', 'Patient.gender');
    expect(nl.diagnostics).toBe("Patient.gender: 'mail' zit niet in de waardelijst AdministrativeGender (male, female, other, unknown)");
    const fr = expectIssue(base({ resourceType: 'Patient', text: div(), gender: 'mail' }, 'fr'), 'error', 'code-invalid', 'Patient.gender');
    expect(fr.diagnostics).toBe("Patient.gender: 'mail' ne fait pas partie du jeu de valeurs AdministrativeGender (male, female, other, unknown)");
  });

  it('checks codes in backbone elements and data types', () => {
    const issues = base({ resourceType: 'Patient', text: div(), telecom: [{ system: 'gsm', value: '0475' }], link: [{ other: { reference: 'Patient/2' }, type: 'same' }] });
    expectIssue(issues, 'error', 'code-invalid', 'Patient.telecom[0].system', /'gsm' is not in the value set ContactPointSystem \(phone, fax, email, pager, url, sms, other\)/);
    expectIssue(issues, 'error', 'code-invalid', 'Patient.link[0].type', /'same' is not in the value set LinkType/);
  });

  it('checks a required CodeableConcept: a coding must be in the value set', () => {
    const issues = base({
      resourceType: 'Condition',
      text: div(),
      subject: { reference: 'Patient/1' },
      clinicalStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-clinical', code: 'ongoing' }] },
    });
    expectIssue(issues, 'error', 'code-invalid', 'Condition.clinicalStatus', /none of the codes http:\/\/terminology.hl7.org\/CodeSystem\/condition-clinical#ongoing is in the value set Condition Clinical Status Codes/);
  });

  it('checks the system too, not only the code', () => {
    const issues = base({
      resourceType: 'Condition',
      text: div(),
      subject: { reference: 'Patient/1' },
      clinicalStatus: { coding: [{ system: 'http://example.org/status', code: 'active' }] },
    });
    expectIssue(issues, 'error', 'code-invalid', 'Condition.clinicalStatus', /http:\/\/example.org\/status#active/);
  });

  it('accepts a CodeableConcept when one of its codings is in the value set (translations allowed)', () => {
    const issues = base({
      resourceType: 'Condition',
      text: div(),
      subject: { reference: 'Patient/1' },
      clinicalStatus: {
        coding: [
          { system: 'http://example.org/local', code: 'A' },
          { system: 'http://terminology.hl7.org/CodeSystem/condition-clinical', code: 'active' },
        ],
      },
    });
    expect(relevant(issues)).toEqual([]);
  });

  it('refuses text only where a code is required', () => {
    const issues = base({ resourceType: 'Condition', text: div(), subject: { reference: 'Patient/1' }, clinicalStatus: { text: 'active' } });
    expectIssue(issues, 'error', 'code-invalid', 'Condition.clinicalStatus', /no code given, but a code from the value set Condition Clinical Status Codes is required/);
  });

  it('checks a required Coding', () => {
    const issues = base({ resourceType: 'AuditEvent', text: div(), type: { system: 'http://dicom.nema.org/resources/ontology/DCM', code: '110110' }, recorded: '2026-01-01T10:00:00Z', agent: [{ requestor: true }], source: { observer: { display: 'x' } }, action: 'X' });
    expectIssue(issues, 'error', 'code-invalid', 'AuditEvent.action', /'X' is not in the value set AuditEventAction \(C, R, U, D, E\)/);
  });

  it('checks a required binding on a choice type', () => {
    const issues = base({
      resourceType: 'CarePlan',
      text: div(),
      status: 'active',
      intent: 'plan',
      subject: { reference: 'Patient/1' },
      activity: [{ detail: { status: 'scheduled', scheduledTiming: { repeat: { period: 1, periodUnit: 'week' } } } }],
    });
    expectIssue(issues, 'error', 'code-invalid', 'CarePlan.activity[0].detail.scheduled.ofType(Timing).repeat.periodUnit', /'week' is not in the value set UnitsOfTime \(s, min, h, d, wk, mo, a\)/);
  });
});

describe('extensible bindings', () => {
  it('warns when no coding comes from the value set', () => {
    const issues = base({
      resourceType: 'Patient',
      text: div(),
      maritalStatus: { coding: [{ system: 'http://example.org/civil-state', code: 'samenwonend' }] },
    });
    expectIssue(issues, 'warning', 'code-invalid', 'Patient.maritalStatus', /a code from it should be used unless none fits/);
  });

  it('accepts text only', () => {
    expect(relevant(base({ resourceType: 'Patient', text: div(), maritalStatus: { text: 'wettelijk samenwonend' } }))).toEqual([]);
  });
});

describe('codes of known code systems', () => {
  it('refuses a code that its code system does not have, bound or not', () => {
    const issues = base({
      resourceType: 'Patient',
      text: div(),
      contact: [{ name: { text: 'Els' }, relationship: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0131', code: 'ZZ' }] }] }],
    });
    expectIssue(issues, 'error', 'code-invalid', 'Patient.contact[0].relationship[0].coding[0].code', /'ZZ' is not a code of the code system http:\/\/terminology.hl7.org\/CodeSystem\/v2-0131/);
  });

  it('checks CD-HCPARTY codes wherever they occur', () => {
    const issues = base({ resourceType: 'Practitioner', text: div(), qualification: [{ code: { coding: [{ system: 'https://www.ehealth.fgov.be/standards/fhir/core/CodeSystem/cd-hcparty', code: 'persdoctor' }] } }] });
    expectIssue(issues, 'error', 'code-invalid', 'Practitioner.qualification[0].code.coding[0].code', /'persdoctor' is not a code of the code system/);
  });

  it('warns about a display that is not one of the code (its display or a designation)', () => {
    const coded = (display: string) =>
      base({ resourceType: 'Patient', text: div(), maritalStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-MaritalStatus', code: 'M', display }] } });
    expectIssue(coded('Getrouwd'), 'warning', 'code-invalid', 'Patient.maritalStatus.coding[0].display', /'Getrouwd' is not a display of .*v3-MaritalStatus#M; expected 'Married'/);
    expect(relevant(coded('married'))).toEqual([]);
    const nl = base({ resourceType: 'Practitioner', text: div(), qualification: [{ code: { coding: [{ system: 'https://www.ehealth.fgov.be/standards/fhir/core/CodeSystem/cd-hcparty', code: 'persnurse', display: 'verpleegkundige' }] } }] });
    expect(relevant(nl)).toEqual([]);
  });

  it('leaves codes of code systems it does not have alone', () => {
    const issues = base({ resourceType: 'Practitioner', text: div(), qualification: [{ code: { coding: [{ system: 'http://snomed.info/sct', code: '0' }] } }] });
    expect(relevant(issues)).toEqual([]);
  });
});

describe('bindings that cannot be checked here', () => {
  it('skips value sets drawn from SNOMED CT (no complete expansion available)', () => {
    const issues = base({ resourceType: 'Condition', text: div(), subject: { reference: 'Patient/1' }, code: { coding: [{ system: 'http://snomed.info/sct', code: '99999999999' }] } });
    expect(relevant(issues)).toEqual([]);
  });

  it('skips the languages value set (BCP 47 is a grammar, not a list)', () => {
    const issues = base({ resourceType: 'Patient', text: div(), communication: [{ language: { coding: [{ system: 'urn:ietf:bcp:47', code: 'nl-BE' }] } }] });
    expect(relevant(issues)).toEqual([]);
  });

  it('records why a value set was skipped', () => {
    const t = new Terminology(new Registry());
    expect(t.valueSet('http://hl7.org/fhir/ValueSet/clinical-findings')).toBeUndefined();
    expect(t.skipped.get('http://hl7.org/fhir/ValueSet/clinical-findings')).toMatch(/external terminology/);
    expect(t.valueSet('http://hl7.org/fhir/ValueSet/administrative-gender|4.0.1')?.size).toBe(4);
  });
});
