import { beforeAll, describe, expect, it } from 'vitest';
import type { ResourceValidator } from '../../src/validation/index.js';
import { CBE, HCPARTY, ICR, ICR_HCPARTY, NIHDI, realisticCarePlan, realisticCareTeam, realisticPatient, SSIN, SSIN_OLD } from './fixtures/realistic.js';
import { div, expectIssue, expectNoErrors, relevant, validator } from './helpers.js';

let v: ResourceValidator;
beforeAll(async () => {
  v = await validator();
});

const coded = (system: string, code: string) => [{ coding: [{ system, code }] }];

describe('ICR Patient (required profile of Patient)', () => {
  it('accepts the realistic patient without any issue', () => {
    expect(v.validate(realisticPatient())).toEqual([]);
  });

  it('applies even when meta.profile does not name it', () => {
    const p = realisticPatient();
    delete p.meta;
    delete p.name;
    expectIssue(v.validate(p), 'error', 'required', 'Patient.name', /'name' is required \(at least 1\) by ICR Patient, found 0/);
  });

  it('requires gender and birth date', () => {
    const p = realisticPatient();
    delete p.gender;
    delete p.birthDate;
    delete p._birthDate;
    const issues = v.validate(p);
    expectIssue(issues, 'error', 'required', 'Patient.gender', /by ICR Patient/);
    expectIssue(issues, 'error', 'required', 'Patient.birthDate', /by ICR Patient/);
  });

  it('accepts an unknown birth date given as data-absent-reason', () => {
    const p = realisticPatient();
    delete p.birthDate;
    p._birthDate = { extension: [{ url: 'http://hl7.org/fhir/StructureDefinition/data-absent-reason', valueCode: 'unknown' }] };
    expect(v.validate(p)).toEqual([]);
  });

  it('accepts a patient without SSIN', () => {
    const p = realisticPatient();
    p.identifier = [{ system: 'https://huisartsenpraktijk-de-linde.be/patients', value: 'P-1' }];
    expect(v.validate(p)).toEqual([]);
  });

  it('matches the SSIN slice on the older system URL too', () => {
    const p = realisticPatient();
    p.identifier = [{ system: SSIN_OLD, value: '4803151236' }];
    expectIssue(v.validate(p), 'error', 'invariant', 'Patient.identifier[0]', /icr-ssin-1 failed: An SSIN \(INSZ\/NISS\) is 11 digits/);
  });

  it('refuses an SSIN with punctuation', () => {
    const p = realisticPatient();
    p.identifier = [{ system: SSIN, value: '48.03.15-123.68' }];
    expectIssue(v.validate(p), 'error', 'invariant', 'Patient.identifier[0]', /icr-ssin-1/);
  });

  it('warns (does not refuse) a bad SSIN check digit', () => {
    const p = realisticPatient();
    p.identifier = [{ system: SSIN, value: '79121137740' }];
    const issues = v.validate(p);
    expectIssue(issues, 'warning', 'invariant', 'Patient.identifier[0]', /icr-ssin-2 failed: The SSIN check digits/);
    expectNoErrors(issues);
  });

  it('accepts SSINs of people born from 2000 and BIS numbers', () => {
    for (const value of ['03100516541', '85273003371']) {
      const p = realisticPatient();
      p.identifier = [{ system: SSIN, value }];
      expect(relevant(v.validate(p)), value).toEqual([]);
    }
  });

  it('allows at most one SSIN', () => {
    const p = realisticPatient();
    p.identifier = [
      { system: SSIN, value: '48031512368' },
      { system: SSIN_OLD, value: '85073003328' },
    ];
    expectIssue(v.validate(p), 'error', 'structure', 'Patient.identifier', /at most 1 'identifier' matching slice 'ssin'/);
  });

  it('requires a value in the SSIN slice', () => {
    const p = realisticPatient();
    p.identifier = [{ system: SSIN }];
    expectIssue(v.validate(p), 'error', 'required', 'Patient.identifier[0].value', /'value' is required/);
  });

  it('checks reference targets once when the profile allows what the base allows', () => {
    const p = realisticPatient();
    p.generalPractitioner = [{ reference: 'RelatedPerson/els' }];
    const issues = v.validate(p);
    expectIssue(issues, 'error', 'structure', 'Patient.generalPractitioner[0]', /a reference to a RelatedPerson is not allowed here; allowed: Organization, Practitioner, PractitionerRole/);
    expect(issues).toHaveLength(1);
  });

  it('speaks Dutch and French', () => {
    const p = realisticPatient();
    delete p.name;
    expectIssue(v.validate(p, { lang: 'nl' }), 'error', 'required', 'Patient.name', /'name' is verplicht \(minstens 1\) volgens ICR Patient, 0 gevonden/);
    expectIssue(v.validate(p, { lang: 'fr' }), 'error', 'required', 'Patient.name', /'name' est obligatoire \(au moins 1\) selon ICR Patient, 0 trouvé/);
  });

  it('translates our invariants', () => {
    const p = realisticPatient();
    p.identifier = [{ system: SSIN, value: '79121137740' }];
    expectIssue(v.validate(p, { lang: 'nl' }), 'warning', 'invariant', 'Patient.identifier[0]', /regel icr-ssin-2 niet voldaan: De controlecijfers van het INSZ/);
    expectIssue(v.validate(p, { lang: 'fr' }), 'warning', 'invariant', 'Patient.identifier[0]', /contrainte icr-ssin-2 n'est pas respectée: Les chiffres de contrôle du NISS/);
  });
});

describe('ICR CareTeam (derived from HL7 Belgium be-careteam)', () => {
  it('accepts the realistic care team', () => {
    expect(v.validate(realisticCareTeam())).toEqual([]);
  });

  it('requires a subject and a participant', () => {
    const t = realisticCareTeam();
    delete t.subject;
    delete t.participant;
    const issues = v.validate(t);
    expectIssue(issues, 'error', 'required', 'CareTeam.subject', /by ICR CareTeam/);
    expectIssue(issues, 'error', 'required', 'CareTeam.participant', /by ICR CareTeam/);
  });

  it('requires a role per participant', () => {
    const t = realisticCareTeam();
    delete t.participant![2].role;
    expectIssue(v.validate(t), 'error', 'required', 'CareTeam.participant[2].role', /'role' is required/);
  });

  it('binds roles to CD-HCPARTY and the local codes', () => {
    const t = realisticCareTeam();
    t.participant![2].role = coded(HCPARTY, 'huisarts');
    expectIssue(v.validate(t), 'error', 'code-invalid', 'CareTeam.participant[2].role[0]', /none of the codes .*cd-hcparty#huisarts is in the value set ICR care team role/);
  });

  it('accepts the patient and the informal caregiver as participants', () => {
    const t = realisticCareTeam();
    t.participant = [
      { role: coded(HCPARTY, 'patient'), member: { reference: 'Patient/pat-maria-claes' } },
      { role: coded(HCPARTY, 'perscaregiver'), member: { reference: 'RelatedPerson/rp-els-claes' } },
      { role: coded(ICR_HCPARTY, 'carecoordinator'), member: { reference: 'PractitionerRole/role-cm' } },
    ];
    expect(v.validate(t)).toEqual([]);
  });

  it('restricts the subject to a patient (be-careteam also allows Group)', () => {
    const t = realisticCareTeam();
    t.subject = { reference: 'Group/g1' };
    expectIssue(v.validate(t), 'error', 'structure', 'CareTeam.subject', /a reference to a Group is not allowed here by ICR CareTeam; allowed: Patient/);
  });

  it('checks member targets as be-careteam does', () => {
    const t = realisticCareTeam();
    t.participant![2].member = { reference: 'Device/pump' };
    expectIssue(v.validate(t, { baseOnly: true }), 'error', 'structure', 'CareTeam.participant[2].member', /Device is not allowed here; allowed: Practitioner, PractitionerRole, RelatedPerson, Patient, Organization, CareTeam/);
  });

  it('lets be-careteam accept text-only roles, which ICR CareTeam refuses', () => {
    const t = realisticCareTeam();
    t.meta = { profile: ['https://www.ehealth.fgov.be/standards/fhir/patient-care/StructureDefinition/be-careteam'] };
    t.participant![2].role = [{ text: 'huisarts' }];
    expect(v.validate(t, { baseOnly: true })).toEqual([]);
    expectIssue(v.validate(t), 'error', 'code-invalid', 'CareTeam.participant[2].role[0]', /no code given, but a code from the value set ICR care team role by ICR CareTeam is required/);
  });
});

describe('ICR CarePlan (derived from HL7 Belgium be-care-plan)', () => {
  it('accepts the realistic care plan', () => {
    expect(v.validate(realisticCarePlan())).toEqual([]);
  });

  it('requires a care team', () => {
    const p = realisticCarePlan();
    delete p.careTeam;
    expectIssue(v.validate(p), 'error', 'required', 'CarePlan.careTeam', /'careTeam' is required \(at least 1\) by ICR CarePlan/);
  });

  it('icr-cpl-1: an active plan addresses a condition', () => {
    const p = realisticCarePlan();
    delete p.addresses;
    expectIssue(v.validate(p), 'error', 'invariant', 'CarePlan', /icr-cpl-1 failed: An active care plan addresses at least one condition/);
    p.status = 'draft';
    expect(v.validate(p)).toEqual([]);
  });

  it('restricts the subject to a patient', () => {
    const p = realisticCarePlan();
    p.subject = { reference: 'Group/1' };
    expectIssue(v.validate(p), 'error', 'structure', 'CarePlan.subject', /Group is not allowed here by ICR CarePlan; allowed: Patient/);
  });

  it('is not applied with baseOnly', () => {
    const p = realisticCarePlan();
    delete p.careTeam;
    delete p.meta;
    expect(v.validate(p, { baseOnly: true })).toEqual([]);
  });
});

describe('ICR PractitionerRole, Practitioner, Organization, RelatedPerson, Consent, Goal', () => {
  it('requires a CD-HCPARTY code on a practitioner role', () => {
    const role = { resourceType: 'PractitionerRole', text: div(), practitioner: { reference: 'Practitioner/1' }, code: coded(ICR_HCPARTY, 'casemanager') };
    expectIssue(v.validate(role), 'error', 'required', 'PractitionerRole.code', /at least 1 'code' matching slice 'cdHcParty'/);
    expect(v.validate({ ...role, code: [...coded(HCPARTY, 'perssocialworker'), ...coded(ICR_HCPARTY, 'casemanager')] })).toEqual([]);
  });

  it('refuses an unknown CD-HCPARTY code and an unknown local role', () => {
    const issues = v.validate({
      resourceType: 'PractitionerRole',
      text: div(),
      practitioner: { reference: 'Practitioner/1' },
      code: [...coded(HCPARTY, 'persnurse'), ...coded(HCPARTY, 'persastronaut'), ...coded(ICR_HCPARTY, 'orghomecare')],
    });
    expectIssue(issues, 'error', 'code-invalid', 'PractitionerRole.code[1]', /persastronaut is in the value set BeVSCdHcParty/);
    expectIssue(issues, 'error', 'code-invalid', 'PractitionerRole.code[2]', /orghomecare is in the value set ICR care role by ICR PractitionerRole \(casemanager, carecoordinator\)/);
  });

  it('checks the NIHDI number format of a practitioner', () => {
    const p = { resourceType: 'Practitioner', text: div(), name: [{ family: 'De Smet' }], identifier: [{ system: NIHDI, value: '1-00003-39-004' }] };
    expectIssue(v.validate(p), 'error', 'invariant', 'Practitioner.identifier[0]', /icr-nihdi-1 failed: A NIHDI \(RIZIV\/INAMI\) number is 8 digits, or 11 digits/);
  });

  it('requires a name for a practitioner, not a NIHDI number (social workers have none)', () => {
    const issues = v.validate({ resourceType: 'Practitioner', text: div(), identifier: [{ system: 'https://example.org/staff', value: 'sw1' }] });
    expectIssue(issues, 'error', 'required', 'Practitioner.name', /by ICR Practitioner/);
    expect(issues).toHaveLength(1);
  });

  it('requires an organisation type from CD-HCPARTY or the local code system', () => {
    const org = { resourceType: 'Organization', text: div(), name: 'SEL Gent', identifier: [{ system: CBE, value: '0456789123' }] };
    expectIssue(v.validate(org), 'error', 'required', 'Organization.type', /by ICR Organization/);
    expect(v.validate({ ...org, type: coded(ICR_HCPARTY, 'orgsel') })).toEqual([]);
    expect(v.validate({ ...org, type: coded(HCPARTY, 'orghospital') })).toEqual([]);
    expectIssue(v.validate({ ...org, type: coded(HCPARTY, 'persnurse') }), 'error', 'code-invalid', 'Organization.type[0]', /ICR organisation type/);
  });

  it('checks the CBE number format', () => {
    const org = { resourceType: 'Organization', text: div(), name: 'x', type: coded(HCPARTY, 'orghospital'), identifier: [{ system: CBE, value: 'BE0456.789.123' }] };
    expectIssue(v.validate(org), 'error', 'invariant', 'Organization.identifier[0]', /icr-cbe-1/);
  });

  it('recognises the informal caregiver among the relationships (pattern slice)', () => {
    const rp = {
      resourceType: 'RelatedPerson',
      text: div(),
      patient: { reference: 'Patient/1' },
      name: [{ family: 'Claes', given: ['Els'] }],
      relationship: [...coded(HCPARTY, 'perscaregiver'), ...coded('http://terminology.hl7.org/CodeSystem/v3-RoleCode', 'DAU')],
    };
    expect(v.validate(rp)).toEqual([]);
    expectIssue(v.validate({ ...rp, relationship: [...coded(HCPARTY, 'perscaregiver'), ...coded(HCPARTY, 'perscaregiver')] }), 'error', 'structure', 'RelatedPerson.relationship', /at most 1 'relationship' matching slice 'informalCaregiver'/);
    expectIssue(v.validate({ ...rp, relationship: undefined }), 'error', 'required', 'RelatedPerson.relationship', /by ICR RelatedPerson/);
  });

  it('requires the patient and the moment of a consent', () => {
    const issues = v.validate({
      resourceType: 'Consent',
      text: div(),
      status: 'active',
      scope: coded('http://terminology.hl7.org/CodeSystem/consentscope', 'patient-privacy')[0],
      category: coded('http://loinc.org', '59284-0'),
      policyRule: coded('http://terminology.hl7.org/CodeSystem/consentpolicycodes', 'cric')[0],
    });
    expectIssue(issues, 'error', 'required', 'Consent.patient', /by ICR Consent/);
    expectIssue(issues, 'error', 'required', 'Consent.dateTime', /by ICR Consent/);
  });

  it('restricts who expresses a goal', () => {
    const goal = { resourceType: 'Goal', text: div(), lifecycleStatus: 'active', description: { text: 'x' }, subject: { reference: 'Patient/1' }, expressedBy: { reference: 'RelatedPerson/els' } };
    expect(v.validate(goal)).toEqual([]);
    expectIssue(v.validate({ ...goal, subject: { reference: 'Group/1' } }), 'error', 'structure', 'Goal.subject', /Group is not allowed here by ICR Goal; allowed: Patient/);
  });

  it('checks an affiliation of a consortium partner', () => {
    const issues = v.validate({ resourceType: 'OrganizationAffiliation', text: div(), organization: { reference: 'Organization/consortium' }, code: coded(ICR_HCPARTY, 'orgpatientassociation') });
    expectIssue(issues, 'error', 'required', 'OrganizationAffiliation.participatingOrganization', /by ICR OrganizationAffiliation/);
  });
});

describe('which profiles apply', () => {
  it('warns about an unknown profile in meta.profile', () => {
    const p = { resourceType: 'Observation', text: div(), status: 'final', code: { text: 'x' }, meta: { profile: ['https://example.org/StructureDefinition/unknown'] } };
    expectIssue(v.validate(p), 'warning', 'not-found', 'Observation', /profile https:\/\/example.org\/StructureDefinition\/unknown is unknown/);
  });

  it('refuses an unknown profile that the caller asked for', () => {
    const p = { resourceType: 'Observation', text: div(), status: 'final', code: { text: 'x' } };
    expectIssue(v.validate(p, { profiles: ['https://example.org/StructureDefinition/unknown'] }), 'error', 'not-found', 'Observation', /is unknown/);
  });

  it('refuses a profile of another type', () => {
    const p = { resourceType: 'Observation', text: div(), status: 'final', code: { text: 'x' } };
    expectIssue(v.validate(p, { profiles: [ICR + 'icr-patient'] }), 'error', 'invalid', 'Observation', /is for Patient, not for Observation/);
  });

  it('applies an explicitly requested profile with a version', () => {
    const p = realisticCarePlan();
    delete p.careTeam;
    delete p.meta;
    expectIssue(v.validate(p, { baseOnly: true, profiles: [ICR + 'icr-careplan|0.1.0'] }), 'error', 'required', 'CarePlan.careTeam', /by ICR CarePlan/);
  });

  it('applies core profiles named in meta.profile (vitalsigns)', () => {
    const obs = { resourceType: 'Observation', text: div(), meta: { profile: ['http://hl7.org/fhir/StructureDefinition/vitalsigns'] }, status: 'final', code: { text: 'BP' } };
    const issues = v.validate(obs, { baseOnly: true });
    expectIssue(issues, 'error', 'required', 'Observation.category', /'category' is required \(at least 1\) by Vital Signs Profile/);
    expectIssue(issues, 'error', 'required', 'Observation.category', /at least 1 'category' matching slice 'VSCat'/);
    expectIssue(issues, 'error', 'required', 'Observation.subject', /by Vital Signs Profile/);
  });

  it('lists every profile for the CapabilityStatement', () => {
    const urls = v.profileUrls();
    expect(urls.slice(0, 3).every((u) => u.startsWith('https://'))).toBe(true);
    expect(urls).toContain(ICR + 'icr-careteam');
    expect(urls).toContain('https://www.ehealth.fgov.be/standards/fhir/patient-care/StructureDefinition/be-careteam');
    expect(urls).toContain('http://hl7.org/fhir/StructureDefinition/Patient');
    expect(urls).toContain('http://hl7.org/fhir/StructureDefinition/vitalsigns');
    expect(urls).not.toContain('http://hl7.org/fhir/StructureDefinition/HumanName');
  });
});

describe('configuration', () => {
  it('with requiredProfiles {} checks only the base and meta.profile', async () => {
    const baseOnly = await validator({ requiredProfiles: {} });
    const p = realisticPatient();
    delete p.meta;
    delete p.name;
    expect(baseOnly.validate(p)).toEqual([]);
    p.meta = { profile: [ICR + 'icr-patient'] };
    expectIssue(baseOnly.validate(p), 'error', 'required', 'Patient.name', /by ICR Patient/);
  });

  it('refuses a required profile that does not exist', async () => {
    await expect(validator({ requiredProfiles: { Patient: ['https://example.org/nope'] } })).rejects.toThrow(/required profile for Patient not found/);
  });
});
