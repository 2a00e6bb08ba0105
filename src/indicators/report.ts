import type { MeasureReport, MeasureReportGroup, MeasureReportGroupPopulation, MeasureReportGroupStratifier, Quantity } from 'fhir/r4.js';
import type { Language, Localized } from '../i18n/language.js';
import { AGE_BANDS, CONDITION_COUNTS, SEXES } from './codes.js';
import { STRATIFIERS, type IndicatorDef, type PopulationCode } from './definitions.js';
import type { Consortium, Period } from './engine.js';
import { measureCanonical } from './measures.js';
import type { AggregateRow } from './sql.js';

/** Cells with fewer patients than this (and more than none) are masked for evaluation tokens. */
export const SMALL_CELL = 5;

const DAR = 'http://hl7.org/fhir/StructureDefinition/data-absent-reason';
const POPULATION_SYSTEM = 'http://terminology.hl7.org/CodeSystem/measure-population';
const UCUM = 'http://unitsofmeasure.org';

/** One cell of a report: the totals or one stratum, after suppression. */
export interface Cell {
  stratifier: string | null;
  stratum: string | null;
  den: number;
  num: number;
  denPatients: number;
  numPatients: number;
  restPatients: number;
  observations: number;
  mean: number | null;
  median: number | null;
  suppressed: boolean;
}

/** The figures of one indicator for one consortium and period. */
export interface IndicatorResult {
  def: IndicatorDef;
  consortium: Consortium;
  period: Period;
  total: Cell;
  strata: { code: string; cells: Cell[] }[];
  /** Whether small cells were masked (evaluation tokens). */
  suppression: boolean;
}

function emptyCell(stratifier: string | null, stratum: string | null): Cell {
  return { stratifier, stratum, den: 0, num: 0, denPatients: 0, numPatients: 0, restPatients: 0, observations: 0, mean: null, median: null, suppressed: false };
}

function toCell(r: AggregateRow): Cell {
  return {
    stratifier: r.stratifier,
    stratum: r.stratum,
    den: Number(r.den),
    num: Number(r.num),
    denPatients: Number(r.den_pat),
    numPatients: Number(r.num_pat),
    restPatients: Number(r.rest_pat),
    observations: Number(r.obs_n),
    mean: r.mean === null ? null : Number(r.mean),
    median: r.median === null ? null : Number(r.median),
    suppressed: false,
  };
}

/** The values each stratifier of an indicator reports, in order (absent ones as zero cells). */
export function stratifierValues(def: IndicatorDef): { code: string; values: string[] }[] {
  const out = [
    { code: 'age-band', values: AGE_BANDS },
    { code: 'sex', values: SEXES },
  ];
  if (def.extraStratifier?.code === 'chronic-conditions') out.push({ code: 'chronic-conditions', values: CONDITION_COUNTS });
  return out;
}

const small = (n: number) => n > 0 && n < SMALL_CELL;

/**
 * Whether a cell shows fewer than SMALL_CELL patients anywhere: the patients counted, those in the
 * numerator, and (for proportions) those outside it, since denominator minus numerator gives them.
 */
function isSmall(def: IndicatorDef, c: Cell): boolean {
  if (def.scoring === 'ratio') return small(c.numPatients);
  if (def.scoring === 'continuous-variable') return small(c.denPatients);
  return small(c.denPatients) || small(c.numPatients) || small(c.restPatients);
}

/**
 * Small-cell suppression: a small total masks the whole report; a small stratum is masked, and when
 * it is the only masked one of its stratifier the next smallest non-empty stratum is masked too, so
 * that it cannot be recovered by subtracting the others from the total.
 */
export function suppress(def: IndicatorDef, total: Cell, strata: { code: string; cells: Cell[] }[]): void {
  if (isSmall(def, total)) {
    total.suppressed = true;
    for (const s of strata) for (const c of s.cells) c.suppressed = true;
    return;
  }
  for (const s of strata) {
    for (const c of s.cells) c.suppressed = isSmall(def, c);
    const masked = s.cells.filter((c) => c.suppressed);
    if (masked.length !== 1) continue;
    const next = s.cells.filter((c) => !c.suppressed && c.denPatients > 0).sort((a, b) => a.denPatients - b.denPatients)[0];
    if (next) next.suppressed = true;
  }
}

