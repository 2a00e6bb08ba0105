import { grants, parseScopes } from '../auth/scopes.js';
import { badRequest, FhirError, forbidden, issue, notFound, operationOutcome } from '../fhir/errors.js';
import { patientCompartmentParams } from '../fhir/compartments.js';
import { isResourceType, RESOURCE_TYPES } from '../fhir/resource-types.js';
import type { RequestContext } from '../interactions/context.js';
import type { OperationCall, OperationDef } from '../interactions/operations.js';
import { RawText, type FhirResponse } from '../interactions/response.js';
import { parseDateRange } from '../search/date-range.js';
import type { ResourceStore } from '../store/resource-store.js';
import { auditExport } from './audit.js';
import type { ExportJob } from './jobs.js';
import { DIRECTORY_TYPES, type ExportWorker } from './worker.js';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

const OUTPUT_FORMATS = new Set(['application/fhir+ndjson', 'application/ndjson', 'ndjson']);
/** Kick-off parameters of the Bulk Data Access IG that this server does not implement. */
const UNSUPPORTED = new Set(['_elements', '_typeFilter', 'patient', 'includeAssociatedData', '_until', 'organizeOutputBy', 'allowPartialManifests']);
const GENERAL = new Set(['_format', '_pretty']);

export const isEvaluation = (ctx: RequestContext) => ctx.principal.roles.includes('evaluation') && !ctx.principal.roles.includes('admin');

/** Who a job belongs to: the token's client (or subject); only that client may poll and download. */
export const clientOf = (ctx: RequestContext) => (ctx.principal.clientId ? `client:${ctx.principal.clientId}` : `sub:${ctx.principal.subject}`);

/** The parameters of a kick-off, from the query or a Parameters body (POST). */
function kickOffParams(call: OperationCall): [string, string][] {
  const out: [string, string][] = [...call.params];
  if (isObj(call.body)) {
    if (call.body.resourceType !== 'Parameters') throw badRequest('POST $export takes a Parameters resource (or no body)');
    for (const p of Array.isArray(call.body.parameter) ? call.body.parameter.filter(isObj) : []) {
      const name = typeof p.name === 'string' ? p.name : '';
      const value = [p.valueString, p.valueInstant, p.valueDateTime, p.valueCode, p.valueUri, isObj(p.valueReference) ? p.valueReference.reference : undefined].find((v) => typeof v === 'string');
      out.push([name, typeof value === 'string' ? value : '']);
    }
  }
  return out;
}

/** Types a level exports by default: everything (system), or the patient compartment and what it refers to. */
function defaultTypes(level: ExportJob['level'], evaluation: boolean): string[] {
  const all = RESOURCE_TYPES.filter((t) => !(evaluation && t === 'AuditEvent')) as string[];
  if (level === 'system') return all;
  return all.filter((t) => t !== 'Group' && (t === 'Patient' || patientCompartmentParams(t).length > 0 || DIRECTORY_TYPES.includes(t)));
}

export interface ExportOperationDeps {
  store: ResourceStore;
  worker: ExportWorker;
  retentionHours: number;
}

const statusUrl = (ctx: RequestContext, id: string) => `${ctx.baseUrl}/$export-poll-status?_jobId=${encodeURIComponent(id)}`;

function jobIdOf(call: OperationCall): string {
  const id = call.params.find(([k]) => k === '_jobId')?.[1];
  if (!id || !/^[0-9a-f-]{36}$/.test(id)) throw badRequest('_jobId is required: the id from the Content-Location of the kick-off', '_jobId');
  return id;
}

/** The progress header: "42% (42,000 of 100,000 resources)". */
export function progressText(job: ExportJob): string {
  if (job.status === 'queued') return 'queued';
  if (job.total === null) return 'preparing';
  const pct = job.total ? Math.min(99, Math.floor((job.done * 100) / job.total)) : 0;
  return `${pct}% (${job.done.toLocaleString('en-US')} of ${job.total.toLocaleString('en-US')} resources)`;
}

