import type { RequestContext } from '../interactions/context.js';
import type { FhirService } from '../interactions/fhir-service.js';
import type { Logger } from '../logging.js';
import type { RulesEngine } from './index.js';

/**
 * The guidelines in profiles/ are published as PlanDefinition resources at start-up, so that
 * `GET /fhir/PlanDefinition/{id}` and searches find what `$apply` and `$gaps` use. A guideline
 * that is already there with the same content makes no new version; several replicas starting at
 * once are harmless (update-as-create is retried on a concurrent insert).
 */
export async function publishGuidelines(service: FhirService, rules: RulesEngine, ctx: RequestContext, logger: Logger): Promise<void> {
  for (const g of rules.guidelines) {
    const r = await service.dispatch(ctx, { method: 'PUT', path: `PlanDefinition/${g.id}`, query: [], rawQuery: '', body: g.resource });
    if (r.status === 201) logger.info({ guideline: g.canonical }, 'guideline published');
  }
}