/** Groups the aggregate rows of one indicator and consortium into a result (with suppression if asked). */
export function indicatorResult(def: IndicatorDef, consortium: Consortium, period: Period, rows: AggregateRow[], suppression: boolean): IndicatorResult {
  const mine = rows.filter((r) => r.indicator === def.id && r.cid === consortium.id);
  const totalRow = mine.find((r) => r.stratifier === null);
  const total = totalRow ? toCell(totalRow) : emptyCell(null, null);
  const strata = stratifierValues(def).map(({ code, values }) => ({
    code,
    cells: values.map((v) => {
      const row = mine.find((r) => r.stratifier === code && r.stratum === v);
      return row ? toCell(row) : emptyCell(code, v);
    }),
  }));
  if (suppression) suppress(def, total, strata);
  return { def, consortium, period, total, strata, suppression };
}

const round = (n: number, digits: number) => Math.round(n * 10 ** digits) / 10 ** digits;

/** The score of a cell: the proportion, the rate per 1,000 inhabitants or the mean (median). */
export function score(def: IndicatorDef, c: Cell, consortium: Consortium, statistic: 'mean' | 'median' = 'mean'): number | undefined {
  if (def.scoring === 'proportion') return c.den > 0 ? round(c.num / c.den, 4) : undefined;
  if (def.scoring === 'ratio') return c.stratifier === null && consortium.population > 0 ? round((c.num * 1000) / consortium.population, 3) : undefined;
  const v = statistic === 'mean' ? c.mean : c.median;
  return v === null ? undefined : round(v, 2);
}

const masked = () => ({ extension: [{ url: DAR, valueCode: 'masked' }] });

function population(code: PopulationCode, count: number | undefined, text: string, hidden: boolean): MeasureReportGroupPopulation {
  const p: MeasureReportGroupPopulation = { code: { coding: [{ system: POPULATION_SYSTEM, code }], text } };
  if (hidden) (p as Record<string, unknown>)._count = masked();
  else if (count !== undefined) p.count = count;
  return p;
}

/** The texts a report needs, in the reader's language. */
export function statbelText(consortium: Consortium, lang: Language): string {
  const t: Localized = {
    nl: `Statbel, bevolking op 1 januari ${consortium.populationYear}`,
    fr: `Statbel, population au 1er janvier ${consortium.populationYear}`,
    en: `Statbel, population on 1 January ${consortium.populationYear}`,
  };
  return t[lang];
}

function populations(def: IndicatorDef, c: Cell, consortium: Consortium, lang: Language, stratum: boolean): MeasureReportGroupPopulation[] {
  const text = (code: PopulationCode) => def.populations[code]?.[lang] ?? code;
  const hide = c.suppressed;
  switch (def.scoring) {
    case 'ratio': {
      const out = [population('initial-population', c.num, text('initial-population'), hide), population('numerator', c.num, text('numerator'), hide)];
      if (!stratum) out.push(population('denominator', consortium.population, `${text('denominator')}: ${statbelText(consortium, lang)}`, false));
      return out;
    }
    case 'proportion':
      return [population('initial-population', c.den, text('initial-population'), hide), population('denominator', c.den, text('denominator'), hide), population('numerator', c.num, text('numerator'), hide)];
    case 'continuous-variable':
      return [
        population('initial-population', c.den, text('initial-population'), hide),
        population('measure-population', c.den, text('measure-population'), hide),
        population('measure-observation', c.observations, text('measure-observation'), hide),
      ];
  }
}

