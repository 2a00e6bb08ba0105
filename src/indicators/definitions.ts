import type { Localized } from '../i18n/language.js';
import type { IndicatorSql } from './sql.js';

/**
 * The indicators of the pilot evaluation (docs/evaluation.md). Each is one FHIR Measure in
 * profiles/ (generated from this file by build-measures.ts, with its texts in Dutch, French and
 * English) and a reading of its family of per-patient sums in sql.ts (the patient, their care
 * teams, plans, goals or conditions): how many units of the patient are in the denominator and in
 * the numerator, and for continuous measures the observations. sql.ts aggregates them.
 */
export type Scoring = 'proportion' | 'ratio' | 'continuous-variable';
export type PopulationCode = 'initial-population' | 'denominator' | 'numerator' | 'measure-population' | 'measure-observation';

export interface IndicatorDef {
  id: string;
  name: string;
  topic: 'reach' | 'multidisciplinarity' | 'involvement' | 'coordination' | 'guidelines' | 'timeliness' | 'multimorbidity' | 'consent';
  scoring: Scoring;
  improvement: 'increase' | 'decrease';
  title: Localized;
  /** What is counted and how, for people: Measure.definition. */
  definition: Localized;
  /** What one counted unit is (a patient, a care team...), plural, for tables. */
  unit: Localized;
  populations: Partial<Record<PopulationCode, Localized>>;
  /** The unit of the score (UCUM code and text). */
  score: { code: string; text: Localized };
  /** A stratifier of its own besides age band and sex. */
  extraStratifier?: { code: string; text: Localized };
  sql: Omit<IndicatorSql, 'id'>;
}

const T = (nl: string, fr: string, en: string): Localized => ({ nl, fr, en });

const PERIOD_NOTE = T(
  'Een zorgplan of zorgteam telt in de periode als zijn looptijd (period, anders de aanmaakdatum; een afgesloten plan of inactief team zonder einddatum eindigt op het moment dat die status werd opgeslagen) de periode overlapt; plannen met status active, on-hold, completed of revoked en teams met status active, suspended of inactive.',
  "Un plan de soins ou une équipe compte pour la période si sa durée (period, sinon la date de création ; un plan terminé ou une équipe inactive sans date de fin se termine au moment où ce statut a été enregistré) chevauche la période ; plans au statut active, on-hold, completed ou revoked et équipes au statut active, suspended ou inactive.",
  'A care plan or care team counts in the period when its lifetime (period, else its creation date; a completed plan or inactive team without an end date ends when that status was stored) overlaps the period; plans with status active, on-hold, completed or revoked and teams with status active, suspended or inactive.',
);

const CONSORTIUM_NOTE = T(
  'Patiënten van het consortium: wie een zorgteam heeft dat in de periode loopt en door het consortium beheerd wordt (managingOrganization), anders wie op de laatste dag van de periode woont in een gemeente van zijn regio (thuisadres, NIS-code volgens Statbel).',
  "Patients du consortium : ceux dont une équipe de soins active pendant la période est gérée par le consortium (managingOrganization), sinon ceux qui, le dernier jour de la période, habitent une commune de sa région (adresse du domicile, code INS selon Statbel).",
  'Patients of the consortium: those with a care team in the period that the consortium manages (managingOrganization), else those who live on the last day of the period in a municipality of its region (home address, Statbel NIS code).',
);

const join = (...parts: Localized[]): Localized => ({ nl: parts.map((p) => p.nl).join(' '), fr: parts.map((p) => p.fr).join(' '), en: parts.map((p) => p.en).join(' ') });

const UNIT = {
  patients: T('patiënten', 'patients', 'patients'),
  teams: T('zorgteams', 'équipes de soins', 'care teams'),
  plans: T('zorgplannen', 'plans de soins', 'care plans'),
  goals: T('doelen', 'objectifs', 'goals'),
  conditions: T('chronische aandoeningen', 'affections chroniques', 'chronic conditions'),
};

