import { randomUUID } from 'node:crypto';
import type { Bundle } from 'fhir/r4.js';
import { grants, parseScopes } from '../auth/scopes.js';
import { badRequest, forbidden, notFound } from '../fhir/errors.js';
import type { RequestContext } from '../interactions/context.js';
import type { OperationCall, OperationDef } from '../interactions/operations.js';
import { RawText } from '../interactions/response.js';
import { arr, isObj, str } from '../rules/model.js';
import type { SqlExecutor } from '../store/database.js';
import type { ResourceStore } from '../store/resource-store.js';
import { indicatorsCsv } from './csv.js';
import { INDICATORS, indicatorById, type IndicatorDef } from './definitions.js';
import { parsePeriod, type Consortium, type IndicatorEngine } from './engine.js';
import { indicatorResult, measureReport, type IndicatorResult } from './report.js';

/**
 * Who may compute indicators: backend systems with a read scope on Measure (system/*.rs) and
 * administrators see every figure; evaluation tokens see them with small cells masked; other
 * users and patients: 403 (the figures span patients beyond their own care).
 */
export function indicatorAccess(ctx: RequestContext): { suppress: boolean } {
  const { principal } = ctx;
  const granted = grants(parseScopes(principal.scopes), 'Measure', 'r');
  if (!granted.length) throw forbidden('This token does not allow reading indicators: a scope such as system/Measure.rs or system/*.rs is needed');
  if (principal.roles.includes('admin')) return { suppress: false };
  if (principal.roles.includes('evaluation')) return { suppress: true };
  if (granted.some((g) => g.context === 'system') && principal.kind === 'system') return { suppress: false };
  throw forbidden('Indicators are for backend systems, evaluation teams and administrators: they count patients beyond the care of any one user');
}

/** Values of a parameter, from the query (repeated or comma-separated) or a Parameters body. */
function values(call: OperationCall, name: string): string[] {
  const out = call.params.filter(([k]) => k === name).flatMap(([, v]) => v.split(',').map((s) => s.trim()).filter(Boolean));
  if (isObj(call.body) && call.body.resourceType === 'Parameters') {
    for (const p of arr(call.body.parameter).filter(isObj)) {
      if (p.name !== name) continue;
      const v = str(p.valueDate) ?? str(p.valueString) ?? str(p.valueCode) ?? str(p.valueUri) ?? str(p.valueCanonical) ?? str(isObj(p.valueReference) ? p.valueReference.reference : undefined);
      if (v !== undefined) out.push(v);
    }
  }
  return out;
}

function single(call: OperationCall, name: string): string | undefined {
  const v = values(call, name);
  if (v.length > 1) throw badRequest(`${name} is given more than once`, name);
  return v[0];
}

const GENERAL = new Set(['_format', '_pretty']);

function checkParams(call: OperationCall, known: string[], operation: string): void {
  for (const [name] of call.params) {
    if (GENERAL.has(name) || known.includes(name)) continue;
    throw badRequest(`$${operation} does not take the parameter '${name}' (it takes ${known.join(', ')})`, name);
  }
}

/** An Organization reference (Organization/{id}, {id}, or an absolute URL on this server) to an id. */
function organizationId(value: string, ctx: RequestContext, name: string): string {
  let v = value;
  if (v.startsWith(`${ctx.baseUrl}/`)) v = v.slice(ctx.baseUrl.length + 1);
  const m = /^(?:Organization\/)?([A-Za-z0-9\-.]{1,64})$/.exec(v);
  if (!m) throw badRequest(`${name} must name a consortium as Organization/{id}, not '${value}'`, name);
  return m[1];
}

export interface IndicatorOperationDeps {
  engine: IndicatorEngine;
  store: ResourceStore;
}

/** The indicators of the consortia and period, as results (with suppression when the caller needs it). */
export async function evaluateIndicators(
  deps: IndicatorOperationDeps,
  exec: SqlExecutor,
  options: { indicators: IndicatorDef[]; consortiumIds?: string[]; periodStart?: string; periodEnd?: string; suppress: boolean },
): Promise<IndicatorResult[]> {
  const period = parsePeriod(options.periodStart, options.periodEnd);
  const all = await deps.engine.consortia(exec);
  let chosen: Consortium[];
  if (options.consortiumIds?.length) {
    chosen = options.consortiumIds.map((id) => {
      const c = all.find((x) => x.id === id);
      if (!c) throw notFound(`Organization/${id} is not a registered consortium (an Organization of type orgconsortium)`);
      return c;
    });
  } else {
    chosen = all.filter((c) => c.active);
  }
  const rows = await deps.engine.evaluate(exec, options.indicators, chosen, all, period);
  return chosen.flatMap((c) => options.indicators.map((def) => indicatorResult(def, c, period, rows, options.suppress)));
}

