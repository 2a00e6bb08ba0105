import { randomUUID } from 'node:crypto';
import type { AuditEvent, AuditEventEntity } from 'fhir/r4.js';
import type { RequestContext } from '../interactions/context.js';
import type { ResourceStore } from '../store/resource-store.js';
import type { ExportJob } from './jobs.js';

export type ExportAuditAction = 'kick-off' | 'download' | 'cancel';

const ACTION: Record<ExportAuditAction, AuditEvent['action']> = { 'kick-off': 'E', download: 'R', cancel: 'D' };

/**
 * One AuditEvent per export job when it starts (with the query: level, types, _since, whether it is
 * pseudonymised), one per file downloaded and one when a job is cancelled. They are not split per
 * patient (an export may hold every patient): a patient reading their own audit trail does not see
 * the exports that included them; administrators search them by subtype.
 */
export async function auditExport(store: ResourceStore, ctx: RequestContext, job: ExportJob, action: ExportAuditAction, file?: string): Promise<void> {
  const { principal } = ctx;
  const entity: AuditEventEntity[] = [];
  if (job.groupId) {
    entity.push({
      what: { reference: `Group/${job.groupId}` },
      type: { system: 'http://terminology.hl7.org/CodeSystem/audit-entity-type', code: '2', display: 'System Object' },
      role: { system: 'http://terminology.hl7.org/CodeSystem/object-role', code: '4', display: 'Domain Resource' },
    });
  }
  const description = `${job.request} (job ${job.id}; ${job.pseudonymised ? 'pseudonymised' : 'identified'}; types ${job.types.join(',')}${job.since ? `; _since ${job.since.toISOString()}` : ''}${file ? `; file ${file}` : ''})`;
  entity.push({
    type: { system: 'http://terminology.hl7.org/CodeSystem/audit-entity-type', code: '2', display: 'System Object' },
    role: { system: 'http://terminology.hl7.org/CodeSystem/object-role', code: '24', display: 'Query' },
    description,
    query: Buffer.from(job.request).toString('base64'),
  });
  const event: AuditEvent = {
    resourceType: 'AuditEvent',
    id: randomUUID(),
    type: { system: 'http://dicom.nema.org/resources/ontology/DCM', code: '110106', display: 'Export' },
    subtype: [
      { system: 'http://hl7.org/fhir/restful-interaction', code: 'operation' },
      { system: 'https://fhir.integrated-care.be/bulk-export', code: action },
    ],
    action: ACTION[action],
    recorded: new Date().toISOString(),
    outcome: '0',
    agent: [
      {
        type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/extra-security-role-type', code: 'dataprocessor', display: 'data processor' }] },
        who: { identifier: { system: 'urn:icr:client', value: principal.clientId ?? principal.subject }, display: principal.clientId ?? principal.subject },
        altId: principal.subject,
        requestor: true,
        ...(ctx.sourceAddress ? { network: { address: ctx.sourceAddress, type: '2' as const } } : {}),
      },
    ],
    source: {
      observer: { display: 'integrated-care-record' },
      type: [{ system: 'http://terminology.hl7.org/CodeSystem/security-source-type', code: '4', display: 'Application Server' }],
    },
    entity,
  };
  await store.transaction((s) => s.insertMany([event as unknown as Record<string, unknown>]), { integrity: false });
}