const PROPORTION = { code: '1', text: T('aandeel (0 tot 1)', 'proportion (0 à 1)', 'proportion (0 to 1)') };

const teams = (num: string): Omit<IndicatorSql, 'id'> => ({ family: 'fam_team', den: 'f.teams', num });

const TEAMS_DENOMINATOR = T(
  'Zorgteams van patiënten van het consortium die in de periode lopen',
  'Équipes de soins des patients du consortium actives pendant la période',
  "Care teams of the consortium's patients in force during the period",
);

export const INDICATORS: IndicatorDef[] = [
  {
    id: 'icr-reach-per-1000',
    name: 'ReachPer1000Inhabitants',
    topic: 'reach',
    scoring: 'ratio',
    improvement: 'increase',
    title: T('Bereik: patiënten met een zorgplan per 1.000 inwoners', 'Portée : patients avec un plan de soins pour 1 000 habitants', 'Reach: patients with a care plan per 1,000 inhabitants'),
    definition: join(
      T(
        'Aantal patiënten van het consortium met minstens één zorgplan in de periode, per 1.000 inwoners van de regio van het consortium (Statbel-bevolking op 1 januari van het jaar dat het rapport vermeldt, de som van zijn gemeenten). De strata (leeftijd, geslacht) geven enkel het aantal patiënten: Statbel-cijfers per leeftijd en geslacht zijn niet beschikbaar.',
        "Nombre de patients du consortium ayant au moins un plan de soins pendant la période, pour 1 000 habitants de la région du consortium (population Statbel au 1er janvier de l'année indiquée dans le rapport, somme de ses communes). Les strates (âge, sexe) ne donnent que le nombre de patients : les chiffres Statbel par âge et sexe ne sont pas disponibles.",
        "Number of the consortium's patients with at least one care plan in the period, per 1,000 inhabitants of the consortium's region (Statbel population on 1 January of the year the report names, summed over its municipalities). The strata (age, sex) give the number of patients only: Statbel figures by age and sex are not available.",
      ),
      CONSORTIUM_NOTE,
      PERIOD_NOTE,
    ),
    unit: UNIT.patients,
    populations: {
      'initial-population': T('Patiënten van het consortium met een zorgplan in de periode', 'Patients du consortium avec un plan de soins pendant la période', "The consortium's patients with a care plan in the period"),
      numerator: T('Patiënten van het consortium met een zorgplan in de periode', 'Patients du consortium avec un plan de soins pendant la période', "The consortium's patients with a care plan in the period"),
      denominator: T('Inwoners van de regio (Statbel)', 'Habitants de la région (Statbel)', 'Inhabitants of the region (Statbel)'),
    },
    score: { code: '{patients}/1000{inhabitants}', text: T('per 1.000 inwoners', 'pour 1 000 habitants', 'per 1,000 inhabitants') },
    sql: { family: 'fam_patient', den: 'f.included::int', num: 'f.included::int' },
  },
  {
    id: 'icr-reach-chronic',
    name: 'ChronicPatientsWithCarePlan',
    topic: 'reach',
    scoring: 'proportion',
    improvement: 'increase',
    title: T('Bereik: aandeel chronische patiënten met een zorgplan', 'Portée : part des patients chroniques ayant un plan de soins', 'Reach: share of chronic patients with a care plan'),
    definition: join(
      T(
        'Van de patiënten van het consortium met een chronische aandoening in de periode (klinische status active, recurrence of relapse, of een einddatum in de periode; niet weerlegd; code in de lijst van chronische aandoeningen of de focus van een richtlijn), het aandeel met minstens één zorgplan in de periode.',
        "Parmi les patients du consortium ayant une affection chronique pendant la période (statut clinique active, recurrence ou relapse, ou une date de fin dans la période ; non réfutée ; code dans la liste des affections chroniques ou focus d'un guide de pratique), la part ayant au moins un plan de soins pendant la période.",
        "Of the consortium's patients with a chronic condition in the period (clinical status active, recurrence or relapse, or an abatement within the period; not refuted; a code in the list of chronic conditions or the focus of a guideline), the share with at least one care plan in the period.",
      ),
      CONSORTIUM_NOTE,
    ),
    unit: UNIT.patients,
    populations: {
      'initial-population': T('Patiënten met een chronische aandoening in de periode', 'Patients ayant une affection chronique pendant la période', 'Patients with a chronic condition in the period'),
      denominator: T('Patiënten met een chronische aandoening in de periode', 'Patients ayant une affection chronique pendant la période', 'Patients with a chronic condition in the period'),
      numerator: T('… met een zorgplan in de periode', '… ayant un plan de soins pendant la période', '… with a care plan in the period'),
    },
    score: PROPORTION,
    sql: { family: 'fam_patient', den: 'f.has_chronic::int', num: '(f.has_chronic AND f.included)::int' },
  },
  {
    id: 'icr-team-disciplines',
    name: 'DisciplinesPerCareTeam',
    topic: 'multidisciplinarity',
    scoring: 'continuous-variable',
    improvement: 'increase',
    title: T('Multidisciplinariteit: disciplines per zorgteam', 'Multidisciplinarité : disciplines par équipe de soins', 'Multidisciplinarity: disciplines per care team'),
    definition: join(
      T(
        'Gemiddeld (en mediaan) aantal verschillende disciplines per zorgteam: de verschillende CD-HCPARTY-zorgverlenerscodes (pers…, behalve de mantelzorger) van de rollen van de deelnemers met een lid dat in de periode deelneemt, en van de codes van PractitionerRole-leden.',
        "Nombre moyen (et médian) de disciplines différentes par équipe de soins : les codes de prestataires CD-HCPARTY différents (pers…, sauf l'aidant proche) des rôles des participants ayant un membre qui participe pendant la période, et des codes des membres PractitionerRole.",
        'Mean (and median) number of distinct disciplines per care team: the distinct CD-HCPARTY care-provider codes (pers…, the informal caregiver excepted) of the roles of participants with a member taking part during the period, and of the codes of PractitionerRole members.',
      ),
      PERIOD_NOTE,
    ),
    unit: UNIT.teams,
    populations: {
      'initial-population': TEAMS_DENOMINATOR,
      'measure-population': TEAMS_DENOMINATOR,
      'measure-observation': T('Aantal verschillende disciplines in het team', "Nombre de disciplines différentes dans l'équipe", 'Number of distinct disciplines in the team'),
    },
    score: { code: '{disciplines}', text: T('disciplines per zorgteam (gemiddelde)', 'disciplines par équipe (moyenne)', 'disciplines per care team (mean)') },
    sql: { family: 'fam_team', den: 'f.teams', num: 'f.teams', obsN: 'f.teams', obsSum: 'f.disciplines', observations: 'obs_disciplines' },
  },
  {
    id: 'icr-team-gp-nurse',
    name: 'CareTeamsWithGpAndNurse',
    topic: 'multidisciplinarity',
    scoring: 'proportion',
    improvement: 'increase',
    title: T('Multidisciplinariteit: zorgteams met huisarts én verpleegkundige', 'Multidisciplinarité : équipes avec médecin généraliste et infirmier', 'Multidisciplinarity: care teams with a GP and a nurse'),
    definition: join(
      T(
        'Aandeel van de zorgteams met minstens één huisarts (CD-HCPARTY persgeneralphysician) én één verpleegkundige (persnurse, groupofnurses) die in de periode deelnemen.',
        "Part des équipes de soins ayant au moins un médecin généraliste (CD-HCPARTY persgeneralphysician) et un infirmier (persnurse, groupofnurses) qui participent pendant la période.",
        'Share of care teams with at least one general practitioner (CD-HCPARTY persgeneralphysician) and one nurse (persnurse, groupofnurses) taking part during the period.',
      ),
      PERIOD_NOTE,
    ),
    unit: UNIT.teams,
    populations: { 'initial-population': TEAMS_DENOMINATOR, denominator: TEAMS_DENOMINATOR, numerator: T('… met huisarts en verpleegkundige', '… avec médecin généraliste et infirmier', '… with a GP and a nurse') },
    score: PROPORTION,
    sql: teams('f.gp_nurse'),
  },
  {
    id: 'icr-team-pharmacist-physio',
    name: 'CareTeamsWithPharmacistOrPhysiotherapist',
    topic: 'multidisciplinarity',
    scoring: 'proportion',
    improvement: 'increase',
    title: T('Multidisciplinariteit: zorgteams met apotheker of kinesitherapeut', 'Multidisciplinarité : équipes avec pharmacien ou kinésithérapeute', 'Multidisciplinarity: care teams with a pharmacist or a physiotherapist'),
    definition: join(
      T(
        'Aandeel van de zorgteams met minstens één apotheker (perspharmacist) of kinesitherapeut (persphysiotherapist en de gespecialiseerde kinesitherapeuten) die in de periode deelneemt.',
        "Part des équipes de soins ayant au moins un pharmacien (perspharmacist) ou un kinésithérapeute (persphysiotherapist et les kinésithérapeutes spécialisés) qui participe pendant la période.",
        'Share of care teams with at least one pharmacist (perspharmacist) or physiotherapist (persphysiotherapist and the specialised physiotherapists) taking part during the period.',
      ),
      PERIOD_NOTE,
    ),
    unit: UNIT.teams,
    populations: { 'initial-population': TEAMS_DENOMINATOR, denominator: TEAMS_DENOMINATOR, numerator: T('… met apotheker of kinesitherapeut', '… avec pharmacien ou kinésithérapeute', '… with a pharmacist or physiotherapist') },
    score: PROPORTION,
    sql: teams('f.pharm_physio'),
  },
  {
    id: 'icr-team-patient',
    name: 'CareTeamsWithPatientParticipant',
    topic: 'involvement',
    scoring: 'proportion',
    improvement: 'increase',
    title: T('Betrokkenheid: zorgteams waarin de patiënt deelneemt', 'Implication : équipes dont le patient est membre', 'Involvement: care teams in which the patient takes part'),
    definition: join(
      T(
        'Aandeel van de zorgteams waarvan de patiënt zelf (het subject) in de periode deelnemer is.',
        "Part des équipes de soins dont le patient lui-même (le subject) est participant pendant la période.",
        'Share of care teams in which the patient (the subject) is a participant during the period.',
      ),
      PERIOD_NOTE,
    ),
    unit: UNIT.teams,
    populations: { 'initial-population': TEAMS_DENOMINATOR, denominator: TEAMS_DENOMINATOR, numerator: T('… met de patiënt als deelnemer', '… avec le patient comme participant', '… with the patient as a participant') },
    score: PROPORTION,
    sql: teams('f.with_patient'),
  },
  {
    id: 'icr-team-caregiver',
    name: 'CareTeamsWithInformalCaregiver',
    topic: 'involvement',
    scoring: 'proportion',
    improvement: 'increase',
    title: T('Betrokkenheid: zorgteams met een mantelzorger', 'Implication : équipes avec un aidant proche', 'Involvement: care teams with an informal caregiver'),
    definition: join(
      T(
        'Aandeel van de zorgteams met een mantelzorger die in de periode deelneemt: een deelnemer met de rol CD-HCPARTY perscaregiver, of een RelatedPerson-lid met die relatie.',
        "Part des équipes de soins avec un aidant proche participant pendant la période : un participant au rôle CD-HCPARTY perscaregiver, ou un membre RelatedPerson ayant cette relation.",
        'Share of care teams with an informal caregiver taking part during the period: a participant with the role CD-HCPARTY perscaregiver, or a RelatedPerson member with that relationship.',
      ),
      PERIOD_NOTE,
    ),
    unit: UNIT.teams,
    populations: { 'initial-population': TEAMS_DENOMINATOR, denominator: TEAMS_DENOMINATOR, numerator: T('… met een mantelzorger', '… avec un aidant proche', '… with an informal caregiver') },
    score: PROPORTION,
    sql: teams('f.caregiver'),
  },
  {
    id: 'icr-goals-patient',
    name: 'GoalsExpressedByPatient',
    topic: 'involvement',
    scoring: 'proportion',
    improvement: 'increase',
    title: T('Betrokkenheid: doelen geformuleerd door de patiënt', 'Implication : objectifs formulés par le patient', 'Involvement: goals expressed by the patient'),
    definition: join(
      T(
        'Van de doelen van de ingesloten patiënten (patiënten van het consortium met een zorgplan in de periode) die vóór het einde van de periode begonnen of geregistreerd zijn (niet cancelled, rejected of entered-in-error), het aandeel met de patiënt zelf als expressedBy.',
        "Parmi les objectifs des patients inclus (patients du consortium ayant un plan de soins pendant la période) commencés ou enregistrés avant la fin de la période (ni cancelled, ni rejected, ni entered-in-error), la part dont expressedBy est le patient lui-même.",
        "Of the goals of the included patients (the consortium's patients with a care plan in the period) that started or were recorded before the end of the period (not cancelled, rejected or entered-in-error), the share with the patient as expressedBy.",
      ),
      CONSORTIUM_NOTE,
    ),
    unit: UNIT.goals,
    populations: {
      'initial-population': T('Doelen van de ingesloten patiënten', 'Objectifs des patients inclus', 'Goals of the included patients'),
      denominator: T('Doelen van de ingesloten patiënten', 'Objectifs des patients inclus', 'Goals of the included patients'),
      numerator: T('… geformuleerd door de patiënt', '… formulés par le patient', '… expressed by the patient'),
    },
    score: PROPORTION,
    sql: { family: 'fam_goal', den: 'f.goals', num: 'f.by_patient' },
  },
  {
    id: 'icr-team-coordinator',
    name: 'CareTeamsWithCoordinator',
    topic: 'coordination',
    scoring: 'proportion',
    improvement: 'increase',
    title: T('Coördinatie: zorgteams met zorgcoördinator of casemanager', 'Coordination : équipes avec coordinateur de soins ou gestionnaire de cas', 'Coordination: care teams with a care coordinator or case manager'),
    definition: join(
      T(
        'Aandeel van de zorgteams met een zorgcoördinator of casemanager (icr-hcparty carecoordinator, casemanager) die in de periode deelneemt.',
        "Part des équipes de soins avec un coordinateur de soins ou un gestionnaire de cas (icr-hcparty carecoordinator, casemanager) participant pendant la période.",
        'Share of care teams with a care coordinator or case manager (icr-hcparty carecoordinator, casemanager) taking part during the period.',
      ),
      PERIOD_NOTE,
    ),
    unit: UNIT.teams,
    populations: { 'initial-population': TEAMS_DENOMINATOR, denominator: TEAMS_DENOMINATOR, numerator: T('… met zorgcoördinator of casemanager', '… avec coordinateur ou gestionnaire de cas', '… with a care coordinator or case manager') },
    score: PROPORTION,
    sql: teams('f.coordinator'),
  },
  {
    id: 'icr-plan-team-goal',
    name: 'CarePlansWithTeamAndGoal',
    topic: 'coordination',
    scoring: 'proportion',
    improvement: 'increase',
    title: T('Coördinatie: zorgplannen met een zorgteam en een doel', 'Coordination : plans de soins avec une équipe et un objectif', 'Coordination: care plans with a care team and a goal'),
    definition: join(
      T(
        'Aandeel van de zorgplannen van patiënten van het consortium in de periode dat naar een zorgteam (CarePlan.careTeam, een opgeslagen CareTeam) en naar minstens één doel (CarePlan.goal) verwijst.',
        "Part des plans de soins des patients du consortium pendant la période qui renvoient à une équipe de soins (CarePlan.careTeam, une CareTeam enregistrée) et à au moins un objectif (CarePlan.goal).",
        "Share of the care plans of the consortium's patients in the period that refer to a care team (CarePlan.careTeam, a stored CareTeam) and to at least one goal (CarePlan.goal).",
      ),
      PERIOD_NOTE,
    ),
    unit: UNIT.plans,
    populations: {
      'initial-population': T('Zorgplannen in de periode', 'Plans de soins pendant la période', 'Care plans in the period'),
      denominator: T('Zorgplannen in de periode', 'Plans de soins pendant la période', 'Care plans in the period'),
      numerator: T('… met zorgteam en doel', '… avec équipe et objectif', '… with a care team and a goal'),
    },
    score: PROPORTION,
    sql: { family: 'fam_plan', den: 'f.plans', num: 'f.team_goal' },
  },
  {
    id: 'icr-plan-guideline-complete',
    name: 'CarePlansCoveringGuidelineDisciplines',
    topic: 'guidelines',
    scoring: 'proportion',
    improvement: 'increase',
    title: T('Richtlijnen: zorgplannen waarvan het team elke vereiste discipline heeft', "Guides de pratique : plans dont l'équipe couvre chaque discipline requise", 'Guidelines: care plans whose team covers every required discipline'),
    definition: join(
      T(
        'Van de zorgplannen in de periode die een gekende richtlijn instantiëren (instantiatesCanonical: een PlanDefinition van profiles/ of opgeslagen), het aandeel waarvan de zorgteams (CarePlan.careTeam) elke discipline hebben die de richtlijn vereist (PlanDefinition.action.participant.role van verplichte acties), met een lid dat in de periode deelneemt.',
        "Parmi les plans de soins de la période qui instancient un guide de pratique connu (instantiatesCanonical : une PlanDefinition de profiles/ ou enregistrée), la part dont les équipes (CarePlan.careTeam) comptent chaque discipline que le guide requiert (PlanDefinition.action.participant.role des actions obligatoires), avec un membre participant pendant la période.",
        'Of the care plans in the period that instantiate a known guideline (instantiatesCanonical: a PlanDefinition of profiles/ or a stored one), the share whose care teams (CarePlan.careTeam) have every discipline the guideline requires (PlanDefinition.action.participant.role of required actions), with a member taking part during the period.',
      ),
      PERIOD_NOTE,
    ),
    unit: UNIT.plans,
    populations: {
      'initial-population': T('Zorgplannen in de periode die een richtlijn instantiëren', 'Plans de soins de la période instanciant un guide de pratique', 'Care plans in the period that instantiate a guideline'),
      denominator: T('Zorgplannen in de periode die een richtlijn instantiëren', 'Plans de soins de la période instanciant un guide de pratique', 'Care plans in the period that instantiate a guideline'),
      numerator: T('… waarvan het team elke vereiste discipline heeft', "… dont l'équipe couvre chaque discipline requise", '… whose team covers every required discipline'),
    },
    score: PROPORTION,
    sql: { family: 'fam_guideline', den: 'f.guideline', num: 'f.guideline_complete' },
  },
  {
    id: 'icr-days-to-plan',
    name: 'DaysFromChronicConditionToCarePlan',
    topic: 'timeliness',
    scoring: 'continuous-variable',
    improvement: 'decrease',
    title: T('Tijdigheid: dagen van chronische aandoening tot zorgplan', "Délai : jours entre l'affection chronique et le plan de soins", 'Timeliness: days from chronic condition to care plan'),
    definition: join(
      T(
        'Voor elke chronische aandoening (niet weerlegd) van een patiënt van het consortium waarvan het eerste zorgplan dat ernaar verwijst (CarePlan.addresses) in de periode begint: het aantal dagen van de registratie van de aandoening (recordedDate, anders de eerste opslag) tot het begin van dat plan. Gemiddelde en mediaan. Een plan dat begon vóór de aandoening werd geregistreerd telt niet.',
        "Pour chaque affection chronique (non réfutée) d'un patient du consortium dont le premier plan de soins qui y renvoie (CarePlan.addresses) commence pendant la période : le nombre de jours entre l'enregistrement de l'affection (recordedDate, sinon le premier enregistrement) et le début de ce plan. Moyenne et médiane. Un plan commencé avant l'enregistrement de l'affection ne compte pas.",
        "For each chronic condition (not refuted) of a patient of the consortium whose first care plan that addresses it (CarePlan.addresses) starts in the period: the number of days from the condition being recorded (recordedDate, else when first stored) to the start of that plan. Mean and median. A plan that started before the condition was recorded does not count.",
      ),
      CONSORTIUM_NOTE,
    ),
    unit: UNIT.conditions,
    populations: {
      'initial-population': T('Chronische aandoeningen met een eerste zorgplan in de periode', 'Affections chroniques dont le premier plan commence pendant la période', 'Chronic conditions whose first care plan starts in the period'),
      'measure-population': T('Chronische aandoeningen met een eerste zorgplan in de periode', 'Affections chroniques dont le premier plan commence pendant la période', 'Chronic conditions whose first care plan starts in the period'),
      'measure-observation': T('Dagen van registratie tot zorgplan', "Jours entre l'enregistrement et le plan", 'Days from recording to care plan'),
    },
    score: { code: 'd', text: T('dagen (gemiddelde)', 'jours (moyenne)', 'days (mean)') },
    sql: { family: 'fam_days', den: 'f.n', num: 'f.n', obsN: 'f.n', obsSum: 'f.days', observations: 'obs_days' },
  },
  {
    id: 'icr-plan-updated',
    name: 'CarePlansUpdatedInLast12Months',
    topic: 'timeliness',
    scoring: 'proportion',
    improvement: 'increase',
    title: T('Tijdigheid: zorgplannen bijgewerkt in de laatste 12 maanden', 'Délai : plans de soins mis à jour au cours des 12 derniers mois', 'Timeliness: care plans updated in the last 12 months'),
    definition: join(
      T(
        'Van de zorgplannen van patiënten van het consortium die op de laatste dag van de periode lopen, het aandeel waarvan een versie (ook de eerste) werd opgeslagen in de 12 maanden vóór het einde van de periode (de versiegeschiedenis van de server).',
        "Parmi les plans de soins des patients du consortium en cours le dernier jour de la période, la part dont une version (la première comprise) a été enregistrée dans les 12 mois précédant la fin de la période (l'historique des versions du serveur).",
        "Of the care plans of the consortium's patients in force on the last day of the period, the share with a version (the first one included) stored in the 12 months before the end of the period (the server's version history).",
      ),
      PERIOD_NOTE,
    ),
    unit: UNIT.plans,
    populations: {
      'initial-population': T('Zorgplannen die lopen op de laatste dag van de periode', 'Plans de soins en cours le dernier jour de la période', 'Care plans in force on the last day of the period'),
      denominator: T('Zorgplannen die lopen op de laatste dag van de periode', 'Plans de soins en cours le dernier jour de la période', 'Care plans in force on the last day of the period'),
      numerator: T('… bijgewerkt in de 12 maanden vóór het einde van de periode', '… mis à jour dans les 12 mois avant la fin de la période', '… updated in the 12 months before the end of the period'),
    },
    score: PROPORTION,
    sql: { family: 'fam_plan', den: 'f.at_end', num: 'f.updated' },
  },
  {
    id: 'icr-multimorbidity',
    name: 'ChronicConditionsPerPatient',
    topic: 'multimorbidity',
    scoring: 'continuous-variable',
    improvement: 'decrease',
    title: T('Multimorbiditeit: chronische aandoeningen per patiënt', 'Multimorbidité : affections chroniques par patient', 'Multimorbidity: chronic conditions per patient'),
    definition: join(
      T(
        'Voor de ingesloten patiënten (patiënten van het consortium met een zorgplan in de periode): het aantal chronische aandoeningen in de periode per patiënt. Gemiddelde en mediaan; de verdeling (0, 1, 2, 3, 4 of meer) is een eigen stratificatie.',
        "Pour les patients inclus (patients du consortium ayant un plan de soins pendant la période) : le nombre d'affections chroniques pendant la période par patient. Moyenne et médiane ; la distribution (0, 1, 2, 3, 4 ou plus) est une stratification propre.",
        "For the included patients (the consortium's patients with a care plan in the period): the number of chronic conditions in the period per patient. Mean and median; the distribution (0, 1, 2, 3, 4 or more) is a stratifier of its own.",
      ),
      CONSORTIUM_NOTE,
    ),
    unit: UNIT.patients,
    populations: {
      'initial-population': T('Ingesloten patiënten', 'Patients inclus', 'Included patients'),
      'measure-population': T('Ingesloten patiënten', 'Patients inclus', 'Included patients'),
      'measure-observation': T('Aantal chronische aandoeningen in de periode', "Nombre d'affections chroniques pendant la période", 'Number of chronic conditions in the period'),
    },
    score: { code: '{conditions}', text: T('chronische aandoeningen per patiënt (gemiddelde)', 'affections chroniques par patient (moyenne)', 'chronic conditions per patient (mean)') },
    extraStratifier: { code: 'chronic-conditions', text: T('Aantal chronische aandoeningen', "Nombre d'affections chroniques", 'Number of chronic conditions') },
    sql: {
      family: 'fam_patient',
      den: 'f.included::int',
      num: 'f.included::int',
      obsN: 'f.included::int',
      obsSum: 'CASE WHEN f.included THEN f.chronic ELSE 0 END',
      observations: 'obs_chronic',
      extra: true,
    },
  },
  {
    id: 'icr-consent',
    name: 'IncludedPatientsWithActiveConsent',
    topic: 'consent',
    scoring: 'proportion',
    improvement: 'increase',
    title: T('Toestemming: ingesloten patiënten met een actieve toestemming', 'Consentement : patients inclus ayant un consentement actif', 'Consent: included patients with an active consent'),
    definition: join(
      T(
        'Van de ingesloten patiënten (patiënten van het consortium met een zorgplan in de periode), het aandeel met een Consent met status active, gegeven vóór het einde van de periode (dateTime), waarvan de provision niet als geheel weigert (type deny) en waarvan de periode (provision.period) de periode overlapt.',
        "Parmi les patients inclus (patients du consortium ayant un plan de soins pendant la période), la part ayant un Consent au statut active, donné avant la fin de la période (dateTime), dont la provision ne refuse pas dans son ensemble (type deny) et dont la période (provision.period) chevauche la période.",
        "Of the included patients (the consortium's patients with a care plan in the period), the share with a Consent with status active, given before the end of the period (dateTime), whose provision does not deny as a whole (type deny) and whose period (provision.period) overlaps the period.",
      ),
      CONSORTIUM_NOTE,
    ),
    unit: UNIT.patients,
    populations: {
      'initial-population': T('Ingesloten patiënten', 'Patients inclus', 'Included patients'),
      denominator: T('Ingesloten patiënten', 'Patients inclus', 'Included patients'),
      numerator: T('… met een actieve toestemming', '… ayant un consentement actif', '… with an active consent'),
    },
    score: PROPORTION,
    sql: { family: 'fam_patient', den: 'f.included::int', num: '(f.included AND f.consent)::int' },
  },
];

export function indicatorById(id: string): IndicatorDef | undefined {
  return INDICATORS.find((i) => i.id === id);
}

export const STRATIFIERS: Record<string, Localized> = {
  'age-band': T('Leeftijdsgroep op de laatste dag van de periode', "Tranche d'âge le dernier jour de la période", 'Age band on the last day of the period'),
  sex: T('Geslacht (Patient.gender)', 'Sexe (Patient.gender)', 'Sex (Patient.gender)'),
};