const wantsCsv = (ctx: RequestContext) => ctx.accept?.[0] === 'text/csv';

export function indicatorOperations(deps: IndicatorOperationDeps): OperationDef[] {
  const exec = (call: OperationCall): SqlExecutor => call.session?.exec ?? deps.store.db;

  const evaluateMeasure: OperationDef = {
    name: 'evaluate-measure',
    scopes: ['instance'],
    types: ['Measure'],
    idempotent: true,
    definition: 'http://hl7.org/fhir/OperationDefinition/Measure-evaluate-measure',
    documentation:
      'Computes an indicator for a consortium and period: periodStart, periodEnd and subject=Organization/{consortium}; a MeasureReport (type summary) with population counts, score and strata by age band and sex, or one CSV table with Accept: text/csv. Evaluation tokens get cells of fewer than 5 patients masked (docs/evaluation.md)',
    async handler(ctx, call) {
      const { suppress } = indicatorAccess(ctx);
      checkParams(call, ['periodStart', 'periodEnd', 'subject', 'reportType'], 'evaluate-measure');
      const def = indicatorById(call.id!);
      if (!def) throw notFound(`Measure/${call.id} is not known; the indicators are ${INDICATORS.map((i) => i.id).join(', ')}`);
      const reportType = single(call, 'reportType');
      if (reportType !== undefined && reportType !== 'population' && reportType !== 'summary') {
        throw badRequest(`reportType '${reportType}' is not supported: the indicators are population (summary) reports, never about one patient`, 'reportType');
      }
      const subject = single(call, 'subject');
      if (!subject) throw badRequest('subject is required: the consortium, as subject=Organization/{id}', 'subject');
      const results = await evaluateIndicators(deps, exec(call), {
        indicators: [def],
        consortiumIds: [organizationId(subject, ctx, 'subject')],
        periodStart: single(call, 'periodStart'),
        periodEnd: single(call, 'periodEnd'),
        suppress,
      });
      if (wantsCsv(ctx)) return { status: 200, headers: {}, body: new RawText(indicatorsCsv(results, ctx.lang), 'text/csv') };
      return { status: 200, headers: {}, body: measureReport(results[0], ctx.lang) };
    },
  };

  const indicators: OperationDef = {
    name: 'indicators',
    scopes: ['system'],
    idempotent: true,
    definition: 'https://fhir.integrated-care.be/OperationDefinition/indicators',
    documentation:
      'Every indicator (or measure=id,...) for a consortium (consortium=Organization/{id}; repeated, or none for every active consortium) and period (periodStart, periodEnd): a Bundle (collection) of MeasureReports, or one CSV table with Accept: text/csv',
    async handler(ctx, call) {
      const { suppress } = indicatorAccess(ctx);
      checkParams(call, ['consortium', 'periodStart', 'periodEnd', 'measure'], 'indicators');
      const ids = values(call, 'measure');
      const chosen = ids.length
        ? ids.map((id) => {
            const def = indicatorById(id.replace(/^Measure\//, ''));
            if (!def) throw badRequest(`measure '${id}' is not an indicator of this server (${INDICATORS.map((i) => i.id).join(', ')})`, 'measure');
            return def;
          })
        : INDICATORS;
      const results = await evaluateIndicators(deps, exec(call), {
        indicators: chosen,
        consortiumIds: values(call, 'consortium').map((v) => organizationId(v, ctx, 'consortium')),
        periodStart: single(call, 'periodStart'),
        periodEnd: single(call, 'periodEnd'),
        suppress,
      });
      if (wantsCsv(ctx)) return { status: 200, headers: {}, body: new RawText(indicatorsCsv(results, ctx.lang), 'text/csv') };
      const now = new Date();
      const bundle: Bundle = {
        resourceType: 'Bundle',
        type: 'collection',
        timestamp: now.toISOString(),
        total: results.length,
        entry: results.map((r) => ({ fullUrl: `urn:uuid:${randomUUID()}`, resource: measureReport(r, ctx.lang, now) })),
      } as Bundle;
      return { status: 200, headers: {}, body: bundle };
    },
  };

  return [evaluateMeasure, indicators];
}
