import type { FhirResource, Parameters, ParametersParameter } from 'fhir/r4.js';
import { badRequest, forbidden, issue, operationOutcome } from '../fhir/errors.js';
import { isResourceType } from '../fhir/resource-types.js';
import type { RequestContext } from '../interactions/context.js';
import type { OperationCall, OperationDef } from '../interactions/operations.js';
import type { FhirResponse } from '../interactions/response.js';
import type { Obj } from './content.js';
import type { SyncContext } from './index.js';
import { RESOLVE_ACTIONS, resolveConflict, type ResolveAction } from './resolve.js';

/**
 * The system-level operations of the sync:
 * - GET  $sync-status     the figures (pending, oldest pending age, parked, conflicts, last push and pull, reachability)
 * - GET  $sync-conflicts  every conflict with both versions
 * - GET  $sync-parked     changes refused upstream, and upstream versions refused here
 * - POST $sync-resolve    ends a conflict: keep-local, take-upstream, merge (or retry a parked change)
 */
const DEFINITION_BASE = 'https://fhir.integrated-care.be/OperationDefinition';

const instant = (d: Date | undefined) => d?.toISOString();

function param(name: string, value: Partial<ParametersParameter>): ParametersParameter {
  return { name, ...value };
}

const parameters = (parameter: ParametersParameter[]): Parameters => ({ resourceType: 'Parameters', parameter });

function asResource(json: string | null | undefined): FhirResource | undefined {
  return json ? (JSON.parse(json) as FhirResource) : undefined;
}

/** The parameters that are present (optional ones are written as `condition && param(...)`). */
function drop(items: (ParametersParameter | undefined | null | false | '')[]): ParametersParameter[] {
  return items.filter((p): p is ParametersParameter => Boolean(p));
}

/**
 * Conflicts and parked changes show whole resources of any patient: only a system client or an
 * administrator may see or resolve them.
 */
async function checkAdmin(sync: SyncContext, ctx: RequestContext, name: string): Promise<void> {
  await sync.service.deps.policy.checkInteraction(ctx, 'operation', undefined);
  if (ctx.principal.kind !== 'system' && !ctx.principal.roles.includes('admin')) {
    throw forbidden(`$${name} shows and changes records of every patient: it needs a system client or the admin role`);
  }
}

function countParam(call: OperationCall): number {
  const raw = call.params.find(([k]) => k === '_count')?.[1];
  if (raw === undefined) return 100;
  if (!/^\d+$/.test(raw) || Number(raw) < 1) throw badRequest(`_count must be a positive whole number, not '${raw}'`, '_count');
  return Math.min(Number(raw), 1000);
}

function json(body: object): FhirResponse {
  return { status: 200, headers: {}, body };
}