export function exportOperations(deps: ExportOperationDeps): OperationDef[] {
  const { store, worker } = deps;
  const jobs = worker.jobs;

  /** The job if the caller may see it (same client; an evaluation token only pseudonymised jobs), else 404. */
  async function visibleJob(ctx: RequestContext, id: string): Promise<ExportJob> {
    const job = await jobs.get(id);
    if (!job || job.client !== clientOf(ctx) || (isEvaluation(ctx) && !job.pseudonymised)) {
      throw notFound(`There is no export job ${id} for this client (it may have been cancelled or expired)`);
    }
    return job;
  }

  const kickOff: OperationDef = {
    name: 'export',
    scopes: ['system', 'type', 'instance'],
    types: ['Patient', 'Group'],
    idempotent: true,
    definition: 'http://hl7.org/fhir/uv/bulkdata/OperationDefinition/export',
    documentation:
      'FHIR Bulk Data export (v2), asynchronous (Prefer: respond-async): [base]/$export, Patient/$export, Group/{id}/$export with _type, _since, _outputFormat=application/fhir+ndjson. Backend systems get the data as stored; evaluation tokens always get it pseudonymised (docs/evaluation.md)',
    async handler(ctx, call) {
      let level: ExportJob['level'];
      if (!call.type) level = 'system';
      else if (call.type === 'Patient' && !call.id) level = 'patient';
      else if (call.type === 'Group' && call.id) level = 'group';
      else throw notFound(`$export is supported at [base]/$export, [base]/Patient/$export and [base]/Group/{id}/$export, not on ${call.type}${call.id ? ' instances' : ''}`);
      if (!ctx.prefer.respondAsync) throw badRequest('$export runs asynchronously: send the header Prefer: respond-async (Bulk Data Access IG)');
      const { principal } = ctx;
      const evaluation = isEvaluation(ctx);
      if (!evaluation && principal.kind !== 'system') {
        throw forbidden('Bulk export is for backend systems (system/ scopes) and evaluation teams; user and patient tokens cannot start one');
      }
      const lenient = ctx.prefer.handling === 'lenient';
      const ignored: string[] = [];
      let types: string[] | undefined;
      let since: Date | undefined;
      for (const [name, value] of kickOffParams(call)) {
        if (GENERAL.has(name)) continue;
        if (name === '_outputFormat') {
          if (!OUTPUT_FORMATS.has(value)) throw badRequest(`_outputFormat ${value} is not supported: this server writes application/fhir+ndjson`, '_outputFormat');
        } else if (name === '_type') {
          for (const t of value.split(',').map((s) => s.trim()).filter(Boolean)) {
            if (!isResourceType(t)) {
              if (lenient) {
                ignored.push(`_type ${t}`);
                continue;
              }
              throw badRequest(`_type ${t} is not a type this server holds (${RESOURCE_TYPES.join(', ')})`, '_type');
            }
            types ??= [];
            if (!types.includes(t)) types.push(t);
          }
        } else if (name === '_since') {
          const r = parseDateRange(value);
          if (!r || !/T/.test(value)) throw badRequest(`_since must be an instant such as 2024-01-01T00:00:00Z, not '${value}'`, '_since');
          since = r.lo;
        } else if (UNSUPPORTED.has(name) || !lenient) {
          if (lenient) {
            ignored.push(name);
            continue;
          }
          throw badRequest(
            UNSUPPORTED.has(name)
              ? `The $export parameter ${name} is not supported by this server (send Prefer: handling=lenient to have it ignored)`
              : `$export does not take the parameter '${name}' (it takes _type, _since, _outputFormat)`,
            name,
          );
        } else {
          ignored.push(name);
        }
      }
      if (types && evaluation && types.includes('AuditEvent')) throw forbidden('Audit events are not exported to evaluation tokens');
      const chosen = types?.length ? types : defaultTypes(level, evaluation);
      const missing = chosen.filter((t) => !grants(parseScopes(principal.scopes), t, 'r').some((g) => g.context === 'system'));
      if (missing.length) throw forbidden(`This token does not allow reading ${missing.join(', ')}: a scope such as system/*.rs is needed for a bulk export`);
      if (level === 'group') {
        const { rows } = await store.db.query("SELECT 1 FROM resource WHERE res_type = 'Group' AND id = $1 AND NOT deleted", [call.id]);
        if (!rows.length) throw notFound(`Group/${call.id} is not known`);
      }
      const query = new URLSearchParams(call.params).toString();
      const path = level === 'system' ? '$export' : level === 'patient' ? 'Patient/$export' : `Group/${call.id}/$export`;
      const job = await jobs.create({
        client: clientOf(ctx),
        pseudonymised: evaluation,
        level,
        groupId: level === 'group' ? call.id : undefined,
        types: chosen,
        since,
        request: `${ctx.baseUrl}/${path}${query ? `?${query}` : ''}`,
        baseUrl: ctx.baseUrl,
      });
      await auditExport(store, ctx, job, 'kick-off');
      worker.wake();
      const notes = [issue('information', 'informational', `Export ${job.id} accepted${evaluation ? ' (pseudonymised)' : ''}: poll ${statusUrl(ctx, job.id)}`)];
      if (ignored.length) notes.push(issue('warning', 'not-supported', `Ignored (Prefer: handling=lenient): ${ignored.join(', ')}`));
      return { status: 202, headers: { 'Content-Location': statusUrl(ctx, job.id) }, body: operationOutcome(notes) };
    },
  };

  const pollStatus: OperationDef = {
    name: 'export-poll-status',
    scopes: ['system'],
    idempotent: true,
    methods: ['GET', 'DELETE'],
    definition: 'https://fhir.integrated-care.be/OperationDefinition/export-poll-status',
    documentation: 'The status URL of a bulk export (?_jobId=): 202 with X-Progress while it runs, 200 with the manifest when complete; DELETE cancels it and removes its files',
    async handler(ctx, call): Promise<FhirResponse> {
      const job = await visibleJob(ctx, jobIdOf(call));
      if (call.method === 'DELETE') {
        await jobs.delete(job.id);
        await auditExport(store, ctx, job, 'cancel');
        return { status: 202, headers: {}, body: operationOutcome([issue('information', 'informational', `Export ${job.id} cancelled; its files are deleted`)]) };
      }
      switch (job.status) {
        case 'queued':
        case 'running': {
          // A worker that died leaves its lease to expire: this replica takes the job over.
          if (job.status === 'queued' || (job.leaseUntil && job.leaseUntil.getTime() < Date.now())) worker.wake();
          const remaining = job.total ? Math.max(0, job.total - job.done) : 0;
          return { status: 202, headers: { 'X-Progress': progressText(job), 'Retry-After': String(Math.min(10, Math.max(1, Math.ceil(remaining / 20000)))) } };
        }
        case 'failed':
          throw new FhirError(500, operationOutcome([issue('error', 'exception', job.error ?? 'The export failed')]));
        case 'completed': {
          const expires = new Date((job.completedAt ?? new Date()).getTime() + deps.retentionHours * 3600_000);
          return { status: 200, headers: { Expires: expires.toUTCString() }, body: new RawText(job.manifest ?? '{}', 'application/json') };
        }
      }
    },
  };

  const file: OperationDef = {
    name: 'export-file',
    scopes: ['system'],
    idempotent: true,
    methods: ['GET'],
    definition: 'https://fhir.integrated-care.be/OperationDefinition/export-file',
    documentation: 'An NDJSON file of a completed bulk export (?_jobId=&_file=), for the client that started it',
    async handler(ctx, call) {
      const job = await visibleJob(ctx, jobIdOf(call));
      const name = call.params.find(([k]) => k === '_file')?.[1] ?? '';
      if (job.status !== 'completed') throw notFound(`Export ${job.id} is not complete yet`);
      const content = /^[A-Za-z]+\.\d+\.ndjson$/.test(name) ? await jobs.fileContent(job.id, name) : undefined;
      if (content === undefined) throw notFound(`Export ${job.id} has no file '${name}'`);
      await auditExport(store, ctx, job, 'download', name);
      return { status: 200, headers: { 'Cache-Control': 'no-store' }, body: new RawText(content, 'application/fhir+ndjson') };
    },
  };

  return [kickOff, pollStatus, file];
}
