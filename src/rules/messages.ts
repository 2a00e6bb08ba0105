import type { Localized } from '../i18n/language.js';

/** Texts of the rules operations that do not come from a rules file. */
export const MSG = {
  bundleRequired: {
    en: '$check-consortium takes a Bundle that holds the consortium (an Organization of type orgconsortium), its OrganizationAffiliations and their partner Organizations',
    nl: '$check-consortium verwacht een Bundle met het consortium (een Organization van type orgconsortium), zijn OrganizationAffiliations en de partnerorganisaties',
    fr: '$check-consortium attend un Bundle contenant le consortium (une Organization de type orgconsortium), ses OrganizationAffiliations et les organisations partenaires',
  },
  oneConsortium: {
    en: 'The Bundle must hold exactly one Organization of type orgconsortium (icr-hcparty); it holds {count}',
    nl: 'De Bundle moet precies één Organization van type orgconsortium (icr-hcparty) bevatten; hij bevat er {count}',
    fr: "Le Bundle doit contenir exactement une Organization de type orgconsortium (icr-hcparty) ; il en contient {count}",
  },
  notConsortium: {
    en: 'Organization/{id} is not a consortium: its type does not include orgconsortium (https://fhir.integrated-care.be/CodeSystem/icr-hcparty)',
    nl: 'Organization/{id} is geen consortium: zijn type bevat geen orgconsortium (https://fhir.integrated-care.be/CodeSystem/icr-hcparty)',
    fr: "Organization/{id} n'est pas un consortium : son type ne contient pas orgconsortium (https://fhir.integrated-care.be/CodeSystem/icr-hcparty)",
  },
  unknownCall: {
    en: 'The call for projects {call} is not known here; known calls: {known}',
    nl: 'De oproep {call} is hier niet gekend; gekende oproepen: {known}',
    fr: "L'appel {call} n'est pas connu ici ; appels connus : {known}",
  },
  partnerMissing: {
    en: 'The partner {reference} is neither in the Bundle nor on this server',
    nl: 'De partner {reference} staat niet in de Bundle en niet op deze server',
    fr: 'Le partenaire {reference} ne figure ni dans le Bundle ni sur ce serveur',
  },
  rulesApplied: {
    en: 'Checked against {title} ({url}|{version})',
    nl: 'Nagegaan volgens {title} ({url}|{version})',
    fr: 'Vérifié selon {title} ({url}|{version})',
  },
  subjectRequired: {
    en: '$apply needs the subject parameter: the patient, as Patient/{id}',
    nl: '$apply heeft de parameter subject nodig: de patiënt, als Patient/{id}',
    fr: '$apply requiert le paramètre subject : le patient, sous la forme Patient/{id}',
  },
  patientUnknown: {
    en: 'Patient/{id} is not known',
    nl: 'Patient/{id} is niet gekend',
    fr: "Patient/{id} n'est pas connu",
  },
  guidelineUnknown: {
    en: 'PlanDefinition/{id} is not known (built-in guidelines: {known})',
    nl: 'PlanDefinition/{id} is niet gekend (ingebouwde richtlijnen: {known})',
    fr: "PlanDefinition/{id} n'est pas connu (recommandations intégrées : {known})",
  },
  planUnknown: {
    en: 'CarePlan/{id} is not known',
    nl: 'CarePlan/{id} is niet gekend',
    fr: "CarePlan/{id} n'est pas connu",
  },
  planNoGuideline: {
    en: 'CarePlan/{id} instantiates no guideline known here (instantiatesCanonical: {canonicals}); $gaps compares a plan with the PlanDefinition it instantiates',
    nl: 'CarePlan/{id} volgt geen hier gekende richtlijn (instantiatesCanonical: {canonicals}); $gaps vergelijkt een plan met de PlanDefinition die het volgt',
    fr: "CarePlan/{id} n'applique aucune recommandation connue ici (instantiatesCanonical : {canonicals}) ; $gaps compare un plan à la PlanDefinition qu'il applique",
  },
  proposedTeam: {
    en: 'Proposed care team: {guideline}',
    nl: 'Voorgesteld zorgteam: {guideline}',
    fr: 'Équipe de soins proposée : {guideline}',
  },
  gapDiscipline: {
    en: "The care team has no {discipline}, which the guideline '{guideline}' requires for: {activities}",
    nl: "Het zorgteam heeft geen {discipline}, die de richtlijn '{guideline}' vraagt voor: {activities}",
    fr: "L'équipe de soins n'a pas de {discipline}, que la recommandation « {guideline} » demande pour : {activities}",
  },
  gapDisciplineOptional: {
    en: "The care team has no {discipline}, recommended by the guideline '{guideline}' for: {activities}",
    nl: "Het zorgteam heeft geen {discipline}, aanbevolen door de richtlijn '{guideline}' voor: {activities}",
    fr: "L'équipe de soins n'a pas de {discipline}, recommandé par la recommandation « {guideline} » pour : {activities}",
  },
  gapActivity: {
    en: "The plan has no activity '{activity}' ({code}), which the guideline '{guideline}' requires",
    nl: "Het plan heeft geen activiteit '{activity}' ({code}), die de richtlijn '{guideline}' vraagt",
    fr: "Le plan n'a pas d'activité « {activity} » ({code}), que la recommandation « {guideline} » demande",
  },
  gapActivityOptional: {
    en: "The plan has no activity '{activity}' ({code}); the guideline '{guideline}' recommends it when indicated",
    nl: "Het plan heeft geen activiteit '{activity}' ({code}); de richtlijn '{guideline}' raadt ze aan wanneer aangewezen",
    fr: "Le plan n'a pas d'activité « {activity} » ({code}) ; la recommandation « {guideline} » la conseille lorsqu'elle est indiquée",
  },
  noGaps: {
    en: "The care team and the activities of the plan cover every discipline and activity of the guideline '{guideline}'",
    nl: "Het zorgteam en de activiteiten van het plan dekken elke discipline en activiteit van de richtlijn '{guideline}'",
    fr: "L'équipe de soins et les activités du plan couvrent chaque discipline et activité de la recommandation « {guideline} »",
  },
} satisfies Record<string, Localized>;
