import { parseRelativeReference } from '../fhir/references.js';

/**
 * The consortium model (docs/rules.md): the consortium is an Organization of type
 * icr-hcparty#orgconsortium; each partner an OrganizationAffiliation (organization = the
 * consortium, participatingOrganization = the partner, code = the partner category, specialty =
 * the medical specialism); the region one icr-region-municipality extension per municipality
 * (a NIS code); the call for projects whose rules apply the icr-consortium-call extension.
 */
export const BASE = 'https://fhir.integrated-care.be';
export const REGION_EXTENSION = `${BASE}/StructureDefinition/icr-region-municipality`;
export const CALL_EXTENSION = `${BASE}/StructureDefinition/icr-consortium-call`;
/** Statbel REFNIS municipality codes; Coding.version 2020 or 2025 says which boundaries. */
export const NIS_SYSTEM = `${BASE}/CodeSystem/refnis`;
export const ICR_HCPARTY = `${BASE}/CodeSystem/icr-hcparty`;
export const CD_HCPARTY = 'https://www.ehealth.fgov.be/standards/fhir/core/CodeSystem/cd-hcparty';
export const CONSORTIUM_TYPE = { system: ICR_HCPARTY, code: 'orgconsortium' };

export type Obj = Record<string, unknown>;
export const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
export const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
export const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

/** `Type/id` of a Reference (relative, or absolute on this server's base), else undefined. */
export function refOf(v: unknown, localBase?: string): { type: string; id: string } | undefined {
  if (!isObj(v) || typeof v.reference !== 'string') return undefined;
  let reference = v.reference;
  if (localBase && reference.startsWith(localBase + '/')) reference = reference.slice(localBase.length + 1);
  // Fast path for the common Type/id (rules run on every care-team write); anything else is parsed fully.
  const slash = reference.indexOf('/');
  if (slash > 0 && reference.indexOf('/', slash + 1) === -1 && reference.length - slash - 1 <= 64 && SIMPLE_REF.test(reference)) {
    return { type: reference.slice(0, slash), id: reference.slice(slash + 1) };
  }
  const r = parseRelativeReference(reference);
  return r ? { type: r.type, id: r.id } : undefined;
}

const SIMPLE_REF = /^[A-Z][A-Za-z]+\/[A-Za-z0-9\-.]+$/;

/** `system|code` keys of a CodeableConcept (or of several). */
export function codingKeys(...concepts: unknown[]): string[] {
  const keys: string[] = [];
  for (const c of concepts) {
    for (const coding of arr(isObj(c) ? c.coding : undefined)) {
      if (isObj(coding) && typeof coding.system === 'string' && typeof coding.code === 'string') keys.push(`${coding.system}|${coding.code}`);
    }
  }
  return keys;
}

export function isConsortium(org: unknown): boolean {
  return isObj(org) && arr(org.type).some((t) => codingKeys(t).includes(`${CONSORTIUM_TYPE.system}|${CONSORTIUM_TYPE.code}`));
}

/** Today as YYYY-MM-DD (UTC), for period checks. */
export function today(): string {
  return new Date().toISOString().slice(0, 10);
}

/** Whether a Period covers the day (open ends count as covering; dates compared at day precision). */
export function periodCovers(period: unknown, day: string): boolean {
  if (!isObj(period)) return true;
  const start = str(period.start)?.slice(0, 10);
  const end = str(period.end)?.slice(0, 10);
  return (!start || start <= day) && (!end || end >= day);
}

/** Whether a Period has ended before the day. */
export function periodEnded(period: unknown, day: string): boolean {
  const end = isObj(period) ? str(period.end)?.slice(0, 10) : undefined;
  return !!end && end < day;
}

/** The call for projects a consortium names (url, optionally |version). */
export function callOf(org: Obj): string | undefined {
  for (const ext of arr(org.extension)) {
    if (isObj(ext) && ext.url === CALL_EXTENSION) return str(ext.valueUri) ?? str(ext.valueCanonical) ?? str(ext.valueUrl);
  }
  return undefined;
}

/** A name for people: Organization.name, else the reference's display, else the reference. */
export function orgLabel(org: Obj | undefined, reference?: unknown): string {
  if (org && typeof org.name === 'string') return org.name;
  if (isObj(reference) && typeof reference.display === 'string') return reference.display;
  if (isObj(reference) && typeof reference.reference === 'string') return reference.reference;
  return org?.id ? `Organization/${String(org.id)}` : '?';
}
