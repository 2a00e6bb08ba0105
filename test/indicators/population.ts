/**
 * A population built for the indicator tests (and the export tests): two consortia, eight
 * patients with the edge cases the evaluation needs (a patient with two care teams, teams without
 * a GP or without the patient, an ended plan, a patient who moved region, a patient placed by the
 * managing organisation of her team, a resolved condition, ended participations, an unknown
 * guideline). Every person has a valid SSIN, a name, a phone, an email and a street address, so that
 * the export tests can look for them. The expected figures are worked out in indicators.test.ts.
 */
import { ssinCheckDigits } from '../../src/validation/ssin.js';

export const HCP = 'https://www.ehealth.fgov.be/standards/fhir/core/CodeSystem/cd-hcparty';
export const ICR = 'https://fhir.integrated-care.be/CodeSystem/icr-hcparty';
export const SSIN = 'https://www.ehealth.fgov.be/standards/fhir/core/NamingSystem/ssin';
const NIHDI = 'https://www.ehealth.fgov.be/standards/fhir/core/NamingSystem/nihdi';
const SNOMED = 'http://snomed.info/sct';
const ICPC2 = 'http://hl7.org/fhir/sid/icpc-2';
const REGION = 'https://fhir.integrated-care.be/StructureDefinition/icr-region-municipality';
const NIS = 'https://fhir.integrated-care.be/CodeSystem/refnis';
const GUIDELINE = 'https://fhir.integrated-care.be/PlanDefinition';

/** A valid SSIN for a birth date (YYYY-MM-DD) and a serial number. */
export function ssinFor(birthDate: string, serial: number): string {
  const nine = `${birthDate.slice(2, 4)}${birthDate.slice(5, 7)}${birthDate.slice(8, 10)}${String(serial).padStart(3, '0')}`;
  return nine + String(ssinCheckDigits(Number(nine), birthDate >= '2000')).padStart(2, '0');
}

export const CONSORTIUM_A = 'ind-cons-a';
export const CONSORTIUM_B = 'ind-cons-b';
/** Statbel 1 January 2020: Kortrijk 77,109 + Kuurne 13,676; Brugge 118,656. */
export const POPULATION_A = 77109 + 13676;
export const POPULATION_B = 118656;

type R = Record<string, unknown>;

const role = (system: string, code: string) => [{ coding: [{ system, code }] }];

function consortium(id: string, name: string, codes: string[]): R {
  return {
    resourceType: 'Organization',
    id,
    active: true,
    type: [{ coding: [{ system: ICR, code: 'orgconsortium' }] }],
    name,
    extension: codes.map((code) => ({ url: REGION, valueCoding: { system: NIS, version: '2020', code } })),
  };
}

interface PersonInput {
  id: string;
  family: string;
  given: string;
  gender: string;
  birthDate: string;
  serial: number;
  addresses: R[];
}

/** People's details, kept for the export tests (every one must disappear from a pseudonymised export). */
export const PEOPLE: { ssin: string; family: string; given: string; phone: string; email: string; street: string }[] = [];

function person(type: 'Patient' | 'RelatedPerson' | 'Practitioner', p: PersonInput, extra: R = {}): R {
  const ssin = ssinFor(p.birthDate, p.serial);
  const phone = `+32 56 ${String(200000 + p.serial * 37).slice(-6)}`;
  const email = `${p.given.toLowerCase()}.${p.family.toLowerCase().replace(/\s/g, '')}@example.be`;
  const street = (p.addresses[0]?.line as string[] | undefined)?.[0] ?? `Stationsstraat ${p.serial}`;
  PEOPLE.push({ ssin, family: p.family, given: p.given, phone, email, street });
  return {
    resourceType: type,
    id: p.id,
    identifier: [{ system: SSIN, value: ssin }],
    name: [{ use: 'official', family: p.family, given: [p.given], text: `${p.given} ${p.family}` }],
    telecom: [
      { system: 'phone', value: phone, use: 'home' },
      { system: 'email', value: email },
    ],
    gender: p.gender,
    birthDate: p.birthDate,
    address: p.addresses.length ? p.addresses : [{ use: 'home', line: [street], city: 'Kortrijk', postalCode: '8500', country: 'BE' }],
    text: { status: 'generated', div: `<div xmlns="http://www.w3.org/1999/xhtml">${p.given} ${p.family}, INSZ ${ssin}</div>` },
    ...extra,
  };
}

