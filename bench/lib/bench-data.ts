/**
 * Realistic resources for the benchmarks, valid against our profiles: the same shape as the
 * fixtures, with generated SSINs (check digits computed) and names.
 */
const SSIN = 'https://www.ehealth.fgov.be/standards/fhir/core/NamingSystem/ssin';
const HCP = 'https://www.ehealth.fgov.be/standards/fhir/core/CodeSystem/cd-hcparty';
const ICR = 'https://fhir.integrated-care.be/CodeSystem/icr-hcparty';
const FAMILIES = ['Peeters', 'Janssens', 'Maes', 'Jacobs', 'Mertens', 'Willems', 'Claes', 'Goossens', 'Wouters', 'De Smet', 'Dubois', 'Lambert', 'Dupont', 'Martin', 'Simon', 'Leroy'];
const GIVEN = ['Jan', 'Maria', 'Lucas', 'Els', 'Françoise', 'Jean-Pierre', 'Élise', 'Pieter', 'An', 'Marc', 'Sophie', 'Nicolas'];

export function ssin(birthDate: string, serial: number): string {
  const base = `${birthDate.slice(2, 4)}${birthDate.slice(5, 7)}${birthDate.slice(8, 10)}${String(serial).padStart(3, '0')}`;
  const n = BigInt(birthDate >= '2000' ? `2${base}` : base);
  return `${base}${String(97n - (n % 97n)).padStart(2, '0')}`;
}

export function benchPatient(i: number): Record<string, unknown> {
  const year = 1930 + (i % 60);
  const birthDate = `${year}-${String((i % 12) + 1).padStart(2, '0')}-${String((i % 28) + 1).padStart(2, '0')}`;
  const female = i % 2 === 0;
  return {
    resourceType: 'Patient',
    identifier: [{ use: 'official', system: SSIN, value: ssin(birthDate, ((i * 2) % 997) + (female ? 2 : 1)) }],
    name: [{ use: 'official', family: FAMILIES[i % FAMILIES.length], given: [GIVEN[i % GIVEN.length]] }],
    gender: female ? 'female' : 'male',
    birthDate,
    telecom: [{ system: 'phone', value: `+32 56 ${String(100000 + i).slice(-6)}`, use: 'home' }],
    address: [{ use: 'home', line: [`Kerkstraat ${(i % 200) + 1}`], city: 'Kortrijk', postalCode: '8500', country: 'BE' }],
    generalPractitioner: [{ reference: 'Practitioner/prac-an-vermeulen' }],
  };
}

const participant = (member: string, system: string, code: string) => ({
  role: [{ coding: [{ system, code }] }],
  member: { reference: member },
  period: { start: '2024-02-01' },
});

export function benchCareTeam(patientId: string): Record<string, unknown> {
  return {
    resourceType: 'CareTeam',
    status: 'active',
    name: 'Zorgteam',
    subject: { reference: `Patient/${patientId}` },
    period: { start: '2024-02-01' },
    participant: [
      participant(`Patient/${patientId}`, HCP, 'patient'),
      participant('Practitioner/prac-an-vermeulen', HCP, 'persgeneralphysician'),
      participant('Practitioner/prac-els-maes', HCP, 'persnurse'),
      participant('Practitioner/prac-sarah-goossens', ICR, 'carecoordinator'),
    ],
  };
}

export function benchCondition(patientId: string): Record<string, unknown> {
  return {
    resourceType: 'Condition',
    clinicalStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-clinical', code: 'active' }] },
    verificationStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-ver-status', code: 'confirmed' }] },
    code: { coding: [{ system: 'http://snomed.info/sct', code: '44054006', display: 'Diabetes mellitus type 2' }] },
    subject: { reference: `Patient/${patientId}` },
    recordedDate: '2020-03-10',
  };
}

export function benchCarePlan(patientId: string, careTeamId: string, conditionId: string): Record<string, unknown> {
  return {
    resourceType: 'CarePlan',
    status: 'active',
    intent: 'plan',
    title: 'Zorgplan diabetes',
    category: [{ coding: [{ system: 'http://snomed.info/sct', code: '736271009' }] }],
    subject: { reference: `Patient/${patientId}` },
    period: { start: '2024-02-01' },
    careTeam: [{ reference: `CareTeam/${careTeamId}` }],
    addresses: [{ reference: `Condition/${conditionId}` }],
    activity: [
      {
        detail: {
          kind: 'ServiceRequest',
          code: { coding: [{ system: 'http://snomed.info/sct', code: '385804009', display: 'Diabetic care' }] },
          status: 'in-progress',
          performer: [{ reference: 'Practitioner/prac-an-vermeulen' }],
        },
      },
    ],
  };
}
