import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Measure, MeasureGroup } from 'fhir/r4.js';
import type { Localized } from '../i18n/language.js';
import { INDICATORS, STRATIFIERS, type IndicatorDef, type PopulationCode } from './definitions.js';

export const MEASURE_BASE = 'https://fhir.integrated-care.be/Measure';
export const MEASURE_VERSION = '0.1.0';
const TRANSLATION = 'http://hl7.org/fhir/StructureDefinition/translation';
/** criteria.language of our populations: the expression names a population of src/indicators. */
export const CRITERIA_LANGUAGE = 'text/x-icr-indicator';

export const measureUrl = (def: IndicatorDef) => `${MEASURE_BASE}/${def.id}`;
export const measureCanonical = (def: IndicatorDef) => `${measureUrl(def)}|${MEASURE_VERSION}`;

/** The English text with its Dutch and French translations (the core translation extension). */
function translations(text: Localized) {
  return {
    extension: (['nl', 'fr'] as const).map((lang) => ({
      url: TRANSLATION,
      extension: [
        { url: 'lang', valueCode: lang },
        { url: 'content', valueString: text[lang] },
      ],
    })),
  };
}

const SCORING_DISPLAY = { proportion: 'Proportion', ratio: 'Ratio', 'continuous-variable': 'Continuous Variable' };
const POPULATION_DISPLAY: Record<PopulationCode, string> = {
  'initial-population': 'Initial Population',
  denominator: 'Denominator',
  numerator: 'Numerator',
  'measure-population': 'Measure Population',
  'measure-observation': 'Measure Observation',
};

/** The Measure resource of an indicator (profiles/Measure-<id>.json is written from this). */
export function measureResource(def: IndicatorDef): Measure {
  const stratifiers = [
    { code: 'age-band', text: STRATIFIERS['age-band'] },
    { code: 'sex', text: STRATIFIERS.sex },
    ...(def.extraStratifier ? [{ code: def.extraStratifier.code, text: def.extraStratifier.text }] : []),
  ];
  const group = (statistic?: 'mean' | 'median'): MeasureGroup => ({
    ...(statistic ? { code: { text: statistic }, description: statistic === 'mean' ? 'Score: the mean of the observations' : 'Score: the median of the observations' } : {}),
    population: (Object.entries(def.populations) as [PopulationCode, Localized][]).map(([code, text]) => ({
      code: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/measure-population', code, display: POPULATION_DISPLAY[code] }] },
      description: text.en,
      _description: translations(text),
      criteria: { language: CRITERIA_LANGUAGE, expression: `${def.id}.${code}` },
    })) as MeasureGroup['population'],
    stratifier: stratifiers.map((s) => ({
      code: { text: s.code },
      description: s.text.en,
      _description: translations(s.text),
      criteria: { language: CRITERIA_LANGUAGE, expression: `${def.id}.stratifier.${s.code}` },
    })) as MeasureGroup['stratifier'],
  });
  return {
    resourceType: 'Measure',
    id: def.id,
    url: measureUrl(def),
    version: MEASURE_VERSION,
    name: def.name,
    title: def.title.en,
    _title: translations(def.title),
    status: 'active',
    experimental: false,
    date: '2025-06-01',
    publisher: 'Integrated Care Record',
    description: def.definition.en,
    _description: translations(def.definition),
    subjectCodeableConcept: { coding: [{ system: 'http://hl7.org/fhir/resource-types', code: 'Patient' }] },
    topic: [{ text: def.topic }],
    scoring: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/measure-scoring', code: def.scoring, display: SCORING_DISPLAY[def.scoring] }] },
    type: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/measure-type', code: def.topic === 'timeliness' || def.topic === 'coordination' || def.topic === 'guidelines' ? 'process' : 'structure' }] }],
    improvementNotation: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/measure-improvement-notation', code: def.improvement }] },
    definition: [def.definition.en],
    _definition: [translations(def.definition)],
    guidance:
      'Computed by the Integrated Care Record in SQL over its store, per consortium and period ($evaluate-measure with periodStart, periodEnd and subject=Organization/{consortium}); the criteria expressions name the populations of src/indicators (docs/evaluation.md). Evaluation tokens get cells of fewer than 5 patients masked.',
    group: def.scoring === 'continuous-variable' ? [group('mean'), group('median')] : [group()],
  } as Measure;
}

export function measureFileName(def: IndicatorDef): string {
  return `Measure-${def.id}.json`;
}

export function serializeMeasure(def: IndicatorDef): string {
  return JSON.stringify(measureResource(def), null, 2) + '\n';
}

/** The Measure files of a package folder (profiles/): what the server serves read-only. */
export function loadMeasures(profilesDir: string): Measure[] {
  return readdirSync(profilesDir)
    .filter((f) => f.startsWith('Measure-') && f.endsWith('.json'))
    .sort()
    .map((f) => JSON.parse(readFileSync(join(profilesDir, f), 'utf8')) as Measure);
}

/** Measure files whose committed content differs from the definitions (run build-measures.ts). */
export function staleMeasures(profilesDir: string): string[] {
  const stale: string[] = [];
  for (const def of INDICATORS) {
    let current = '';
    try {
      current = readFileSync(join(profilesDir, measureFileName(def)), 'utf8');
    } catch {
      // missing: stale
    }
    if (current !== serializeMeasure(def)) stale.push(measureFileName(def));
  }
  return stale;
}