const home = (line: string, city: string, postalCode: string, period?: R) => ({ use: 'home', line: [line], city, postalCode, country: 'BE', ...(period ? { period } : {}) });

function practitioner(id: string, family: string, given: string, serial: number, birthDate: string): R {
  return person('Practitioner', { id, family, given, gender: 'female', birthDate, serial, addresses: [] }, { identifier: [{ system: NIHDI, value: `1${String(serial).padStart(7, '0')}001` }, { system: SSIN, value: ssinFor(birthDate, serial) }] });
}

const member = (reference: string, roles?: [string, string][], period: R = { start: '2024-01-01' }) => ({
  ...(roles ? { role: roles.map(([s, c]) => role(s, c)[0]) } : {}),
  member: { reference, display: `lid ${reference}` },
  period,
});

function team(id: string, patient: string, status: string, period: R, participants: R[], extra: R = {}): R {
  return { resourceType: 'CareTeam', id, status, name: `Zorgteam van ${patient}`, subject: { reference: `Patient/${patient}` }, period, participant: participants, ...extra };
}

function condition(id: string, patient: string, system: string, code: string, recordedDate: string, clinical = 'active', extra: R = {}): R {
  return {
    resourceType: 'Condition',
    id,
    clinicalStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-clinical', code: clinical }] },
    verificationStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-ver-status', code: 'confirmed' }] },
    code: { coding: [{ system, code }], text: `aandoening van ${patient}` },
    subject: { reference: `Patient/${patient}` },
    recordedDate,
    note: [{ text: `Besproken met de patiënt (INSZ ${PEOPLE[0]?.ssin ?? ''})` }],
    ...extra,
  };
}

function plan(id: string, patient: string, status: string, period: R, extra: R = {}): R {
  return {
    resourceType: 'CarePlan',
    id,
    status,
    intent: 'plan',
    title: `Zorgplan van ${patient}`,
    subject: { reference: `Patient/${patient}`, display: 'de patiënt' },
    period,
    ...extra,
  };
}

function goal(id: string, patient: string, lifecycleStatus: string, expressedBy: string | undefined, startDate = '2024-02-01'): R {
  return {
    resourceType: 'Goal',
    id,
    lifecycleStatus,
    description: { text: `Doel van ${patient}: elke dag wandelen` },
    subject: { reference: `Patient/${patient}` },
    startDate,
    ...(expressedBy ? { expressedBy: { reference: expressedBy } } : {}),
  };
}

function consent(id: string, patient: string, dateTime: string, provision?: R): R {
  return {
    resourceType: 'Consent',
    id,
    status: 'active',
    scope: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/consentscope', code: 'patient-privacy' }] },
    category: [{ coding: [{ system: 'http://loinc.org', code: '59284-0' }] }],
    patient: { reference: `Patient/${patient}` },
    dateTime,
    policyRule: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'OPTIN' }] },
    ...(provision ? { provision } : {}),
  };
}

