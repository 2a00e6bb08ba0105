import { randomUUID } from 'node:crypto';
import type { AuditEvent, AuditEventEntity } from 'fhir/r4.js';
import { patientCompartmentParams } from '../fhir/compartments.js';
import { RESOURCE_TYPES } from '../fhir/resource-types.js';
import type { RequestContext } from '../interactions/context.js';
import type { InteractionRequest } from '../interactions/dispatch.js';
import type { Logger } from '../logging.js';
import type { ResourceStore } from '../store/resource-store.js';

/** Types that hold no one's health data: reading them is not audited. */
const DIRECTORY_TYPES = new Set(['Practitioner', 'PractitionerRole', 'Organization', 'OrganizationAffiliation', 'PlanDefinition']);
const isPatientData = (type: string | undefined) => type !== undefined && (RESOURCE_TYPES as readonly string[]).includes(type) && !DIRECTORY_TYPES.has(type);

/** Most resource entities listed in one event (one event per patient concerned). */
const MAX_RESOURCE_ENTITIES = 50;

interface Pending {
  at: Date;
  ctx: RequestContext;
  interaction: string;
  action: 'C' | 'R' | 'U' | 'D' | 'E';
  type?: string;
  query?: string;
  status: number;
  resources: { type: string; id: string }[];
}

export interface AuditOptions {
  /** How long records wait to be written together; 0 writes each one before answering. */
  flushMs: number;
  logger: Logger;
}

function interactionOf(req: InteractionRequest): { interaction: string; action: Pending['action']; type?: string; id?: string } | undefined {
  const segments = req.path.split('/').filter(Boolean);
  const [type, second, third] = segments;
  const method = req.method === 'HEAD' ? 'GET' : req.method;
  // A transaction is audited as one event; batch entries are audited one by one.
  if (!type && method === 'POST') return { interaction: 'transaction', action: 'E' };
  if (!type || type === 'metadata' || type.startsWith('$')) return undefined;
  if (type === '_history') return { interaction: 'history-system', action: 'R' };
  if (second?.startsWith('$') || third?.startsWith('$')) return { interaction: 'operation', action: 'E', type, id: third ? second : undefined };
  if (second === '_history') return { interaction: 'history-type', action: 'R', type };
  if (second === '_search') return { interaction: 'search-type', action: 'R', type };
  if (third === '_history') return { interaction: segments.length === 4 ? 'vread' : 'history-instance', action: 'R', type, id: second };
  if (third && (RESOURCE_TYPES as readonly string[]).includes(third)) return { interaction: 'search-type', action: 'R', type: third };
  switch (method) {
    case 'GET':
      return second ? { interaction: 'read', action: 'R', type, id: second } : { interaction: 'search-type', action: 'R', type };
    case 'POST':
      return { interaction: 'create', action: 'C', type };
    case 'PUT':
      return { interaction: 'update', action: 'U', type, id: second };
    case 'PATCH':
      return { interaction: 'patch', action: 'U', type, id: second };
    case 'DELETE':
      return { interaction: 'delete', action: 'D', type, id: second };
  }
}

/**
 * An AuditEvent for every access to patient data: who (the token's fhirUser or client), which
 * patients, what (interaction, resources, query), the outcome and the source address. Events are
 * queued and written together every flushMs in one statement, so that auditing costs reads little;
 * shutdown writes what is queued. A crash can lose at most the last flushMs of records.
 */
export class AuditTrail {
  private queue: Pending[] = [];
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();

  constructor(
    private readonly store: ResourceStore,
    private readonly options: AuditOptions,
  ) {}

  async record(ctx: RequestContext, req: InteractionRequest, status: number, accessed: { type: string; id: string }[] = []): Promise<void> {
    const what = interactionOf(req);
    if (!what) return;
    const resources = accessed.filter((r) => isPatientData(r.type));
    if (!resources.length && what.id && what.type && isPatientData(what.type)) resources.push({ type: what.type, id: what.id });
    if (!resources.length && !isPatientData(what.type)) return;
    this.queue.push({
      at: new Date(),
      ctx,
      interaction: what.interaction,
      action: what.action,
      type: what.type,
      query: what.interaction.startsWith('search') || what.interaction.startsWith('history') ? req.rawQuery || undefined : undefined,
      status,
      resources,
    });
    if (this.options.flushMs === 0 || this.queue.length >= 500) await this.flush();
    else this.timer ??= setTimeout(() => void this.flush(), this.options.flushMs);
  }

