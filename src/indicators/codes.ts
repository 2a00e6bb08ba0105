import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CD_HCPARTY, ICR_HCPARTY } from '../rules/model.js';
import { defaultProfilesDir } from '../validation/profiles-loader.js';

/**
 * The codes the indicators look for. Roles are `system|code` keys as the projection stores them
 * (CareTeam.participant.role, PractitionerRole.code, RelatedPerson.relationship). The GP, nurse,
 * coordinator and caregiver sets are those of the care-team rules (profiles/rules/care-team-2016).
 */
const hcp = (...codes: string[]) => codes.map((c) => `${CD_HCPARTY}|${c}`);
const icr = (...codes: string[]) => codes.map((c) => `${ICR_HCPARTY}|${c}`);

export const ROLES = {
  gp: hcp('persgeneralphysician'),
  nurse: hcp('persnurse', 'groupofnurses'),
  pharmacist: hcp('perspharmacist'),
  physio: hcp(
    'persphysiotherapist',
    'perscardiovascularphysiotherapist',
    'persrespiratoryphysiotherapist',
    'persneurologicalphysiotherapist',
    'perspediatricphysiotherapist',
    'persabdpelvrehabandperinatalphysiotherapist',
  ),
  coordinator: icr('carecoordinator', 'casemanager'),
  caregiver: hcp('perscaregiver'),
};

let disciplines: string[] | undefined;

/** The disciplines: every CD-HCPARTY person code (pers...) of profiles/, the informal caregiver excepted. */
export function disciplineKeys(profilesDir = defaultProfilesDir()): string[] {
  if (!disciplines) {
    const cs = JSON.parse(readFileSync(join(profilesDir, 'CodeSystem-cd-hcparty.json'), 'utf8')) as { concept?: { code: string }[] };
    disciplines = (cs.concept ?? []).map((c) => c.code).filter((c) => c.startsWith('pers') && c !== 'perscaregiver').map((c) => `${CD_HCPARTY}|${c}`);
  }
  return disciplines;
}

const SNOMED = 'http://snomed.info/sct';
const ICPC2 = 'http://hl7.org/fhir/sid/icpc-2';
const ICD10 = 'http://hl7.org/fhir/sid/icd-10';

/**
 * Chronic conditions, by code (exact match on system and code; the focus conditions of the
 * guidelines are added at start-up). SNOMED CT concepts, their ICPC-2 rubrics and ICD-10
 * categories (three characters: a more specific ICD-10 code such as E11.9 does not match).
 */
export const CHRONIC_CONDITIONS: { system: string; codes: string[] }[] = [
  {
    system: SNOMED,
    codes: [
      '73211009', // diabetes mellitus
      '44054006', // type 2
      '46635009', // type 1
      '84114007', // heart failure
      '13645005', // COPD
      '195967001', // asthma
      '38341003', // hypertension
      '709044004', // chronic kidney disease
      '52448006', // dementia
      '26929004', // Alzheimer's disease
      '49049000', // Parkinson's disease
      '24700007', // multiple sclerosis
      '35489007', // depressive disorder
      '230690007', // stroke
      '53741008', // coronary arteriosclerosis
      '49436004', // atrial fibrillation
      '69896004', // rheumatoid arthritis
      '396275006', // osteoarthritis
      '414916001', // obesity
      '248279007', // frailty
      '363346000', // malignant neoplastic disease
    ],
  },
  { system: ICPC2, codes: ['T89', 'T90', 'K77', 'R95', 'R96', 'K86', 'K87', 'P70', 'N87', 'N86', 'P76', 'K90', 'K74', 'K76', 'K78', 'L88', 'L89', 'L90', 'L91', 'T82'] },
  { system: ICD10, codes: ['E10', 'E11', 'I50', 'J44', 'J45', 'I10', 'N18', 'F00', 'F01', 'F03', 'G30', 'G20', 'G35', 'F32', 'F33', 'I63', 'I25', 'I48', 'M05', 'M06', 'M15', 'M16', 'M17', 'E66'] },
];

export function chronicKeys(extra: Iterable<string> = []): string[] {
  return [...new Set([...CHRONIC_CONDITIONS.flatMap((s) => s.codes.map((c) => `${s.system}|${c}`)), ...extra])];
}

/** Age bands on the last day of the period, and the values of the other stratifiers. */
export const AGE_BANDS = ['0-17', '18-44', '45-64', '65-74', '75-84', '85+', 'unknown'];
export const SEXES = ['female', 'male', 'other', 'unknown'];
export const CONDITION_COUNTS = ['0', '1', '2', '3', '4+'];