/** The population as a transaction Bundle (PUT with ids, so references are plain Type/id). */
export function population(): R {
  PEOPLE.length = 0;
  const resources: R[] = [
    consortium(CONSORTIUM_A, 'Consortium Leie', ['34022', '34023']),
    consortium(CONSORTIUM_B, 'Consortium Brugge', ['31005']),
    practitioner('ind-gp', 'Vermeulen', 'An', 501, '1970-03-04'),
    practitioner('ind-gp2', 'Desmet', 'Pieter', 502, '1968-07-21'),
    practitioner('ind-nurse', 'Maes', 'Els', 503, '1975-11-30'),
    practitioner('ind-pharm', 'Willems', 'Tom', 504, '1980-01-15'),
    practitioner('ind-physio', 'Jacobs', 'Lotte', 505, '1985-05-05'),
    practitioner('ind-cardio', 'Wouters', 'Koen', 506, '1965-09-09'),
    practitioner('ind-coord', 'Goossens', 'Sarah', 507, '1978-02-02'),
    {
      resourceType: 'PractitionerRole',
      id: 'ind-role-gp2',
      active: true,
      practitioner: { reference: 'Practitioner/ind-gp2' },
      code: role(HCP, 'persgeneralphysician'),
    },
    // P1: Kortrijk, woman, 74 on 31 Dec 2024. Diabetes recorded 2024-01-10, plan from 2024-02-01 that
    // instantiates the heart-failure guideline by bare URL; a full team; an old inactive team.
    person('Patient', { id: 'ind-p1', family: 'Janssens', given: 'Anna', gender: 'female', birthDate: '1950-06-01', serial: 11, addresses: [home('Grote Markt 1', 'Kortrijk', '8500')] }),
    person('RelatedPerson', { id: 'ind-rp1', family: 'Janssens', given: 'Jef', gender: 'male', birthDate: '1948-02-03', serial: 12, addresses: [home('Grote Markt 1', 'Kortrijk', '8500')] }, {
      patient: { reference: 'Patient/ind-p1' },
      relationship: role(HCP, 'perscaregiver'),
    }),
    // P2: Kortrijk, man, 84. Heart failure (ICPC-2) recorded 2023-05-01 and COPD 2024-03-01; two teams.
    person('Patient', { id: 'ind-p2', family: 'Peeters', given: 'Jan', gender: 'male', birthDate: '1940-03-03', serial: 21, addresses: [home('Overleiestraat 14', 'Kortrijk', '8500')] }),
    // P3: Kuurne, woman, 44. Diabetes since 2022; her only plan ended in 2023; her team has no GP.
    person('Patient', { id: 'ind-p3', family: 'Claes', given: 'Maria', gender: 'female', birthDate: '1980-09-09', serial: 31, addresses: [home('Kerkstraat 3', 'Kuurne', '8520')] }),
    // P4: moved from Brugge to Kortrijk on 2024-04-01; plan since 2023-11-01; COPD recorded 2024-04-15.
    person('Patient', {
      id: 'ind-p4',
      family: 'Mertens',
      given: 'Marc',
      gender: 'male',
      birthDate: '1960-01-01',
      serial: 41,
      addresses: [
        { use: 'old', line: ['Langestraat 88'], city: 'Brugge', postalCode: '8000', country: 'BE', period: { start: '2001-01-01', end: '2024-03-31' } },
        home('Doorniksestraat 40', 'Kortrijk', '8500', { start: '2024-04-01' }),
      ],
    }),
    person('RelatedPerson', { id: 'ind-rp4', family: 'Mertens', given: 'Lea', gender: 'female', birthDate: '1962-04-04', serial: 42, addresses: [home('Doorniksestraat 40', 'Kortrijk', '8500')] }, {
      patient: { reference: 'Patient/ind-p4' },
      relationship: role(HCP, 'perscaregiver'),
    }),
    // P5: lives in Brugge, but her care team is managed by consortium A: she counts for A.
    person('Patient', { id: 'ind-p5', family: 'Willems', given: 'Rosa', gender: 'female', birthDate: '1935-02-02', serial: 51, addresses: [home('Steenstraat 5', 'Brugge', '8000')] }),
    person('RelatedPerson', { id: 'ind-rp5', family: 'Willems', given: 'Piet', gender: 'male', birthDate: '1960-06-06', serial: 52, addresses: [home('Steenstraat 5', 'Brugge', '8000')] }, {
      patient: { reference: 'Patient/ind-p5' },
      relationship: role(HCP, 'perscaregiver'),
    }),
    // P6: Brugge, man, diabetes since 2024-02-01, no plan, no team.
    person('Patient', { id: 'ind-p6', family: 'Dubois', given: 'Luc', gender: 'male', birthDate: '1945-08-08', serial: 61, addresses: [home('Zand 6', 'Brugge', '8000')] }),
    // P7: Kortrijk, gender other, 34. No chronic condition; a plan without team or goal (diabetes guideline).
    person('Patient', { id: 'ind-p7', family: 'Lambert', given: 'Sam', gender: 'other', birthDate: '1990-05-05', serial: 71, addresses: [home('Budastraat 7', 'Kortrijk', '8500')] }),
    // P8: Kortrijk, woman; her diabetes was resolved on 2023-12-01.
    person('Patient', { id: 'ind-p8', family: 'Leroy', given: 'Emma', gender: 'female', birthDate: '1955-12-12', serial: 81, addresses: [home('Leiestraat 8', 'Kortrijk', '8500')] }),

    condition('ind-c1', 'ind-p1', SNOMED, '44054006', '2024-01-10'),
    condition('ind-c2-hf', 'ind-p2', ICPC2, 'K77', '2023-05-01'),
    condition('ind-c2-copd', 'ind-p2', SNOMED, '13645005', '2024-03-01'),
    condition('ind-c3', 'ind-p3', SNOMED, '44054006', '2022-01-01'),
    condition('ind-c4', 'ind-p4', SNOMED, '13645005', '2024-04-15'),
    condition('ind-c6', 'ind-p6', SNOMED, '44054006', '2024-02-01'),
    condition('ind-c8', 'ind-p8', SNOMED, '44054006', '2020-01-01', 'resolved', { abatementDateTime: '2023-12-01' }),
    // Not chronic: a sprain of P7.
    condition('ind-c7', 'ind-p7', SNOMED, '44465007', '2024-05-01'),

    team('ind-t1', 'ind-p1', 'active', { start: '2024-01-15' }, [
      member('Patient/ind-p1', [[HCP, 'patient']]),
      member('Practitioner/ind-gp', [[HCP, 'persgeneralphysician']]),
      member('Practitioner/ind-nurse', [[HCP, 'persnurse']]),
      member('Practitioner/ind-pharm', [[HCP, 'perspharmacist']]),
      member('Practitioner/ind-cardio', [[HCP, 'perscardiologist']]),
      member('RelatedPerson/ind-rp1', [[HCP, 'perscaregiver']]),
      member('Practitioner/ind-coord', [[ICR, 'carecoordinator']]),
      // Left the team before the period: does not count.
      member('Practitioner/ind-physio', [[HCP, 'persphysiotherapist']], { start: '2023-01-01', end: '2023-12-31' }),
    ]),
    team('ind-t1-old', 'ind-p1', 'inactive', { start: '2022-01-01', end: '2023-06-30' }, [member('Patient/ind-p1', [[HCP, 'patient']]), member('Practitioner/ind-gp', [[HCP, 'persgeneralphysician']])]),
    team('ind-t2a', 'ind-p2', 'active', { start: '2024-03-01' }, [
      member('Patient/ind-p2', [[HCP, 'patient']]),
      member('Practitioner/ind-gp', [[HCP, 'persgeneralphysician']]),
      member('Practitioner/ind-nurse', [[HCP, 'persnurse']]),
    ]),
    team('ind-t2b', 'ind-p2', 'active', { start: '2024-03-01' }, [
      member('Practitioner/ind-physio', [[HCP, 'persphysiotherapist']]),
      member('Practitioner/ind-pharm', [[HCP, 'perspharmacist']]),
      member('Practitioner/ind-cardio', [[HCP, 'perscardiologist']]),
      member('Practitioner/ind-coord', [[ICR, 'casemanager']]),
    ]),
    team('ind-t3', 'ind-p3', 'active', { start: '2022-01-01' }, [member('Patient/ind-p3', [[HCP, 'patient']]), member('Practitioner/ind-nurse', [[HCP, 'persnurse']])]),
    team('ind-t4', 'ind-p4', 'active', { start: '2023-11-01' }, [
      member('Patient/ind-p4', [[HCP, 'patient']], { start: '2023-11-01' }),
      member('Practitioner/ind-gp', [[HCP, 'persgeneralphysician']], { start: '2023-11-01' }),
      member('Practitioner/ind-nurse', [[HCP, 'persnurse']], { start: '2023-11-01' }),
      // No role on the participant: the RelatedPerson's relationship says caregiver.
      member('RelatedPerson/ind-rp4', undefined, { start: '2023-11-01' }),
    ]),
    team(
      'ind-t5',
      'ind-p5',
      'active',
      { start: '2024-01-01' },
      [
        member('Patient/ind-p5', [[HCP, 'patient']]),
        // The GP through a PractitionerRole whose code says so; no role on the participant.
        member('PractitionerRole/ind-role-gp2'),
        member('Practitioner/ind-nurse', [[HCP, 'persnurse']]),
      ],
      { managingOrganization: [{ reference: `Organization/${CONSORTIUM_A}` }] },
    ),

    goal('ind-g1', 'ind-p1', 'active', 'Patient/ind-p1'),
    goal('ind-g1x', 'ind-p1', 'cancelled', 'Patient/ind-p1'),
    goal('ind-g2a', 'ind-p2', 'active', 'Practitioner/ind-gp'),
    goal('ind-g2b', 'ind-p2', 'active', 'Patient/ind-p2'),
    goal('ind-g3', 'ind-p3', 'active', 'Patient/ind-p3'),
    goal('ind-g5', 'ind-p5', 'active', 'RelatedPerson/ind-rp5'),

    plan('ind-cp1', 'ind-p1', 'active', { start: '2024-02-01' }, {
      instantiatesCanonical: [`${GUIDELINE}/guideline-heart-failure`],
      careTeam: [{ reference: 'CareTeam/ind-t1' }],
      goal: [{ reference: 'Goal/ind-g1' }],
      addresses: [{ reference: 'Condition/ind-c1' }],
    }),
    plan('ind-cp2', 'ind-p2', 'active', { start: '2024-04-01' }, {
      instantiatesCanonical: [`${GUIDELINE}/guideline-heart-failure|1.0.0`],
      careTeam: [{ reference: 'CareTeam/ind-t2a' }, { reference: 'CareTeam/ind-t2b' }],
      goal: [{ reference: 'Goal/ind-g2a' }, { reference: 'Goal/ind-g2b' }],
      addresses: [{ reference: 'Condition/ind-c2-hf' }, { reference: 'Condition/ind-c2-copd' }],
    }),
    plan('ind-cp3', 'ind-p3', 'completed', { start: '2022-06-01', end: '2023-06-30' }, {
      careTeam: [{ reference: 'CareTeam/ind-t3' }],
      goal: [{ reference: 'Goal/ind-g3' }],
      addresses: [{ reference: 'Condition/ind-c3' }],
    }),
    plan('ind-cp4', 'ind-p4', 'active', { start: '2023-11-01' }, {
      instantiatesCanonical: ['https://example.org/PlanDefinition/not-a-known-guideline'],
      careTeam: [{ reference: 'CareTeam/ind-t4' }],
      addresses: [{ reference: 'Condition/ind-c4' }],
    }),
    plan('ind-cp5', 'ind-p5', 'active', { start: '2024-01-01' }, { careTeam: [{ reference: 'CareTeam/ind-t5' }], goal: [{ reference: 'Goal/ind-g5' }] }),
    plan('ind-cp7', 'ind-p7', 'active', { start: '2024-06-01' }, { instantiatesCanonical: [`${GUIDELINE}/guideline-diabetes-type2|1.0.0`] }),

    consent('ind-consent1', 'ind-p1', '2024-02-01T10:00:00+01:00', { type: 'permit', period: { start: '2024-02-01' } }),
    consent('ind-consent4', 'ind-p4', '2023-11-01T10:00:00+01:00', { type: 'permit', period: { start: '2023-11-01', end: '2023-12-31' } }),
    consent('ind-consent5', 'ind-p5', '2024-01-01T10:00:00+01:00', { type: 'deny' }),
    consent('ind-consent7', 'ind-p7', '2024-07-01T10:00:00+02:00'),
  ];
  return {
    resourceType: 'Bundle',
    type: 'transaction',
    entry: resources.map((r) => ({ resource: r, request: { method: 'PUT', url: `${String(r.resourceType)}/${String(r.id)}` } })),
  };
}

/** Plans and when their versions were stored (the server stamps "now"; the tests set these). */
export const PLAN_VERSIONS: Record<string, string> = {
  'ind-cp1': '2024-06-01T00:00:00Z',
  'ind-cp2': '2024-06-01T00:00:00Z',
  'ind-cp3': '2023-06-30T00:00:00Z',
  'ind-cp4': '2024-06-01T00:00:00Z',
  // Not touched for more than 12 months before the end of 2024.
  'ind-cp5': '2023-01-01T00:00:00Z',
  'ind-cp7': '2024-06-01T00:00:00Z',
};
