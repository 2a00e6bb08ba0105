import { readFileSync } from 'node:fs';
import type { OperationOutcome, OperationOutcomeIssue } from 'fhir/r4.js';

export const HC = 'https://www.ehealth.fgov.be/standards/fhir/core/CodeSystem/cd-hcparty';
export const ICR = 'https://fhir.integrated-care.be/CodeSystem/icr-hcparty';
export const NIS = 'https://fhir.integrated-care.be/CodeSystem/refnis';
export const REGION = 'https://fhir.integrated-care.be/StructureDefinition/icr-region-municipality';
export const CALL = 'https://fhir.integrated-care.be/StructureDefinition/icr-consortium-call';
export const CONSORTIUM_RULES = 'https://fhir.integrated-care.be/rules/consortium-2016';
export const CARE_TEAM_RULES = 'https://fhir.integrated-care.be/rules/care-team-2016';

type Obj = Record<string, unknown>;

/**
 * The 2020 population of municipalities, read straight from the Statbel file (not through the
 * rules engine), so that the sums the engine reports can be checked against the data.
 */
export function statbelPopulation(...nis: string[]): number {
  const text = readFileSync(new URL('../../fixtures/statbel/municipalities-2020.csv', import.meta.url), 'utf8');
  const byCode = new Map<string, number>();
  for (const line of text.split('\n').slice(1)) {
    const m = /^(\d{5}),.*,"(\d+)",\d*\s*$/.exec(line);
    if (m) byCode.set(m[1], Number(m[2]));
  }
  return nis.reduce((sum, code) => {
    const n = byCode.get(code);
    if (n === undefined) throw new Error(`${code} is not in the Statbel file`);
    return sum + n;
  }, 0);
}

export const issues = (outcome: unknown): OperationOutcomeIssue[] => (outcome as OperationOutcome).issue ?? [];
/** Issues of one rule (details.coding names the rule). */
export const ofRule = (outcome: unknown, rule: string) => issues(outcome).filter((i) => i.details?.coding?.some((c) => c.code === rule));
export const bad = (outcome: unknown) => issues(outcome).filter((i) => i.severity === 'error' || i.severity === 'warning');
export const text = (i: OperationOutcomeIssue) => i.details?.text ?? i.diagnostics ?? '';

export const coding = (system: string, code: string) => ({ coding: [{ system, code }] });

/** A partner category of the 2016 call, with the code its partnership carries. */
export const CATEGORIES: Record<string, { system: string; code: string; name: string }> = {
  gp: { system: HC, code: 'groupofphysicianssameaddress', name: 'Huisartsenpraktijk Test' },
  'home-nursing': { system: HC, code: 'groupofnurses', name: 'Thuisverpleging Test' },
  hospital: { system: HC, code: 'orghospital', name: 'AZ Test' },
  'home-or-residential-care': { system: HC, code: 'orgretirementhome', name: 'WZC Test' },
  'consultation-structure': { system: ICR, code: 'orgconsultationstructure', name: 'Zorgraad Test' },
  'patient-association': { system: ICR, code: 'orgpatientassociation', name: 'Patiëntenvereniging Test' },
  sel: { system: ICR, code: 'orgsel', name: 'SEL Test' },
  lmn: { system: ICR, code: 'orglmn', name: 'LMN Test' },
  'ggz-platform': { system: ICR, code: 'orgggznetwork', name: 'GGZ-platform Test' },
  logo: { system: ICR, code: 'orglogo', name: 'LOGO Test' },
};

export interface ConsortiumOptions {
  /** Partner categories to leave out. */
  without?: string[];
  /** NIS codes of the region: a code, or [code, version]. Default: Kortrijk and Kuurne. */
  region?: (string | [string, string])[];
  /** No specialism on the hospital's partnership. */
  noSpecialty?: boolean;
  /** Extra partners: [name, system, code]. */
  extra?: [string, string, string][];
  call?: string;
  name?: string;
}

/**
 * A collection Bundle with a consortium that meets every rule of the 2016 call (unless told
 * otherwise), its partner Organizations and their OrganizationAffiliations, all by urn:uuid.
 */