function quantity(def: IndicatorDef, value: number | undefined, c: Cell, consortium: Consortium, lang: Language): Quantity | undefined {
  if (c.suppressed) return masked() as Quantity;
  if (value === undefined) return undefined;
  const unit = def.scoring === 'ratio' ? `${def.score.text[lang]} (${statbelText(consortium, lang)})` : def.score.text[lang];
  return { value, unit, system: UCUM, code: def.score.code };
}

const SUPPRESSION_NOTE: Localized = {
  nl: `Cellen met minder dan ${SMALL_CELL} patiënten zijn gemaskeerd (data-absent-reason masked); waar één gemaskeerde cel uit de andere kon worden afgeleid, is ook de kleinste andere cel gemaskeerd.`,
  fr: `Les cellules de moins de ${SMALL_CELL} patients sont masquées (data-absent-reason masked) ; là où une cellule masquée pouvait se déduire des autres, la plus petite autre cellule est masquée aussi.`,
  en: `Cells with fewer than ${SMALL_CELL} patients are masked (data-absent-reason masked); where one masked cell could be derived from the others, the smallest other cell is masked too.`,
};

const escapeXml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** A MeasureReport (type summary) for one indicator, consortium and period. */
export function measureReport(result: IndicatorResult, lang: Language, now = new Date()): MeasureReport {
  const { def, consortium, period } = result;
  const statistics: ('mean' | 'median')[] = def.scoring === 'continuous-variable' ? ['mean', 'median'] : ['mean'];
  const groups: MeasureReportGroup[] = statistics.map((statistic) => {
    const group: MeasureReportGroup = {};
    if (def.scoring === 'continuous-variable') group.code = { text: statistic };
    group.population = populations(def, result.total, consortium, lang, false);
    const total = quantity(def, score(def, result.total, consortium, statistic), result.total, consortium, lang);
    if (total) group.measureScore = total;
    group.stratifier = result.strata.map(
      (s): MeasureReportGroupStratifier => ({
        code: [{ text: s.code }],
        stratum: s.cells.map((c) => {
          const stratum: NonNullable<MeasureReportGroupStratifier['stratum']>[number] = {
            value: s.code === 'sex' ? { coding: [{ system: 'http://hl7.org/fhir/administrative-gender', code: c.stratum! }], text: c.stratum! } : { text: c.stratum! },
            population: populations(def, c, consortium, lang, true),
          };
          const q = quantity(def, score(def, c, consortium, statistic), c, consortium, lang);
          if (q) stratum.measureScore = q;
          return stratum;
        }),
      }),
    );
    return group;
  });
  const report: MeasureReport = {
    resourceType: 'MeasureReport',
    contained: [
      {
        resourceType: 'Group',
        id: 'consortium',
        type: 'person',
        actual: false,
        name: consortium.name,
        managingEntity: { reference: `Organization/${consortium.id}`, display: consortium.name },
        characteristic: [
          {
            code: { text: CONSORTIUM_TEXT[lang] },
            valueReference: { reference: `Organization/${consortium.id}` },
            exclude: false,
          },
        ],
      },
    ],
    status: 'complete',
    type: 'summary',
    measure: measureCanonical(def),
    subject: { reference: '#consortium', display: consortium.name },
    date: now.toISOString(),
    period: { start: period.start, end: period.end },
    improvementNotation: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/measure-improvement-notation', code: def.improvement }] },
    group: groups,
  };
  if (result.suppression && (result.total.suppressed || result.strata.some((s) => s.cells.some((c) => c.suppressed)))) {
    report.text = { status: 'additional', div: `<div xmlns="http://www.w3.org/1999/xhtml"><p>${escapeXml(SUPPRESSION_NOTE[lang])}</p></div>` };
  }
  return report;
}

const CONSORTIUM_TEXT: Localized = {
  nl: 'Patiënten van het consortium (beheerd zorgteam, anders woonplaats in de regio)',
  fr: 'Patients du consortium (équipe de soins gérée, sinon domicile dans la région)',
  en: 'Patients of the consortium (managed care team, else home in the region)',
};

export { STRATIFIERS };