export function registerSyncOperations(sync: SyncContext): void {
  const ops: OperationDef[] = [
    {
      name: 'sync-status',
      scopes: ['system'],
      idempotent: true,
      definition: `${DEFINITION_BASE}/sync-status`,
      documentation: 'Sync with the upstream FHIR server: changes pending, age of the oldest, parked, conflicts, last push and pull, whether the upstream is reachable',
      async handler(ctx) {
        await sync.service.deps.policy.checkInteraction(ctx, 'operation', undefined);
        const s = await sync.syncStore.status();
        return json(
          parameters(
            drop([
              param('upstream', { valueUrl: sync.config.upstreamFhirUrl }),
              param('pending', { valueInteger: s.pending }),
              param('oldestPendingAgeSeconds', { valueDecimal: Math.round(s.oldestPendingAgeSeconds * 1000) / 1000 }),
              param('parked', { valueInteger: s.parked }),
              param('conflicts', { valueInteger: s.conflicts }),
              param('rejected', { valueInteger: s.rejected }),
              s.lastPushAt && param('lastPush', { valueInstant: instant(s.lastPushAt) }),
              s.lastPullAt && param('lastPull', { valueInstant: instant(s.lastPullAt) }),
              param('upstreamReachable', { valueBoolean: s.reachable === true }),
              s.lastContactAt && param('lastContact', { valueInstant: instant(s.lastContactAt) }),
              s.lastError && param('lastError', { valueString: s.lastError }),
              s.lastErrorAt && param('lastErrorAt', { valueInstant: instant(s.lastErrorAt) }),
            ]),
          ),
        );
      },
    },
    {
      name: 'sync-conflicts',
      scopes: ['system'],
      idempotent: true,
      definition: `${DEFINITION_BASE}/sync-conflicts`,
      documentation: 'Resources changed both here (not yet pushed) and upstream: both versions, for $sync-resolve',
      async handler(ctx, call) {
        await checkAdmin(sync, ctx, 'sync-conflicts');
        const rows = await sync.syncStore.conflicts(sync.db, countParam(call));
        return json(
          parameters([
            param('total', { valueInteger: (await sync.syncStore.status()).conflicts }),
            ...rows.map((c) =>
              param('conflict', {
                part: drop([
                  param('target', { valueReference: { reference: `${c.type}/${c.id}` } }),
                  param('detectedBy', { valueCode: c.detectedBy }),
                  param('detected', { valueInstant: instant(c.detectedAt) }),
                  c.local && param('localVersion', { valueString: String(c.local.version) }),
                  param('localDeleted', { valueBoolean: !c.local || c.local.deleted }),
                  c.local?.json && param('local', { resource: asResource(c.local.json) }),
                  c.upstream.version !== undefined && param('upstreamVersion', { valueString: c.upstream.version }),
                  c.upstream.lastUpdated && param('upstreamLastUpdated', { valueInstant: instant(c.upstream.lastUpdated) }),
                  param('upstreamDeleted', { valueBoolean: c.upstream.deleted }),
                  c.upstream.json && param('upstream', { resource: asResource(c.upstream.json) }),
                ]),
              }),
            ),
          ]),
        );
      },
    },
    {
      name: 'sync-parked',
      scopes: ['system'],
      idempotent: true,
      definition: `${DEFINITION_BASE}/sync-parked`,
      documentation: 'Local changes the upstream refused (with its OperationOutcome), and upstream versions that failed validation here',
      async handler(ctx, call) {
        await checkAdmin(sync, ctx, 'sync-parked');
        const limit = countParam(call);
        const [parked, rejected] = await Promise.all([sync.syncStore.parked(limit), sync.syncStore.rejected(limit)]);
        return json(
          parameters([
            ...parked.map((p) =>
              param('parked', {
                part: drop([
                  param('target', { valueReference: { reference: `${p.type}/${p.id}` } }),
                  param('localVersion', { valueString: String(p.localVersion) }),
                  param('since', { valueInstant: instant(p.since) }),
                  p.message && param('message', { valueString: p.message }),
                  p.outcome && param('outcome', { resource: p.outcome }),
                ]),
              }),
            ),
            ...rejected.map((r) =>
              param('rejected', {
                part: drop([
                  param('target', { valueReference: { reference: `${r.type}/${r.id}` } }),
                  param('upstreamVersion', { valueString: r.version }),
                  r.upstreamUpdated && param('upstreamLastUpdated', { valueInstant: instant(r.upstreamUpdated) }),
                  param('received', { valueInstant: instant(r.receivedAt) }),
                  param('outcome', { resource: r.outcome }),
                  r.json && param('upstream', { resource: asResource(r.json) }),
                ]),
              }),
            ),
          ]),
        );
      },
    },
    {
      name: 'sync-resolve',
      scopes: ['system'],
      idempotent: false,
      definition: `${DEFINITION_BASE}/sync-resolve`,
      documentation: 'Ends a sync conflict: action keep-local, take-upstream or merge (with the merged resource); retry sends a parked change again',
      async handler(ctx, call) {
        await checkAdmin(sync, ctx, 'sync-resolve');
        const body = call.body as Obj | undefined;
        if (!body || body.resourceType !== 'Parameters') throw badRequest('$sync-resolve takes a Parameters resource (target, action, and resource for merge)');
        const params = ((body as unknown as Parameters).parameter ?? []) as ParametersParameter[];
        const get = (name: string) => params.find((p) => p.name === name);
        const target = get('target')?.valueReference?.reference ?? get('target')?.valueString;
        const action = (get('action')?.valueCode ?? get('action')?.valueString) as ResolveAction | undefined;
        if (!action || !RESOLVE_ACTIONS.includes(action)) throw badRequest(`action must be one of ${RESOLVE_ACTIONS.join(', ')}`, 'action');
        const m = target === '*' && action === 'retry' ? ['*', '*', '*'] : target ? /^([A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})$/.exec(target) : null;
        if (!m || (m[1] !== '*' && !isResourceType(m[1]))) {
          throw badRequest(`target must name a resource of this server as Type/id (or '*' with action retry)${target ? `, not '${target}'` : ''}`, 'target');
        }
        const result = await resolveConflict(sync, ctx, {
          type: m[1],
          id: m[2],
          action,
          merged: get('resource')?.resource as Obj | undefined,
          upstreamVersion: get('upstreamVersion')?.valueString,
        });
        const outcome = operationOutcome([issue('information', 'informational', result.message)]);
        return json(outcome);
      },
    },
  ];
  for (const op of ops) sync.service.operations.register(op);
}