export function consortiumBundle(options: ConsortiumOptions = {}): Obj {
  const entries: Obj[] = [];
  let n = 0;
  const uuid = () => `urn:uuid:00000000-0000-4000-8000-${String(++n).padStart(12, '0')}`;
  const consortiumUrl = uuid();
  const region = options.region ?? ['34022', '34023'];
  const extension: Obj[] = region.map((r) => {
    const [code, version] = Array.isArray(r) ? r : [r, undefined];
    return { url: REGION, valueCoding: { system: NIS, code, ...(version ? { version } : {}) } };
  });
  if (options.call) extension.push({ url: CALL, valueUri: options.call });
  entries.push({
    fullUrl: consortiumUrl,
    resource: { resourceType: 'Organization', extension, active: true, type: [coding(ICR, 'orgconsortium')], name: options.name ?? 'Testconsortium' },
  });
  const partners: [string, string, string, boolean][] = Object.entries(CATEGORIES)
    .filter(([key]) => !options.without?.includes(key))
    .map(([key, c]) => [c.name, c.system, c.code, key === 'hospital']);
  for (const [name, system, code] of options.extra ?? []) partners.push([name, system, code, false]);
  for (const [name, system, code, isHospital] of partners) {
    const orgUrl = uuid();
    entries.push({ fullUrl: orgUrl, resource: { resourceType: 'Organization', active: true, type: [coding(system, code)], name } });
    const affiliation: Obj = {
      resourceType: 'OrganizationAffiliation',
      active: true,
      organization: { reference: consortiumUrl },
      participatingOrganization: { reference: orgUrl },
      code: [coding(system, code)],
    };
    if (isHospital && !options.noSpecialty) affiliation.specialty = [coding(HC, 'deptcardiology')];
    entries.push({ fullUrl: uuid(), resource: affiliation });
  }
  return { resourceType: 'Bundle', type: 'collection', entry: entries };
}

export const participant = (role: [string, string], member?: string, extra: Obj = {}): Obj => ({
  role: [coding(...role)],
  ...(member ? { member: { reference: member } } : {}),
  period: { start: '2024-01-01' },
  ...extra,
});

export const ROLE = {
  patient: [HC, 'patient'] as [string, string],
  gp: [HC, 'persgeneralphysician'] as [string, string],
  nurse: [HC, 'persnurse'] as [string, string],
  coordinator: [ICR, 'carecoordinator'] as [string, string],
  caregiver: [HC, 'perscaregiver'] as [string, string],
  pharmacist: [HC, 'perspharmacist'] as [string, string],
  cardiologist: [HC, 'perscardiologist'] as [string, string],
  pneumologist: [HC, 'perspneumologist'] as [string, string],
  physio: [HC, 'persphysiotherapist'] as [string, string],
  physician: [HC, 'persphysician'] as [string, string],
};

/**
 * Jan Peeters' team from the fixtures (Kortrijk, consortium Leiestreek): every rule met, every
 * provider working for a partner. `change` edits the participant list.
 */
export function janTeam(id: string, change: (participants: Obj[]) => Obj[] = (p) => p, status = 'active'): Obj {
  const participants = [
    participant(ROLE.patient, 'Patient/pat-jan-peeters'),
    participant(ROLE.caregiver, 'RelatedPerson/rp-maria-peeters'),
    participant(ROLE.gp, 'Practitioner/prac-an-vermeulen', { onBehalfOf: { reference: 'Organization/org-hap-de-brug' } }),
    participant(ROLE.nurse, 'Practitioner/prac-els-maes', { onBehalfOf: { reference: 'Organization/org-thuisverpleging-zuidwest' } }),
    participant(ROLE.coordinator, 'Practitioner/prac-sarah-goossens', { onBehalfOf: { reference: 'Organization/org-thuisverpleging-zuidwest' } }),
  ];
  return { resourceType: 'CareTeam', id, status, subject: { reference: 'Patient/pat-jan-peeters' }, participant: change(participants) };
}

/** The X-FHIR-Request-Validation header: the warnings of a write as "severity expression: text | ...". */
export const validationHeader = (headers: Record<string, string>): string => headers['x-fhir-request-validation'] ?? '';