  /** Writes everything queued (also called at shutdown). */
  flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const batch = this.queue;
    this.queue = [];
    if (!batch.length) return this.flushing;
    this.flushing = this.flushing.then(() =>
      this.write(batch).catch((err: unknown) => this.options.logger.error({ err, records: batch.length }, 'audit events could not be written')),
    );
    return this.flushing;
  }

  private async write(batch: Pending[]): Promise<void> {
    const patients = await this.patientsOf(batch.flatMap((p) => p.resources));
    const events = batch.flatMap((p) => this.events(p, patients));
    await this.store.transaction((s) => s.insertMany(events as unknown as Record<string, unknown>[]), { integrity: false });
  }

  /** The patient of each resource, from the search index (one query for the whole batch). */
  private async patientsOf(resources: { type: string; id: string }[]): Promise<Map<string, Set<string>>> {
    const result = new Map<string, Set<string>>();
    const add = (key: string, patient: string) => result.set(key, (result.get(key) ?? new Set()).add(patient));
    const others = resources.filter((r) => r.type !== 'Patient');
    for (const r of resources) if (r.type === 'Patient') add(`Patient/${r.id}`, r.id);
    if (!others.length) return result;
    const pairs = [...new Set(others.map((r) => r.type))].flatMap((t) => patientCompartmentParams(t).map((p) => `${t}|${p}`));
    const { rows } = await this.store.db.query<{ res_type: string; res_id: string; target_id: string }>(
      `SELECT DISTINCT res_type, res_id, target_id FROM idx_reference
       WHERE (res_type, res_id) IN (SELECT * FROM unnest($1::text[], $2::text[])) AND target_type = 'Patient'
         AND res_type || '|' || param = ANY($3::text[])`,
      [others.map((r) => r.type), others.map((r) => r.id), pairs],
    );
    for (const row of rows) add(`${row.res_type}/${row.res_id}`, row.target_id);
    return result;
  }

  /**
   * One event per patient concerned, naming only that patient and their resources: a patient who
   * reads the events about their record must not learn who else a search touched.
   */
  private events(p: Pending, patientsOf: Map<string, Set<string>>): AuditEvent[] {
    const byPatient = new Map<string | undefined, { type: string; id: string }[]>();
    for (const r of p.resources) {
      const patients = patientsOf.get(`${r.type}/${r.id}`);
      for (const patient of patients?.size ? patients : [undefined]) byPatient.set(patient, [...(byPatient.get(patient) ?? []), r]);
    }
    if (!byPatient.size) byPatient.set(undefined, []);
    return [...byPatient].map(([patient, resources]) => this.event(p, patient, resources));
  }

  private event(p: Pending, patient: string | undefined, resources: { type: string; id: string }[]): AuditEvent {
    const { principal } = p.ctx;
    const entity: AuditEventEntity[] = patient
      ? [
          {
            what: { reference: `Patient/${patient}` },
            type: { system: 'http://terminology.hl7.org/CodeSystem/audit-entity-type', code: '1', display: 'Person' },
            role: { system: 'http://terminology.hl7.org/CodeSystem/object-role', code: '1', display: 'Patient' },
          },
        ]
      : [];
    for (const r of resources.filter((x) => x.type !== 'Patient').slice(0, MAX_RESOURCE_ENTITIES)) {
      entity.push({
        what: { reference: `${r.type}/${r.id}` },
        type: { system: 'http://terminology.hl7.org/CodeSystem/audit-entity-type', code: '2', display: 'System Object' },
        role: { system: 'http://terminology.hl7.org/CodeSystem/object-role', code: '4', display: 'Domain Resource' },
      });
    }
    if (p.query !== undefined) {
      entity.push({
        type: { system: 'http://terminology.hl7.org/CodeSystem/audit-entity-type', code: '2', display: 'System Object' },
        role: { system: 'http://terminology.hl7.org/CodeSystem/object-role', code: '24', display: 'Query' },
        description: `${p.type ?? ''}?${p.query}`,
        query: Buffer.from(`${p.type ?? ''}?${p.query}`).toString('base64'),
      });
    }
    const outcome = p.status < 400 ? '0' : p.status < 500 ? '4' : '8';
    return {
      resourceType: 'AuditEvent',
      id: randomUUID(),
      type: { system: 'http://terminology.hl7.org/CodeSystem/audit-event-type', code: 'rest', display: 'RESTful Operation' },
      subtype: [{ system: 'http://hl7.org/fhir/restful-interaction', code: p.interaction }],
      action: p.action,
      recorded: p.at.toISOString(),
      outcome,
      ...(outcome !== '0' ? { outcomeDesc: `HTTP ${p.status}` } : {}),
      agent: [
        {
          type: {
            coding: [
              principal.fhirUser
                ? { system: 'http://terminology.hl7.org/CodeSystem/extra-security-role-type', code: 'humanuser', display: 'human user' }
                : { system: 'http://terminology.hl7.org/CodeSystem/extra-security-role-type', code: 'dataprocessor', display: 'data processor' },
            ],
          },
          ...(principal.fhirUser
            ? { who: { reference: principal.fhirUser } }
            : { who: { identifier: { system: 'urn:icr:client', value: principal.clientId ?? principal.subject }, display: principal.clientId ?? principal.subject } }),
          altId: principal.subject,
          requestor: true,
          ...(p.ctx.sourceAddress ? { network: { address: p.ctx.sourceAddress, type: '2' as const } } : {}),
        },
      ],
      source: {
        observer: { display: 'integrated-care-record' },
        type: [{ system: 'http://terminology.hl7.org/CodeSystem/security-source-type', code: '4', display: 'Application Server' }],
      },
      entity,
    };
  }

  async close(): Promise<void> {
    await this.flush();
  }
}
