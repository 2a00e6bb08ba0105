import type { Language } from '../i18n/language.js';
import { score, statbelText, type Cell, type IndicatorResult } from './report.js';

const COLUMNS = [
  'measure',
  'title',
  'consortium',
  'consortium_name',
  'period_start',
  'period_end',
  'stratifier',
  'stratum',
  'counted',
  'denominator',
  'numerator',
  'score',
  'median',
  'score_unit',
  'patients',
  'suppressed',
];

/** RFC 4180: fields with a comma, quote or line break are quoted, quotes doubled. */
function field(value: unknown): string {
  if (value === undefined || value === null) return '';
  const text = String(value);
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

function row(result: IndicatorResult, c: Cell, lang: Language): unknown[] {
  const { def, consortium, period } = result;
  const hidden = c.suppressed;
  const total = c.stratifier === null;
  let denominator: number | undefined;
  let numerator: number | undefined;
  if (def.scoring === 'ratio') {
    denominator = total ? consortium.population : undefined;
    numerator = hidden ? undefined : c.num;
  } else if (def.scoring === 'proportion') {
    denominator = hidden ? undefined : c.den;
    numerator = hidden ? undefined : c.num;
  } else {
    denominator = hidden ? undefined : c.den;
  }
  const unit = def.scoring === 'ratio' ? `${def.score.text[lang]} (${statbelText(consortium, lang)})` : def.score.text[lang];
  return [
    def.id,
    def.title[lang],
    `Organization/${consortium.id}`,
    consortium.name,
    period.start,
    period.end,
    c.stratifier ?? 'total',
    c.stratum ?? '',
    def.unit[lang],
    denominator,
    numerator,
    hidden ? undefined : score(def, c, consortium, 'mean'),
    hidden || def.scoring !== 'continuous-variable' ? undefined : score(def, c, consortium, 'median'),
    unit,
    hidden ? undefined : def.scoring === 'ratio' ? c.numPatients : c.denPatients,
    hidden ? 'true' : 'false',
  ];
}

/** The indicators as one CSV table: a row per indicator, consortium and cell (totals, then strata). */
export function indicatorsCsv(results: IndicatorResult[], lang: Language): string {
  const lines = [COLUMNS.join(',')];
  for (const r of results) {
    lines.push(row(r, r.total, lang).map(field).join(','));
    for (const s of r.strata) for (const c of s.cells) lines.push(row(r, c, lang).map(field).join(','));
  }
  return lines.join('\r\n') + '\r\n';
}
